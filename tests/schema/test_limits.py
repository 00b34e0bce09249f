"""GraphQL hardening: depth, aliases, tokens, cost, page sizes, batching, introspection, websockets."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.live import LiveClient

NEAR = "near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 1000"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, connection_init_timeout_seconds=1.0)


def _code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None


def _message(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["message"])


def test_documents_too_deep_too_aliased_or_too_long_are_refused_before_running(api: Api) -> None:
    nested = "pledges { need { " * 5 + "id" + " } }" * 5
    deep = api.post(f"{{ needs({NEAR}, first: 1) {{ edges {{ node {{ {nested} }} }} }} }}")
    aliases = api.post("{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }")
    long_document = api.post("{ " + "__typename " * 801 + "}")
    fine = api.post("{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }")

    assert "exceeds maximum operation depth of 10" in _message(deep)
    assert _message(aliases) == "31 aliases found. Allowed: 30"
    assert "Document contains more than 800 tokens" in _message(long_document)
    assert "errors" not in fine


def test_long_documents_sent_once_each_are_not_kept(api: Api) -> None:
    """An attacker sending a fresh long document every time must not fill the server's memory with
    parsed documents, validations and plans: the garbage collector walks all of it on every full
    collection, a pause of the whole process (schema/documents.py)."""
    from aidmap.schema import _checked, documents
    from aidmap.schema.fast import plain_fields

    page = "edges { node { id title approximateLocation { lat lon } } }"
    before = (documents._parsed.cache_info().currsize, len(documents._validated), _checked.cache_info().currsize,
              len(plain_fields._shared_plans), len(plain_fields._static_documents))  # fmt: skip
    for n in range(20):
        aliases = " ".join(f"a{n}x{i}: needs({NEAR}, first: 1) {{ {page} }}" for i in range(12))
        query = "{ " + aliases + " }" + " " * 3000  # over 4,000 characters, well within the tokens
        assert "errors" not in api.post(query)
    after = (documents._parsed.cache_info().currsize, len(documents._validated), _checked.cache_info().currsize,
             len(plain_fields._shared_plans), len(plain_fields._static_documents))  # fmt: skip

    assert after == before


def test_cost_counts_pages_across_nested_lists(make_api: Any) -> None:
    # 1 + 200 for the root call (it reads the database), then per need: node, id, title, and
    # pledges (1, and 3 for its resolver) with its id, so 20 needs cost 381 and 50 cost 651.
    api: Api = make_api(max_query_cost=400)
    query = "query ($n: Int!) { needs(" + NEAR + ", first: $n) { edges { node { id title pledges { id } } } } }"

    small = api.post(query, {"n": 20})
    big = api.post(query, {"n": 50})
    nodes = api.post("query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Need { title pledges { id } } } }",
                     {"ids": ["TmVlZDox"] * 60})  # fmt: skip

    assert "errors" not in small
    assert _code(big) == "QUERY_TOO_COSTLY" and big["data"] is None
    assert "cost 651" in _message(big)
    assert _code(nodes) == "QUERY_TOO_COSTLY"


def test_pages_that_search_each_urgency_level_cost_a_call_per_level(api: Api) -> None:
    """Most urgent first searches each level on its own, "urgent only" each of its two: aliased
    pages of them cost the database four or two times what nearest-first pages do, and their
    weight says so. One text, sent first with the cheap order until the server has compiled it and
    remembered that it passed (schema/fast/compiled.py), then with the costly one: the verdict
    remembered for one order must not let the other through."""
    page = "edges { cursor }"
    aliases = " ".join(f"a{i}: needs({NEAR}, first: 1, orderBy: $order, urgencies: $levels) {{ {page} }}"
                       for i in range(20))  # fmt: skip
    query = "query ($order: NeedOrder!, $levels: [Urgency!]) { " + aliases + " }"
    for _ in range(4):
        nearest = api.post(query, {"order": "DISTANCE", "levels": None})
        assert "errors" not in nearest, nearest
    most_urgent = api.post(query, {"order": "URGENCY", "levels": None})
    urgent_only = api.post(query, {"order": "DISTANCE", "levels": ["CRITICAL", "HIGH"]})
    one_level = api.post(query, {"order": "URGENCY", "levels": ["CRITICAL"]})

    assert _code(most_urgent) == "QUERY_TOO_COSTLY" and "cost 16060" in _message(most_urgent)
    assert _code(urgent_only) == "QUERY_TOO_COSTLY" and "cost 8060" in _message(urgent_only)
    assert "errors" not in one_level


def test_pages_and_id_lists_are_capped_at_100(api: Api) -> None:
    page = api.post(f"{{ needs({NEAR}, first: 101) {{ edges {{ cursor }} }} }}")
    ids = api.post("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["TmVlZDox"] * 101})

    assert _code(page) == "OUT_OF_RANGE" and _code(ids) == "OUT_OF_RANGE"


def test_batches_are_refused_and_get_runs_queries_only(api: Api) -> None:
    batch = api.http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    get_query = api.http.get("/graphql", params={"query": "{ __typename }"})
    get_mutation = api.http.get(
        "/graphql", params={"query": 'mutation { signIn(input: {phone: "0900000001", password: "x"}) { token } }'}
    )

    assert batch.status_code == 400
    assert get_query.status_code == 200 and get_query.json() == {"data": {"__typename": "Query"}}
    assert get_mutation.status_code == 405  # GraphQL over HTTP (tests/test_operations.py has the details)


def test_introspection_is_off_unless_dev_mode(make_api: Any) -> None:
    query = "{ __schema { queryType { name } } }"

    production = make_api(dev=False).post(query)
    dev = make_api(dev=True).post(query)

    assert "introspection" in _message(production).lower()
    assert dev == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_unexpected_errors_are_masked(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from aidmap.resolvers import needs

    async def broken(**_: Any) -> Any:
        raise RuntimeError("relation needs does not exist at 10.0.0.5")

    # Both paths' searches (the compiled path's, schema/fast/compiled.py, falls back to the ordinary one).
    monkeypatch.setattr(needs, "search", broken)
    monkeypatch.setattr(needs, "search_rows", broken)
    body = api.post(f"{{ needs({NEAR}, first: 1) {{ edges {{ cursor }} }} }}")

    assert body["errors"][0]["message"] == "Unexpected error."
    assert "10.0.0.5" not in json.dumps(body)


def test_websockets_speak_only_graphql_transport_ws(live_server: LiveServer) -> None:
    url = live_server.url.replace("http", "ws", 1) + "/graphql"
    with (
        connect(url, subprotocols=["graphql-ws"]) as old,  # type: ignore[list-item]
        pytest.raises(ConnectionClosed) as closed,
    ):
        old.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406  # subprotocol not acceptable


def test_a_socket_that_never_sends_connection_init_is_closed(live_server: LiveServer) -> None:
    url = live_server.url.replace("http", "ws", 1) + "/graphql"
    started = time.monotonic()
    with (
        connect(url, subprotocols=["graphql-transport-ws"]) as silent,  # type: ignore[list-item]
        pytest.raises(ConnectionClosed) as closed,
    ):
        silent.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
    assert time.monotonic() - started < 5


def test_at_most_20_subscriptions_per_connection(live_server: LiveServer) -> None:
    subscription = "subscription { needsNearby(near: {lat: 21.0, lon: 105.8}, radiusMeters: 1000) { cursor } }"
    with LiveClient(live_server.url) as client:
        for _ in range(20):
            client.subscribe(subscription)
        assert client.nothing_within(0.3)
        client.subscribe(subscription)
        refused = client.next(timeout=5)
    assert refused == {"errors": [{"message": "Subscription limit reached"}]}


def test_a_failing_check_refuses_the_operation_without_leaking(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from aidmap.schema import limits

    def broken(*_: Any) -> int:
        raise TypeError("'NoneType' object is not iterable")

    monkeypatch.setattr(limits, "query_cost", broken)
    body = api.post("{ __typename }")

    assert body == {"data": None, "errors": [{"message": "Unexpected error.", "extensions": {"code": "INTERNAL"}}]}


def test_cost_counts_default_values_as_if_they_were_sent(make_api: Any) -> None:
    api: Api = make_api(max_query_cost=200)
    ids = ["TmVlZDox"] * 100
    by_default = api.post(
        "query ($ids: [ID!]! = " + json.dumps(ids) + ") { nodes(ids: $ids) { id ... on Need { title } } }"
    )
    page_default = api.post(
        "query ($n: Int! = 100) { needs(" + NEAR + ", first: $n) { edges { node { id title pledges { id } } } } }"
    )
    sent = api.post("query ($n: Int!) { needs(" + NEAR + ", first: $n) { edges { node { id } } } }", {"n": 100})

    assert _code(by_default) == "QUERY_TOO_COSTLY" and by_default["data"] is None
    assert _code(page_default) == "QUERY_TOO_COSTLY"
    assert _code(sent) == "QUERY_TOO_COSTLY"


def test_area_outlines_cost_what_they_weigh(api: Api) -> None:
    outlines = "areas(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 50000) { area { code name fullName } geojson }"
    page = api.post("{ " + outlines + " }")  # what the reference page asks
    many = api.post("{ " + " ".join(f"a{i}: {outlines}" for i in range(10)) + " }")
    two = api.post(f"{{ a: {outlines} b: {outlines} }}")

    assert "errors" not in page, page
    assert _code(many) == "QUERY_TOO_COSTLY" and _code(two) == "QUERY_TOO_COSTLY"


def test_one_password_hash_per_document(api: Api, db: Any) -> None:
    # Each signUp, signIn or changePassword hashes a password (argon2, a few hundred ms in a pool of
    # at most 4 threads): aliased copies in one request would hold the pool against everyone's sign-in.
    def sign_ups(n: int) -> str:
        calls = " ".join(
            f'a{i}: signUp(input: {{displayName: "Khách {i}", phone: "09120000{i:02d}", password: "long enough pw"}}) {{ token }}'
            for i in range(n)
        )
        return f"mutation {{ {calls} }}"

    two = api.post(sign_ups(2))
    one = api.post(sign_ups(1))
    mixed = api.post('mutation { a: signIn(input: {phone: "0912000000", password: "long enough pw"}) { token } '
                     'b: signIn(input: {phone: "0912000000", password: "long enough pw"}) { token } }')  # fmt: skip

    assert _code(two) == "QUERY_TOO_COSTLY" and two["data"] is None
    assert _code(mixed) == "QUERY_TOO_COSTLY"
    assert one["data"]["a0"]["token"]
    # Refused before anything ran: the two-account document made no account.
    assert db.execute("SELECT count(*) FROM accounts").fetchone() == (1,)
