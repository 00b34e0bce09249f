"""A signed-in person's requests draw from their account's bucket as well as their address's: more
addresses give one account no more, over HTTP and websockets alike (real sockets, real server)."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx2
import pytest
from websockets.exceptions import ConnectionClosed

from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.factories import SIGN_UP
from tests.live import LiveClient

PER_ACCOUNT = 8
QUERY = {"query": "{ __typename }"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, rate_limit_per_ip=1000, rate_limit_per_account=PER_ACCOUNT)


def _sign_up(url: str) -> str:
    variables = {"input": {"displayName": "Lan", "phone": "0912000111", "password": "correct horse"}}
    body = httpx2.post(url + "/graphql", json={"query": SIGN_UP, "variables": variables}, timeout=10).json()
    token: str = body["data"]["signUp"]["token"]
    return token


def _post(url: str, source: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx2.HTTPTransport(local_address=source)
    with httpx2.Client(transport=transport, timeout=10) as client:
        return client.post(url + "/graphql", json=QUERY, headers=headers).status_code


def _answer(client: LiveClient, op_id: str) -> dict[str, Any]:
    while True:
        message = json.loads(client.ws.recv(timeout=10))
        if message.get("id") == op_id and message["type"] in ("next", "error"):
            return dict(message["payload"]) if message["type"] == "next" else {"errors": message["payload"]}


def _code(body: dict[str, Any]) -> str | None:
    return (body.get("errors") or [{}])[0].get("extensions", {}).get("code")


def test_an_account_gets_its_limit_once_from_several_addresses(live_server: LiveServer) -> None:
    token = _sign_up(live_server.url)

    codes = [_post(live_server.url, f"127.0.0.{2 + i % 4}", token) for i in range(PER_ACCOUNT + 4)]

    assert codes == [200] * PER_ACCOUNT + [429] * 4
    # The addresses are not out of requests, the account is.
    assert _post(live_server.url, "127.0.0.2") == 200


def test_socket_operations_draw_from_the_account_of_connection_init(live_server: LiveServer) -> None:
    token = _sign_up(live_server.url)
    http = [_post(live_server.url, "127.0.0.2", token) for _ in range(PER_ACCOUNT // 2)]
    # Another address, credentials only in connection_init (the handshake carries none).
    with LiveClient(live_server.url, token=token, source="127.0.0.3") as client:
        answers = [_answer(client, client.subscribe("{ __typename }")) for _ in range(PER_ACCOUNT)]
        after = _post(live_server.url, "127.0.0.4", token)

        assert http == [200] * (PER_ACCOUNT // 2)
        allowed = [a for a in answers if a == {"data": {"__typename": "Query"}}]
        limited = [a for a in answers if _code(a) == "RATE_LIMITED"]
        assert len(allowed) == PER_ACCOUNT - PER_ACCOUNT // 2 and len(limited) == PER_ACCOUNT // 2
        assert after == 429  # HTTP from a third address: the same account's bucket, spent
        # Whoever keeps sending after being told to wait is closed with 4429.
        with pytest.raises(ConnectionClosed) as closed:
            for i in range(30):
                client.ws.send(json.dumps({"id": f"x{i}", "type": "subscribe", "payload": QUERY}))
                time.sleep(0.01)
            while True:
                client.ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    assert _post(live_server.url, "127.0.0.3") == 200  # the socket's address, anonymous: not limited
