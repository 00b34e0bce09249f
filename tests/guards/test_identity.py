"""The one authentication step (aidmap/guards/identity.py): credentials are checked once per HTTP
request and once per websocket's credentials, and a refusal reads the same on both paths."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from aidmap.cli import partners
from aidmap.db.reader import Reader
from aidmap.guards import identity
from aidmap.problems import SESSION_EXPIRED
from aidmap.resolvers.partners import PartnerKeys
from tests.conftest import Api, LiveServer
from tests.factories import sign_up
from tests.live import PROTOCOL, LiveClient

# The statements that check credentials (resolvers/accounts.py, resolvers/partners.py, guards/identity.py).
TOKEN_SQL = "FROM access_tokens t JOIN accounts a"
ACCOUNT_OF_TOKEN_SQL = "SELECT account_id FROM access_tokens"
KEY_SQL = "FROM partners\nWHERE key_hash"
SEARCH = "{ needs(near: {lat: 21.03, lon: 105.85}, radiusMeters: 2000, first: 5) { edges { node { id } } } }"
OFFERS_NEARBY = "subscription { offersNearby(near: {lat: 21.0, lon: 105.8}, radiusMeters: 1000) { cursor } }"
NEEDS_NEARBY = "subscription { needsNearby(near: {lat: 21.0, lon: 105.8}, radiusMeters: 1000) { cursor } }"


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts identifications, partner-key look-ups and the credential statements sent to PostgreSQL."""
    counts: Counter[str] = Counter()
    fetch, lookup, identify = Reader._fetch, PartnerKeys.lookup, identity.Identities.identify

    async def counting_fetch(self: Reader, sql: str, *args: Any, **kwargs: Any) -> Any:
        for name, marker in (("token_sql", TOKEN_SQL), ("account_sql", ACCOUNT_OF_TOKEN_SQL), ("key_sql", KEY_SQL)):
            if marker in sql:
                counts[name] += 1
        return await fetch(self, sql, *args, **kwargs)

    async def counting_lookup(self: PartnerKeys, key: str) -> Any:
        counts["key_lookup"] += 1
        return await lookup(self, key)

    async def counting_identify(self: identity.Identities, credentials: identity.Credentials) -> Any:
        counts["identify"] += 1
        return await identify(self, credentials)

    monkeypatch.setattr(Reader, "_fetch", counting_fetch)
    monkeypatch.setattr(PartnerKeys, "lookup", counting_lookup)
    monkeypatch.setattr(identity.Identities, "identify", counting_identify)
    yield counts


def _key(database_url: str, name: str, scopes: str) -> str:
    return partners.create(
        url=database_url, name=name, scopes=partners.parse_scopes(scopes), rate_limit_per_minute=1000,
        allowed_origins=[],
    )[1]  # fmt: skip


def _post(api: Api, query: str, token: str, **headers: str) -> Any:
    return api.http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}", **headers})


def test_a_user_token_is_checked_once_per_http_request(api: Api, looked_up: Counter[str]) -> None:
    token = sign_up(api, "Counted")
    for query in ("{ me { displayName } }", SEARCH):  # the view's path, and the compiled search path
        looked_up.clear()
        response = _post(api, query, token)
        assert response.status_code == 200 and "errors" not in response.json(), response.json()
        # One identification, one token statement: the rate limiter and the context share it.
        assert looked_up == Counter(identify=1, token_sql=1), (query, looked_up)


def test_a_rejected_token_is_checked_once_and_still_counts_against_its_account(
    api: Api, looked_up: Counter[str]
) -> None:
    looked_up.clear()
    body = _post(api, "mutation { signOut { errors { message } } }", "not-a-real-token").json()
    assert body["data"]["signOut"]["errors"] == [{"message": SESSION_EXPIRED.message}]
    # The viewer statement (the hot reads' router, then the primary: a token issued a moment ago), then
    # which account the token belongs to, for its bucket; cached for the next request.
    assert looked_up == Counter(identify=1, token_sql=2, account_sql=1), looked_up
    looked_up.clear()
    _post(api, "mutation { signOut { errors { message } } }", "not-a-real-token")
    assert looked_up == Counter(identify=1, token_sql=2), looked_up


def test_a_partner_key_is_looked_up_once_per_http_request(api: Api, database_url: str, looked_up: Counter[str]) -> None:
    key = _key(database_url, "Counted key", "needs:read")
    for query in ("{ __typename }", SEARCH):
        looked_up.clear()
        response = _post(api, query, key)
        assert response.status_code == 200, response.text
        assert looked_up["identify"] == 1 and looked_up["key_lookup"] == 1, (query, looked_up)
        assert looked_up["token_sql"] == 0 and looked_up["account_sql"] == 0
    assert looked_up["key_sql"] == 0  # the second request: within the key cache's ttl


