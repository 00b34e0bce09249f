"""Rate limits per client IP and per partner key: HTTP 429 with Retry-After, nothing executed."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap.cli import partners
from aidmap.guards.rate_limit import TokenBuckets
from tests.conftest import Api

QUERY = {"query": "{ __typename }"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_bursts_up_to_the_limit_then_refills_at_the_limit_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock=clock)  # type: ignore[arg-type]

    burst = [buckets.take("ip:1", 60) for _ in range(60)]
    over = buckets.take("ip:1", 60)
    other = buckets.take("ip:2", 60)
    clock.now += 1.0  # 60 per minute: one more after a second
    refilled = [buckets.take("ip:1", 60), buckets.take("ip:1", 60)]

    assert burst == [0.0] * 60 and other == 0.0
    assert 0.99 <= over <= 1.0
    assert refilled[0] == 0.0 and refilled[1] > 0.0


def test_an_ip_over_its_limit_gets_429_with_retry_after_and_nothing_runs(
    make_api: Any, db: psycopg.Connection[Any]
) -> None:
    api: Api = make_api(rate_limit_per_ip=3)
    sign_up = {
        "query": 'mutation { signUp(input: {displayName: "A", phone: "0911222333", password: "long enough"}) { token } }'
    }

    allowed = [api.http.post("/graphql", json=QUERY).status_code for _ in range(3)]
    refused = api.http.post("/graphql", json=sign_up)

    assert allowed == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert db.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
    assert api.http.get("/healthz").status_code == 200  # health checks are never limited


def test_a_partner_key_has_its_own_limit(make_api: Any, database_url: str) -> None:
    api: Api = make_api(rate_limit_per_ip=1000)
    _, key = partners.create(
        url=database_url, name="Hue-S", scopes=["needs:read"], rate_limit_per_minute=2, allowed_origins=[]
    )
    headers = {"Authorization": f"Bearer {key}"}

    codes = [api.http.post("/graphql", json=QUERY, headers=headers).status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert api.http.post("/graphql", json=QUERY).status_code == 200  # the same IP without the key
