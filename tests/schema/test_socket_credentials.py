"""Open websockets follow their credentials: revoked keys, revoked or expired tokens and revoked roles close them (4403)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import psycopg
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from aidmap.cli import partners
from aidmap.resolvers.accounts import hash_token
from aidmap.resolvers.areas import BUNDLED, import_files
from tests.conftest import Api, LiveServer
from tests.factories import HANOI, give_role, sign_up
from tests.live import PROTOCOL, LiveClient

NEEDS_NEARBY = "subscription ($near: GeoPointInput!) { needsNearby(near: $near, radiusMeters: 2000) { cursor kind } }"


def _closed_with(client: LiveClient, within_s: float) -> int | None:
    """The close code the server sent within `within_s` (pings answered), or None if still open."""
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            try:
                message = json.loads(client.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                return None
            if message["type"] == "ping":
                client.ws.send(json.dumps({"type": "pong"}))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else -1
    return None


def _key(database_url: str, name: str, **options: Any) -> str:
    return partners.create(
        url=database_url, name=name, scopes=["needs:read"], rate_limit_per_minute=1000, allowed_origins=[], **options
    )[1]


def test_revoking_a_key_closes_its_open_sockets(live_server: LiveServer, database_url: str) -> None:
    key, other = _key(database_url, "Revoked"), _key(database_url, "Kept")
    with LiveClient(live_server.url, key) as revoked, LiveClient(live_server.url, other) as kept:
        revoked.subscribe(NEEDS_NEARBY, {"near": HANOI})
        kept.subscribe(NEEDS_NEARBY, {"near": HANOI})
        assert _closed_with(revoked, 1) is None
        assert partners.revoke(url=database_url, name="Revoked")
        assert _closed_with(revoked, 8) == 4403
        assert _closed_with(kept, 0.5) is None


@pytest.mark.parametrize("how", ["expires_at = now()", "revoked_at = now()"])
def test_an_expired_or_revoked_token_closes_its_sockets(
    api: Api, live_server: LiveServer, db: psycopg.Connection[Any], how: str
) -> None:
    token, other = sign_up(api), sign_up(api)
    with LiveClient(live_server.url, token) as client, LiveClient(live_server.url, other) as still_valid:
        client.subscribe("subscription { myActivity { cursor } }")
        assert _closed_with(client, 1) is None
        db.execute(f"UPDATE access_tokens SET {how} WHERE token_hash = %s", (hash_token(token),))
        assert _closed_with(client, 8) == 4403
        assert _closed_with(still_valid, 0.5) is None


def test_a_registered_queries_only_key_cannot_open_a_socket(live_server: LiveServer, database_url: str) -> None:
    key = _key(database_url, "Registered", registered_queries_only=True)
    ws = connect(live_server.url.replace("http", "ws", 1) + "/graphql", subprotocols=[PROTOCOL])  # type: ignore[list-item]
    with ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


GRANT = "mutation ($input: GrantRoleInput!) { grantRole(input: $input) { errors { code } } }"
REVOKE = "mutation ($input: RevokeRoleInput!) { revokeRole(input: $input) { errors { code } } }"


def test_a_revoked_role_closes_the_accounts_sockets_and_a_granted_one_closes_nothing(
    api: Api, live_server: LiveServer, database_url: str, db: psycopg.Connection[Any]
) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    admin, demoted, kept, promoted = sign_up(api, "Admin"), sign_up(api, "V1"), sign_up(api, "V2"), sign_up(api, "P")
    give_role(db, admin, "ADMIN")
    ids = {t: api.data("{ me { id } }", token=t)["me"]["id"] for t in (demoted, kept, promoted)}
    for verifier in (demoted, kept):
        grant = {"input": {"accountId": ids[verifier], "role": "VERIFIER", "areaCodes": ["00070"]}}
        assert api.data(GRANT, grant, admin)["grantRole"]["errors"] == []
    queue = "subscription { myActivity { cursor } }"
    with (
        LiveClient(live_server.url, demoted) as demoted_socket,
        LiveClient(live_server.url, kept) as kept_socket,
        LiveClient(live_server.url, promoted) as promoted_socket,
    ):
        for socket in (demoted_socket, kept_socket, promoted_socket):
            socket.subscribe(queue)
        assert _closed_with(demoted_socket, 0.5) is None
        operator = {"input": {"accountId": ids[promoted], "role": "OPERATOR"}}
        assert api.data(GRANT, operator, admin)["grantRole"]["errors"] == []
        revoke = {"input": {"accountId": ids[demoted], "role": "VERIFIER"}}
        assert api.data(REVOKE, revoke, admin)["revokeRole"]["errors"] == []
        assert _closed_with(demoted_socket, 8) == 4403
        assert _closed_with(kept_socket, 0.5) is None and _closed_with(promoted_socket, 0.5) is None
    # The token itself still works: the person reconnects with the roles they have now.
    with LiveClient(live_server.url, demoted) as again:
        again.subscribe(queue)
        assert _closed_with(again, 4) is None


def _socket_with_headers(live_server: LiveServer, headers: dict[str, str]) -> ClientConnection:
    """A websocket whose credentials travel in the upgrade request's headers, connection_init empty."""
    url = live_server.url.replace("http", "ws", 1) + "/graphql"
    return connect(url, subprotocols=[PROTOCOL], additional_headers=headers)  # type: ignore[list-item]


