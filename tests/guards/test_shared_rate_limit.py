"""The rate limit holds once across processes: two real `aidmap serve` processes on one database
give a client its limit, not twice it; and the shared bucket asks the database as little as it can
(leases of tokens, sized by how many processes share them; refusals answered in the process)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
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
        statuses = [
            clients[i % 2].post("/graphql", json={"query": "{ __typename }"}).status_code for i in range(2 * limit)
        ]

    allowed = statuses.count(200)
    # Once, within 10% (the bucket refills at `limit` a minute while the test runs; each process may
    # hold a few tokens it took and did not spend).
    assert limit * 0.9 <= allowed <= limit * 1.1, allowed
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
