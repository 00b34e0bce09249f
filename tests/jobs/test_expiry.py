"""Expiry: open needs past their time become EXPIRED; a day before, "still need help?"; renewNeed answers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

from aidmap.app import create_app
from aidmap.db.engine import make_sessionmaker
from aidmap.jobs.expiry import expire_due, prompt_expiring
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import create_need, pledge, sign_up
from tests.live import LiveClient

RENEW = """mutation ($input: RenewNeedInput!) { renewNeed(input: $input) { need { status expiresAt } errors { field code } } }"""
MY_ACTIVITY = "subscription { myActivity { kind need { title status } } }"


def _run(database_url: str, job: Any) -> int:
    async def go() -> int:
        engine = create_async_engine(database_url)
        try:
            result: int = await job(sessions=make_sessionmaker(engine))
            return result
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_due_needs_expire_with_an_event_and_pledged_ones_wait(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    requester, donor = sign_up(api), sign_up(api)
    open_need = create_need(api, requester, title="open")
    fully = create_need(api, requester, title="fully pledged", quantity=1)
    later = create_need(api, requester, title="later")
    pledge(api, donor, fully["id"], 1)
    db.execute("UPDATE needs SET expires_at = now() - interval '1 minute' WHERE title IN ('open', 'fully pledged')")

    assert _run(database_url, expire_due) == 1
    assert _run(database_url, expire_due) == 0

    statuses = dict(db.execute("SELECT title, status FROM needs").fetchall())
    assert statuses == {"open": "EXPIRED", "fully pledged": "PLEDGED", "later": "OPEN"}
    assert db.execute("SELECT kind, status FROM events WHERE kind = 'NEED_EXPIRED'").fetchall() == [
        ("NEED_EXPIRED", "EXPIRED")
    ]
    assert open_need["id"] != later["id"]


def test_prompt_once_a_day_before_then_renew_reopens(
    api: Api, live_server: LiveServer, database_url: str, db: psycopg.Connection[Any]
) -> None:
    requester, stranger = sign_up(api), sign_up(api)
    need = create_need(api, requester, title="thuốc")
    db.execute("UPDATE needs SET expires_at = now() + interval '2 hours'")

    with LiveClient(live_server.url, requester) as client:
        client.subscribe(MY_ACTIVITY)
        client.nothing_within(0.3)
        assert _run(database_url, prompt_expiring) == 1
        assert _run(database_url, prompt_expiring) == 0  # asked once, not every run
        prompt = client.next()["data"]["myActivity"]
        db.execute("UPDATE needs SET expires_at = now() - interval '1 second'")
        _run(database_url, expire_due)
        expired = client.next()["data"]["myActivity"]

        foreign = api.data(RENEW, {"input": {"needId": need["id"]}}, stranger)["renewNeed"]
        renewed = api.data(RENEW, {"input": {"needId": need["id"]}}, requester)["renewNeed"]
        past = api.data(RENEW, {"input": {"needId": need["id"], "expiresAt": "2001-01-01T00:00:00Z"}}, requester)[
            "renewNeed"
        ]
        renewed_event = client.next()["data"]["myActivity"]

    assert prompt == {"kind": "NEED_EXPIRING", "need": {"title": "thuốc", "status": "OPEN"}}
    assert expired["kind"] == "NEED_EXPIRED"
    assert foreign["errors"] == [{"field": "needId", "code": "NOT_FOUND"}]
    assert renewed["errors"] == [] and renewed["need"]["status"] == "OPEN"
    assert past["errors"] == [{"field": "expiresAt", "code": "OUT_OF_RANGE"}]
    assert renewed_event["kind"] == "NEED_RENEWED"
    assert db.execute("SELECT expiry_prompted_at FROM needs").fetchone() == (None,)


def test_the_background_job_runs_in_the_service(api: Api, database_url: str, db: psycopg.Connection[Any]) -> None:
    requester = sign_up(api)
    create_need(api, requester, title="soon gone")
    db.execute("UPDATE needs SET expires_at = now() - interval '1 second'")

    # A service of its own with a short interval: the job acts with nobody calling it.
    settings = Settings(database_url=database_url, expiry_interval_seconds=0.1)
    with TestClient(create_app(settings, database_url=database_url)):
        deadline = time.monotonic() + 10
        while db.execute("SELECT status FROM needs").fetchone() != ("EXPIRED",):
            assert time.monotonic() < deadline, "the expiry job did not run"
            time.sleep(0.1)
