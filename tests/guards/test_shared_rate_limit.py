"""The rate limit holds once across processes: two real `aidmap serve` processes on one database
give a client its limit, not twice it; and the shared bucket asks the database as little as it can
(leases of tokens, sized by how many processes share them; refusals answered in the process)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import httpx2
import psycopg
import pytest

from aidmap.db.reader import Reader
from aidmap.guards.rate_limit import SharedBuckets
from tests.guards.test_slow_clients import serving


@pytest.mark.parametrize("limit", [60, 500])  # per minute; 60: leases of 2 tokens, 500: of 13
def test_two_processes_give_a_client_its_limit_once(database_url: str, limit: int) -> None:
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        starters = [
            threading.Thread(target=lambda: ports.append(stack.enter_context(serving(database_url, rate_limit_per_ip=str(limit)))))
            for _ in range(2)
        ]  # fmt: skip
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        clients = [stack.enter_context(httpx2.Client(base_url=f"http://127.0.0.1:{p}", timeout=10)) for p in ports]
        started = time.monotonic()
        statuses = [
            clients[i % 2].post("/graphql", json={"query": "{ __typename }"}).status_code for i in range(2 * limit)
        ]
        elapsed = time.monotonic() - started

    allowed = statuses.count(200)
    # Once, not once per process (that would be twice the limit): the bucket's burst, plus what it
    # refills at `limit` a minute while the requests run (on a loaded machine that is many seconds),
    # plus 10% for the tokens each process leased and did not spend.
    refilled = limit * elapsed / 60
    assert limit * 0.9 <= allowed <= limit * 1.1 + refilled, (allowed, round(elapsed, 1))
    assert set(statuses) == {200, 429}


async def _with_reader(database_url: str, work: Any) -> Any:
    reader = Reader(database_url, max_size=2)
    await reader.open()
    try:
        return await work(reader)
    finally:
        await reader.close()


def _bucket(db: psycopg.Connection[Any], key: str) -> tuple[float, Any]:
    row = db.execute("SELECT tokens, updated_at FROM rate_buckets WHERE key = %s", (key,)).fetchone()
    assert row is not None
    return float(row[0]), row[1]


def test_a_client_past_its_limit_is_refused_without_asking_the_database(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    buckets = SharedBuckets()

    async def hammer(reader: Reader) -> tuple[list[float], Any, list[float]]:
        allowed = [await buckets.take(reader, "ip:hammer", 60) for _ in range(60)]
        first_refusal = await buckets.take(reader, "ip:hammer", 60)
        asked = _bucket(db, "ip:hammer")[1]
        refused = [await buckets.take(reader, "ip:hammer", 60) for _ in range(2000)]
        return [*allowed, first_refusal], asked, refused

    answers, asked_at, refused = asyncio.run(_with_reader(database_url, hammer))

    assert answers[:60] == [0.0] * 60 and answers[60] > 0
    assert all(0 < wait <= 1.0 for wait in refused)  # told when to come back (60 a minute: within a second)
    # The bucket row was last written by the first refusal: the 2,000 after it never reached PostgreSQL.
    assert _bucket(db, "ip:hammer")[1] == asked_at


def test_leases_shrink_as_more_processes_share_the_buckets(database_url: str, db: psycopg.Connection[Any]) -> None:
    async def one_take(reader: Reader) -> None:
        await SharedBuckets().take(reader, "ip:alone", 600)
        db.execute(
            "INSERT INTO rate_limit_processes (process, seen_at) SELECT 'other-' || i, now() FROM generate_series(1, 3) i"
        )
        db.commit()
        await SharedBuckets().take(reader, "ip:among-five", 600)

    asyncio.run(_with_reader(database_url, one_take))

    # One process leases 1 + 5% of 600 at a time; among five (the first, three others and itself),
    # 1 + 5% / 5: all five together hold at most 5% unspent.
    assert round(_bucket(db, "ip:alone")[0]) == 600 - 31
    assert round(_bucket(db, "ip:among-five")[0]) == 600 - 7


class _CountingReader:
    """A reader that counts the statements asked while a request is being limited (`in_request`)
    apart from those asked between requests (the next batch, leased ahead in the background)."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self.in_request = False
        self.on_request_path = 0
        self.in_background = 0

    async def fetch(self, sql: str, params: dict[str, Any]) -> Any:
        if self.in_request:
            self.on_request_path += 1
        else:
            self.in_background += 1
        return await self._reader.fetch(sql, params)

    async def execute(self, sql: str, params: dict[str, Any]) -> Any:
        return await self._reader.execute(sql, params)


@pytest.mark.parametrize("limit", [10, 60])  # leases of 1 and 4 tokens
def test_a_client_within_a_low_limit_waits_for_the_database_only_on_its_first_request(
    database_url: str, limit: int
) -> None:
    buckets = SharedBuckets()

    async def client(reader: Reader) -> tuple[int, float, _CountingReader]:
        counting = _CountingReader(reader)
        allowed, started = 0, time.monotonic()
        while allowed <= 2 * limit:
            counting.in_request = True
            wait = await buckets.take(counting, f"ip:steady-{limit}", limit)
            counting.in_request = False
            if wait > 0:
                break
            allowed += 1
            await asyncio.sleep(0.02)  # a person's pace, far above a round trip
        return allowed, time.monotonic() - started, counting

    allowed, elapsed, counting = asyncio.run(_with_reader(database_url, client))

    # The limit holds, leased ahead or not: a full bucket and what it refilled meanwhile.
    assert limit <= allowed <= limit + elapsed * limit / 60 + 1, (allowed, elapsed)
    # Only the first request waited for PostgreSQL (its take and this process's heartbeat; at most
    # once more, for a heartbeat or the refusal); every later batch was leased between requests.
    assert counting.on_request_path <= 3, (counting.on_request_path, counting.in_background)
    assert counting.in_background >= allowed // buckets.batch(limit) - 2, counting.in_background
