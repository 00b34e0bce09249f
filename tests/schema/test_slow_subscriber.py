"""A subscriber that falls too far behind is closed with a clear code instead of growing memory."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from websockets.exceptions import ConnectionClosed

from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import sign_up
from tests.live import LiveClient

NEEDS_NEARBY = "subscription { needsNearby(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 5000) { cursor } }"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The stream's own queue limit: the live batch would write a burst to a reading client directly
    # (it queues only for a socket paused by flow control, which 20 small events do not reach).
    return Settings(database_url=database_url, password_hash_profile="CHEAPEST", subscriber_queue_limit=3, live_batch=False)


def test_a_burst_beyond_the_queue_limit_closes_the_subscriber_with_4008(
    api: Api, live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    sign_up(api)
    owner = db.execute("SELECT id FROM accounts").fetchone()[0]  # type: ignore[index]
    with LiveClient(live_server.url) as client:
        client.subscribe(NEEDS_NEARBY)
        client.nothing_within(0.3)
        # Twenty needs committed at once reach the listener as one batch: far more than 3 queued events.
        with db.transaction():
            for i in range(20):
                need_id = db.execute(
                    "INSERT INTO needs (owner_id, category, title, quantity, unit, urgency, location, contact_phone, expires_at) "
                    "VALUES (%s, 'FOOD', %s, 1, 'kg', 'NORMAL', 'SRID=4326;POINT(105.8542 21.0285)', '+84900000000', "
                    "now() + interval '1 day') RETURNING id",
                    (owner, f"burst {i}"),
                ).fetchone()[0]  # type: ignore[index]
                db.execute(
                    "INSERT INTO events (kind, need_id, category, status, location) SELECT 'NEED_CREATED', id, category, "
                    "status, location FROM needs WHERE id = %s",
                    (need_id,),
                )
            db.execute("NOTIFY aidmap_events")
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(25):
                client.next(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    assert "last cursor" in closed.value.rcvd.reason
