"""A search that takes the database too long is cancelled by PostgreSQL itself and answered with a
typed error, tried as a client whose search cannot finish would: the statement is made to wait on a
lock the test holds, which a search with filters that match nothing stands for (its nearest-first
walk reads the whole index: 28-41 ms on 100,000 needs, growing with the table)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from aidmap.db.reader import TOO_SLOW_FOR_S
from tests.conftest import Api

SEARCH = "query ($lat: Float!) { needs(near: {lat: $lat, lon: 105.8542}, radiusMeters: 2000, first: 5) { edges { node { id } } } }"
BOUND_MS = 300


@contextmanager
def _needs_locked(database_url: str) -> Iterator[Callable[[], None]]:
    """The needs table locked by another transaction (released at the latest after 20 s, so a missing
    bound fails the test instead of hanging it); yields a function that releases it now."""
    conn = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"))
    conn.execute("LOCK TABLE needs IN ACCESS EXCLUSIVE MODE")
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            conn.rollback()
            conn.close()

    timer = threading.Timer(20, release)
    timer.start()
    try:
        yield release
    finally:
        timer.cancel()
        release()


def _edges(api: Api, lat: float) -> list[object]:
    edges: list[object] = api.post(SEARCH, {"lat": lat})["data"]["needs"]["edges"]
    return edges


def test_a_search_past_the_bound_gets_a_typed_error_and_the_pool_recovers(
    make_api: Callable[..., Api], database_url: str
) -> None:
    api = make_api(read_statement_timeout_ms=BOUND_MS)
    assert _edges(api, 21.0285) == []  # the pool is warm
    with _needs_locked(database_url) as release:
        started = time.monotonic()
        body = api.post(SEARCH, {"lat": 21.03})
        waited = time.monotonic() - started
        release()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "field": "radiusMeters"}
    assert error["message"] == "This search takes the database too long: ask for a smaller radius or fewer filters."
    assert waited < 15, "cancelled by the bound, not by the lock's release"
    # The connections the cancelled statements ran on answer other searches.
    for lat in (21.01, 21.02, 21.04, 21.05):
        assert _edges(api, lat) == []


def test_one_slow_search_aliased_is_bounded_and_then_refused_for_a_moment(
    make_api: Callable[..., Api], database_url: str
) -> None:
    api = make_api(read_statement_timeout_ms=BOUND_MS)
    aliased = "query ($lat: Float!) { " + " ".join(
        f"a{i}: needs(near: {{lat: $lat, lon: 105.8542}}, radiusMeters: 2000, first: 5) {{ edges {{ node {{ id }} }} }}"
        for i in range(12)
    ) + " }"  # fmt: skip
    with _needs_locked(database_url) as release:
        body = api.post(aliased, {"lat": 21.03})
        release()
        # Asked again at once with the lock gone, the same statement is refused without asking ...
        again = api.post(SEARCH, {"lat": 21.03})
    assert body["data"] is None
    assert {e["message"] for e in body["errors"]} == {
        "This search takes the database too long: ask for a smaller radius or fewer filters."
    }
    assert again["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert _edges(api, 21.031) == []  # ... while any other search answers ...
    time.sleep(TOO_SLOW_FOR_S + 0.2)
    assert _edges(api, 21.03) == []  # ... and the same one does again a moment later.


def test_without_a_lock_or_with_the_bound_off_searches_answer(make_api: Callable[..., Api]) -> None:
    for bound in (0, BOUND_MS):
        assert _edges(make_api(read_statement_timeout_ms=bound), 21.0285) == []