def _refused(ws: ClientConnection) -> int | None:
    """The close code after an empty connection_init, or None if the server acknowledged it."""
    try:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        message = json.loads(ws.recv(timeout=10))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else -1
    assert message["type"] == "connection_ack", message
    return None


def _handshake_refused(live_server: LiveServer, headers: dict[str, str]) -> bool:
    """The upgrade itself is refused, or the socket is closed 4403 at connection_init; never acknowledged."""
    try:
        ws = _socket_with_headers(live_server, headers)
    except InvalidStatus:
        return True
    with ws:
        code = _refused(ws)
    return code == 4403


def test_a_registered_queries_only_key_in_the_upgrade_header_cannot_open_a_socket(
    live_server: LiveServer, database_url: str
) -> None:
    key = _key(database_url, "Registered by header", registered_queries_only=True)
    with _socket_with_headers(live_server, {"Authorization": f"Bearer {key}"}) as ws:
        assert _refused(ws) == 4403
    # It does not help to send the key both ways, or to hide it behind a user's token in connection_init.
    with _socket_with_headers(live_server, {"Authorization": f"Bearer {key}"}) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_a_header_key_with_a_user_token_in_connection_init_keeps_no_partner(
    api: Api, live_server: LiveServer, database_url: str
) -> None:
    """connection_init's credentials replace the header's: the socket is the user's, not the key's."""
    key = _key(database_url, "Header key, payload token", registered_queries_only=True)
    token = sign_up(api, "Payload Person")
    with _socket_with_headers(live_server, {"Authorization": f"Bearer {key}"}) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ me { displayName } }"}}))
        answer = json.loads(ws.recv(timeout=10))
    assert answer["type"] == "next" and answer["payload"]["data"] == {"me": {"displayName": "Payload Person"}}


def test_header_credentials_on_a_socket_follow_the_same_rules_as_in_connection_init(
    api: Api, live_server: LiveServer, database_url: str
) -> None:
    key = _key(database_url, "Header rules")
    stranger = api.data("{ me { id } }", token=sign_up(api, "Not theirs"))["me"]["id"]
    # Acting for an account the key did not sign up (and without the accounts scope), a bad user token,
    # an unknown key: none of them gets a socket.
    assert _handshake_refused(live_server, {"Authorization": f"Bearer {key}", "Aidmap-Act-As": stranger})
    assert _handshake_refused(live_server, {"Authorization": "Bearer not-a-real-token"})
    assert _handshake_refused(live_server, {"Authorization": "Bearer amk_" + "0" * 40})
    # The key's scopes hold: needs:read only, so no offers.
    with _socket_with_headers(live_server, {"Authorization": f"Bearer {key}"}) as ws:
        assert _refused(ws) is None
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription ($near: GeoPointInput!) "
                        "{ offersNearby(near: $near, radiusMeters: 2000) { cursor } }",
                        "variables": {"near": HANOI},
                    },
                }
            )
        )
        answer = json.loads(ws.recv(timeout=10))
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], answer


def test_revoking_a_key_closes_sockets_that_sent_it_in_the_upgrade_header(
    live_server: LiveServer, database_url: str
) -> None:
    key = _key(database_url, "Revoked by header")
    with _socket_with_headers(live_server, {"Authorization": f"Bearer {key}"}) as ws:
        assert _refused(ws) is None
        ws.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": NEEDS_NEARBY, "variables": {"near": HANOI}}}
            )
        )
        assert partners.revoke(url=database_url, name="Revoked by header")
        deadline = time.monotonic() + 8
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    message = json.loads(ws.recv(timeout=1))
                    if message["type"] == "ping":
                        ws.send(json.dumps({"type": "pong"}))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
