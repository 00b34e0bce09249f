"""X-Forwarded-For is believed only from the proxies configured: by default a client rotating it
stays one client for the rate limit."""

from __future__ import annotations

import httpx2

from tests.guards.test_slow_clients import serving


def _statuses(port: int) -> list[int]:
    return [
        httpx2.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"}, timeout=10).status_code
        for i in range(8)
    ]  # fmt: skip


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(database_url: str) -> None:
    with serving(database_url, rate_limit_per_ip="4") as port:
        untrusted = _statuses(port)
    with serving(database_url, "--forwarded-allow-ips", "127.0.0.1", rate_limit_per_ip="4") as port:
        trusted = _statuses(port)

    assert untrusted.count(429) == 4 and untrusted[:4] == [200] * 4
    assert trusted == [200] * 8  # each forwarded address has its own bucket
