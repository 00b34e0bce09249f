"""One client cannot take the whole hot-read pool, tried as a client sending the costliest search
document the limits allow: a dozen aliased searches, which graphql-core runs at once. The searches
are made to wait on a lock the test holds (as slow searches would), and PostgreSQL is asked how many
of them it is running: the client's share, not the pool; another client's search still reaches it."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import psycopg
import pytest

from aidmap.settings import Settings
from tests.conftest import LiveServer

ALIASES = 12
SEARCH = "needs(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 2000, first: 5) { edges { node { id } } }"
DOCUMENT = "{ " + " ".join(f"a{i}: {SEARCH}" for i in range(ALIASES)) + " }"
WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
    "AND query LIKE %s"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The ordinary pipeline: graphql-core runs a query's root fields at once. (The compiled path runs
    # them one after another, so it never takes more than one connection per document.)
    return dataclasses.replace(settings, db_pool_size=10, hot_reads_per_client=2, compiled_queries=False)


def _ask(server: LiveServer, address: str, document: str) -> dict[str, Any]:
    # The test's uvicorn believes X-Forwarded-For from 127.0.0.1, as a deployment behind its proxy does.
    answer = httpx2.post(
        server.url + "/graphql", json={"query": document}, headers={"X-Forwarded-For": address}, timeout=60
    )
    body: dict[str, Any] = answer.json()
    return body


def _waiting(db: psycopg.Connection[Any], settle_s: float = 1.0) -> int:
    """How many searches wait on the lock, once the number has stopped growing for settle_s."""
    seen, since = -1, time.monotonic()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = db.execute(WAITING, ["%rank_point%"]).fetchone()[0]  # type: ignore[index]
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return int(now)
        time.sleep(0.05)
    return int(seen)


def test_a_dozen_aliased_searches_take_the_clients_share_not_the_pool(
    live_server: LiveServer, database_url: str, db: psycopg.Connection[Any]
) -> None:
    assert "errors" not in _ask(live_server, "198.51.100.1", "{ " + SEARCH + " }")  # warm
    lock = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"))
    lock.execute("LOCK TABLE needs IN ACCESS EXCLUSIVE MODE")
    released = threading.Timer(30, lock.rollback)  # a missing share fails the test, never hangs it
    released.start()
    try:
        with ThreadPoolExecutor(2) as pool:
            greedy = pool.submit(_ask, live_server, "198.51.100.1", DOCUMENT)
            assert _waiting(db) == 2, "one client runs its share of searches at once"
            other = pool.submit(_ask, live_server, "198.51.100.2", "{ " + SEARCH + " }")
            assert _waiting(db) == 3, "another client's search is not queued behind it"
            lock.rollback()
            answers = greedy.result(timeout=30), other.result(timeout=30)
    finally:
        released.cancel()
        lock.close()
    assert "errors" not in answers[0] and len(answers[0]["data"]) == ALIASES
    assert answers[1]["data"]["needs"]["edges"] == []


def test_idle_clients_are_forgotten_and_a_busy_one_keeps_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from aidmap.db import shares

    class Slow:
        def __init__(self) -> None:
            self.running = 0
            self.most = 0
            self.go = asyncio.Event()

        async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
            self.running += 1
            self.most = max(self.most, self.running)
            await self.go.wait()
            self.running -= 1
            return []

    async def scenario() -> None:
        monkeypatch.setattr(shares, "MAX_CLIENTS", 3)
        pool, slow = shares.ClientShares(2), Slow()
        busy = [asyncio.create_task(pool.reads_for("busy", slow).fetch("q", {})) for _ in range(5)]
        await asyncio.sleep(0.01)
        for n in range(10):  # many other clients come and go
            await asyncio.wait_for(pool.reads_for(f"idle {n}", _Quick()).fetch("q", {}), 1)
        more = asyncio.create_task(pool.reads_for("busy", slow).fetch("q", {}))
        await asyncio.sleep(0.01)
        assert slow.most == 2 and len(pool._shares) <= 3
        slow.go.set()
        await asyncio.gather(*busy, more)

    asyncio.run(scenario())


class _Quick:
    async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
        return []
