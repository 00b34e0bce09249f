"""Websockets get the limits HTTP has: message size, the rate limit per key or address for every
operation (queries and mutations too), and every document check, on both websocket paths."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx2
import pytest
from websockets.exceptions import ConnectionClosed

from aidmap.resolvers import partners
from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.guards.test_fragment_bombs import bomb
from tests.live import LiveClient


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, rate_limit_per_ip=10, max_body_bytes=1_000_000)


def _answer(client: LiveClient, op_id: str, timeout: float = 10) -> dict[str, Any]:
    """The first result (`next`) or refusal (`error`) of one operation."""
    while True:
        message = json.loads(client.ws.recv(timeout=timeout))
        if message.get("id") != op_id:
            continue
        if message["type"] == "next":
            return dict(message["payload"])
        if message["type"] == "error":
            return {"errors": message["payload"]}


def _code(body: dict[str, Any]) -> str | None:
    return (body.get("errors") or [{}])[0].get("extensions", {}).get("code")


def test_a_message_larger_than_the_body_limit_closes_the_socket(live_server: LiveServer) -> None:
    with LiveClient(live_server.url) as client:
        query = "{ __typename }" + " " * 2_000_000
        client.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        with pytest.raises(ConnectionClosed) as closed:
            client.ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_operations_on_a_socket_draw_from_the_same_bucket_as_http(live_server: LiveServer) -> None:
    mutation = 'mutation { signIn(input: {phone: "0900000001", password: "wrong password"}) { token } }'
    with LiveClient(live_server.url) as client:  # the handshake is the bucket's first request
        answers = [_answer(client, client.subscribe(mutation if i % 2 else "{ __typename }")) for i in range(12)]
        # The same address over HTTP is out of requests too.
        http = httpx2.post(live_server.url + "/graphql", json={"query": "{ __typename }"}, timeout=10)

        limited = [a for a in answers if _code(a) == "RATE_LIMITED"]
        assert len(limited) >= 2 and answers[0] == {"data": {"__typename": "Query"}}
        assert "retry after" in limited[0]["errors"][0]["message"]
        assert http.status_code == 429
        # Whoever keeps sending after being told to wait is closed with 4429.
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(30):
                client.ws.send(json.dumps({"id": f"x{_}", "type": "subscribe", "payload": {"query": "{ __typename }"}}))
                time.sleep(0.01)
            client.ws.recv(timeout=10)
            while True:
                client.ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429


def test_document_limits_apply_to_socket_operations(make_api, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    with LiveClient(live_server.url) as client:
        started = time.monotonic()
        costly = _answer(client, client.subscribe(bomb(20)))
        elapsed = time.monotonic() - started
        deep = _answer(client, client.subscribe(bomb(40)))

    assert _code(costly) == "QUERY_TOO_COSTLY" and elapsed < 1.0
    assert _code(deep) == "QUERY_TOO_COMPLEX"


def test_partner_scopes_hold_on_the_lean_subscription_path(live_server: LiveServer, database_url: str) -> None:
    _, key = partners.create(url=database_url, name="Offers only", scopes=partners.parse_scopes("offers:read"),
                             rate_limit_per_minute=600, allowed_origins=[])  # fmt: skip
    subscription = "subscription { needsNearby(near: {lat: 21.0, lon: 105.8}, radiusMeters: 1000) { cursor } }"
    with LiveClient(live_server.url, token=key) as client:
        refused = _answer(client, client.subscribe(subscription))

    assert _code(refused) == "FORBIDDEN", refused


def subscription_bomb(n: int) -> str:
    """One subscription whose every event would carry 2^n copies of a field."""
    spreads = " ".join(f"fragment F{i} on NeedEvent {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, n + 1))
    return (
        f"subscription {{ needsNearby(near: {{lat: 21.03, lon: 105.85}}, radiusMeters: 1000) {{ ...F{n} }} }} "
        f"fragment F0 on NeedEvent {{ need {{ title }} }} {spreads}"
    )


@pytest.mark.parametrize(("fragments", "code"), [(20, "QUERY_TOO_COSTLY"), (60, "QUERY_TOO_COMPLEX")])
def test_a_costly_subscription_is_refused_before_it_runs(live_server: LiveServer, fragments: int, code: str) -> None:
    """The cost limit holds for subscriptions too, whose results strawberry does not take from the
    limit check: each event would otherwise be built 2^n times over, for as long as the socket lives."""
    with LiveClient(live_server.url) as client:
        refused = _answer(client, client.subscribe(subscription_bomb(fragments)))
    assert _code(refused) == code, refused
