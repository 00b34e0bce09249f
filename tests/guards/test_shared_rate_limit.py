"""The rate limit holds once across processes: two real `aidmap serve` processes on one database
give a client its limit, not twice it."""

from __future__ import annotations

import contextlib
import threading

import httpx2

from tests.guards.test_slow_clients import serving

LIMIT = 500  # per minute; each process takes it from the shared bucket 10 tokens at a time


def test_two_processes_give_a_client_its_limit_once(database_url: str) -> None:
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        starters = [
            threading.Thread(target=lambda: ports.append(stack.enter_context(serving(database_url, rate_limit_per_ip=str(LIMIT)))))
            for _ in range(2)
        ]  # fmt: skip
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        clients = [stack.enter_context(httpx2.Client(base_url=f"http://127.0.0.1:{p}", timeout=10)) for p in ports]
        statuses = [
            clients[i % 2].post("/graphql", json={"query": "{ __typename }"}).status_code for i in range(2 * LIMIT)
        ]

    allowed = statuses.count(200)
    # Once, within 10% (the bucket refills at LIMIT a minute while the test runs; each process may
    # hold a few tokens it took and did not spend).
    assert LIMIT * 0.9 <= allowed <= LIMIT * 1.1, allowed
    assert set(statuses) == {200, 429}