def test_a_websocket_is_identified_once_for_its_connection_init(
    api: Api, live_server: LiveServer, looked_up: Counter[str]
) -> None:
    token = sign_up(api, "Socket person")
    looked_up.clear()
    with LiveClient(live_server.url, token=token) as client:
        answers = [client.next() for _ in (client.subscribe("{ me { displayName } }"),)]
        assert json.loads(client.ws.recv(timeout=10))["type"] == "complete"
        answers += [client.next() for _ in (client.subscribe("{ __typename }"),)]
    assert answers == [{"data": {"me": {"displayName": "Socket person"}}}, {"data": {"__typename": "Query"}}]
    # The handshake (no credentials: nothing asked) and connection_init's token; operations ask nothing.
    assert looked_up["identify"] == 2 and looked_up["token_sql"] == 1, looked_up


def _ws_close_code(live_server: LiveServer, payload: dict[str, Any]) -> int | None:
    url = live_server.url.replace("http", "ws", 1) + "/graphql"
    with connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = json.loads(ws.recv(timeout=10))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else -1
    assert message["type"] == "connection_ack", message
    return None


@pytest.fixture
def no_key_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built after this keep no partner key cached: a revocation holds at once (else within 10 s)."""
    monkeypatch.setattr(PartnerKeys.__init__, "__kwdefaults__", {"ttl_s": 0.0})


def test_a_revoked_partner_key_is_refused_on_http_and_on_a_websocket(
    no_key_cache: None, make_api: Any, live_server: LiveServer, database_url: str
) -> None:
    api = make_api()
    key = _key(database_url, "Soon revoked", "needs:read")
    assert _post(api, "{ __typename }", key).status_code == 200
    assert _ws_close_code(live_server, {"authorization": f"Bearer {key}"}) is None
    assert partners.revoke(url=database_url, name="Soon revoked")

    refused = _post(api, "{ __typename }", key)
    assert refused.status_code == 401
    assert refused.json() == {"errors": [{"message": "The API key is not valid or has been revoked."}]}
    assert _ws_close_code(live_server, {"authorization": f"Bearer {key}"}) == 4403


def test_acting_for_an_account_the_key_did_not_sign_up_is_refused_on_both_paths(
    api: Api, live_server: LiveServer, database_url: str
) -> None:
    key = _key(database_url, "Acting key", "needs:read,accounts")
    stranger = api.data("{ me { id } }", token=sign_up(api, "Stranger"))["me"]["id"]
    refused = _post(api, "{ me { id } }", key, **{"Aidmap-Act-As": stranger})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"] == identity.ACT_AS_REFUSED
    assert _ws_close_code(live_server, {"authorization": f"Bearer {key}", "actAs": stranger}) == 4403


def _ws_answers(live_server: LiveServer, key: str, query: str) -> list[dict[str, Any]]:
    """Every message the socket answers a subscribe with, up to its `complete`."""
    with LiveClient(live_server.url, token=key) as client:
        client.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        answers = [json.loads(client.ws.recv(timeout=10))]
        while answers[-1]["type"] == "next":
            answers.append(json.loads(client.ws.recv(timeout=10)))
    return answers


def test_a_missing_scope_is_refused_alike_on_http_and_on_a_websocket(
    api: Api, live_server: LiveServer, database_url: str
) -> None:
    key = _key(database_url, "Needs only", "needs:read")
    forbidden = {"message": "This API key may not use: me (accounts).", "extensions": {"code": "FORBIDDEN"}}
    # A query: the same error over HTTP and on a socket (schema/limits.py, OperationChecks).
    assert _post(api, "{ me { id } }", key).json() == {"data": None, "errors": [forbidden]}
    assert _ws_answers(live_server, key, "{ me { id } }") == [
        {"id": "1", "type": "next", "payload": {"data": None, "errors": [forbidden]}},
        {"id": "1", "type": "complete"},
    ]
    # A subscription (sockets only): refused on subscribe, before its stream starts, as each stream did.
    for query, field, scope, scopes in (
        (OFFERS_NEARBY, "offersNearby", "offers:read", "needs:read"),
        (NEEDS_NEARBY, "needsNearby", "needs:read", "offers:read"),  # the lean path's field
        ("subscription { myActivity { cursor } }", "myActivity", "accounts", "needs:read"),
    ):
        subscriber = _key(database_url, f"Subscriber {field}", scopes)
        error = {
            "message": f"This API key may not use: {field} ({scope}).",  # one wording, as over HTTP
            "extensions": {"code": "FORBIDDEN", "field": field},
        }
        assert _ws_answers(live_server, subscriber, query) == [
            {"id": "1", "type": "next", "payload": {"data": None, "errors": [error]}},
            {"id": "1", "type": "complete"},
        ], field
        # Over HTTP the same document is refused by the same scope, before anything runs.
        body = _post(api, query, subscriber).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        assert body["errors"][0]["message"] == f"This API key may not use: {field} ({scope}).", body


def test_a_client_past_its_address_limit_costs_no_credential_check(make_api: Any, looked_up: Counter[str]) -> None:
    api = make_api(rate_limit_per_ip=3)
    token = sign_up(api, "Hammering")  # the address's first request
    assert [_post(api, "{ __typename }", token).status_code for _ in range(2)] == [200, 200]
    looked_up.clear()
    refused = _post(api, "{ __typename }", token)
    assert refused.status_code == 429 and refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # Refused on the address's bucket, asked before anything is looked up.
    assert looked_up == Counter(), looked_up
