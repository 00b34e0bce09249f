"""Each shortcut of the fast path (aidmap/schema/fast/) answers what the libraries' ordinary path does.

Two real servers on one database. The fast one is `aidmap serve`'s: the compiled documents, the
plain-ASGI route in front of strawberry's view (http_route.py), uvicorn with guards/connections.py's
protocol (one socket write per response), the remembered cost checks, the shared executor, the live
batch and the lean websocket handler. The ordinary one has all of that off: strawberry's view and
its graphql-transport-ws handler with graphql-core's own execution context, only aidmap's
authentication hooks kept. Over HTTP the answers must be the same bytes with the same headers
(but the date and the request id); over a websocket the same messages for the same events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from aidmap.app import create_app
from aidmap.cli import partners
from aidmap.guards.connections import guarded_protocol
from aidmap.schema.fast.live_socket import AidmapTransportWSHandler
from aidmap.settings import Settings
from tests.conftest import Api, serving
from tests.factories import HANOI, create_need, pledge, sign_up
from tests.live import LiveClient

SEARCH = """query ($near: GeoPointInput!, $first: Int = 20) {
  needs(near: $near, radiusMeters: 5000, categories: [FOOD], first: $first) {
    edges { cursor node { id title quantity urgency approximateLocation { lat lon } } }
    pageInfo { hasNextPage endCursor } } }"""
MINE = """query ($near: GeoPointInput!, $withPhone: Boolean!) {
  needs(near: $near, radiusMeters: 5000, first: 10) { edges { distanceMeters node { id isMine status
    exactLocation { lat lon } contactPhone @include(if: $withPhone) } } } }"""
OFFERS = "query { offers(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 3000, first: 5) { edges { node { id } } } }"
IGNORED_HEADERS = {"date", "x-request-id", "server"}


class OrdinaryHandler(AidmapTransportWSHandler):
    """aidmap's websocket authentication and rate limit, strawberry's own operation path."""

    def _prepare(self, operation: Any) -> None:
        return None


def _graphql_of(app: Any) -> Any:
    return next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/graphql")


@dataclasses.dataclass
class Pair:
    fast: str
    ordinary: str
    viewers: dict[str, dict[str, str]]
    tokens: dict[str, str]


@pytest.fixture
def pair(api: Api, settings: Settings, database_url: str) -> Iterator[Pair]:
    requester, donor = sign_up(api, "Lan"), sign_up(api, "Minh")
    for i, (dlat, dlon) in enumerate([(0.0, 0.0), (0.003, 0.001), (-0.004, 0.002), (0.006, -0.005)]):
        create_need(
            api, requester, location={"lat": HANOI["lat"] + dlat, "lon": HANOI["lon"] + dlon},
            category=["FOOD", "MEDICINE"][i % 2],
        )  # fmt: skip
    _, key = partners.create(
        url=database_url, name="Offers only", scopes=["offers:read"], rate_limit_per_minute=100_000, allowed_origins=[]
    )
    viewers = {
        "anonymous": {},
        "graphql-response": {"Accept": "application/graphql-response+json"},
        "requester": {"Authorization": f"Bearer {requester}"},
        "donor": {"Authorization": f"Bearer {donor}"},
        "bad token": {"Authorization": "Bearer not-a-token"},
        "offers partner": {"Authorization": f"Bearer {key}"},
    }
    protocol = guarded_protocol(head_timeout_s=settings.head_timeout_seconds, max_per_ip=0)
    ordinary_settings = dataclasses.replace(
        settings, compiled_queries=False, live_batch=False, share_event_results=False
    )
    ordinary_app = create_app(ordinary_settings, database_url=database_url)
    graphql = _graphql_of(ordinary_app)
    graphql.schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    graphql.graphql_transport_ws_handler_class = OrdinaryHandler
    with contextlib.ExitStack() as stack:
        fast = stack.enter_context(serving(create_app(settings, database_url=database_url), http=protocol))
        ordinary = stack.enter_context(serving(ordinary_app))
        yield Pair(fast=fast, ordinary=ordinary, viewers=viewers, tokens={"requester": requester, "donor": donor})


def _exchange(base: str, body: Any, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(base + "/graphql", content=content, headers={"Content-Type": "application/json", **headers})
    kept = [(k, v) for k, v in response.headers.multi_items() if k not in IGNORED_HEADERS]
    return response.status_code, kept, response.content


def _compiled_count(base: str) -> float:
    for line in httpx.get(base + "/metrics").text.splitlines():
        if line.startswith("aidmap_graphql_compiled_requests_total"):
            return float(line.split()[-1])
    raise AssertionError("no compiled-path counter in /metrics")


def test_the_fast_route_answers_the_same_bytes_and_headers_as_strawberrys_view(pair: Pair) -> None:
    near = {"lat": HANOI["lat"], "lon": HANOI["lon"]}
    bodies: list[Any] = [
        {"query": SEARCH, "variables": {"near": near, "first": 2}},
        {"query": SEARCH, "variables": {"near": near}},
        {"query": SEARCH, "variables": {"near": {"lat": 10.7769, "lon": 106.7009}, "first": 3}},
        {"query": MINE, "variables": {"near": near, "withPhone": True}},
        {"query": MINE, "variables": {"near": near, "withPhone": False}},
        {"query": OFFERS},
        {"query": SEARCH, "variables": {"near": near, "first": 100_000}},  # over cost
        {"query": SEARCH, "variables": {"near": near, "first": 2}},  # the same document again, within cost
        {"query": SEARCH, "variables": {"near": {"lat": 95, "lon": 0}, "first": 2}},  # a bad argument
        {"query": SEARCH, "variables": {"near": near, "first": "two"}},  # bad variables
        {"query": SEARCH, "variables": {"near": near, "first": -1}},
        {"query": SEARCH, "variables": "not an object"},
        {"query": SEARCH, "operationName": "Missing", "variables": {"near": near}},
        {"query": "{ needs(near: {lat: 21, lon: 105}) { edges { node { nope } } } }"},
        [{"query": OFFERS}],  # a batch
        b'{"query": "{ __typename ',  # not JSON
    ]
    before = _compiled_count(pair.fast)
    for viewer, headers in pair.viewers.items():
        for body in bodies:
            fast = _exchange(pair.fast, body, headers)
            ordinary = _exchange(pair.ordinary, body, headers)
            assert fast == ordinary, f"{viewer}: {body!r}"
    assert _compiled_count(pair.fast) - before >= 20, "the fast route really answered"


def test_pipelined_requests_on_one_connection_are_answered_in_order(pair: Pair) -> None:
    """guards/connections.py holds a response's head until its body (one write): two requests sent in
    one packet still get two whole responses, in order, on a connection that stays open."""
    port = int(pair.fast.rsplit(":", 1)[1])
    near = {"lat": HANOI["lat"], "lon": HANOI["lon"]}
    answers = []
    for first in (1, 3):
        answers.append(_exchange(pair.ordinary, {"query": SEARCH, "variables": {"near": near, "first": first}}, {})[2])
    raw = b""
    for first in (1, 3):
        body = json.dumps({"query": SEARCH, "variables": {"near": near, "first": first}}).encode()
        raw += (
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )
    raw += b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 3 or not received.endswith(b'{"status":"ok"}'):
            chunk = sock.recv(65536)
            assert chunk, "the connection closed early"
            received += chunk
    responses = received.split(b"HTTP/1.1 ")[1:]
    bodies = [r.split(b"\r\n\r\n", 1)[1] for r in responses]
    assert bodies == [*answers, b'{"status":"ok"}']


def test_the_live_socket_path_sends_what_strawberrys_handler_sends(api: Api, pair: Pair) -> None:
    """needsNearby with the lean handler, the shared executor and the live batch, against
    strawberry's handler and graphql-core's executor: the same messages, event by event."""
    documents = [
        ("""subscription ($near: GeoPointInput!) { needsNearby(near: $near, radiusMeters: 3000) {
              cursor kind distanceMeters need { id title quantity quantityPledged status
              approximateLocation { lat lon } exactLocation { lat lon } contactPhone } } }""",
         {"near": HANOI}),
        ("""subscription { needsNearby(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 5000, categories: [FOOD]) {
              kind need { id urgency isMine pledges { quantity } } } }""", {}),
        ("subscription { offersNearby(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 5000) { kind offer { id } } }",
         {}),
    ]  # fmt: skip
    viewers = [None, pair.tokens["requester"], pair.tokens["donor"]]
    before = AidmapTransportWSHandler.lean_operations
    with contextlib.ExitStack() as stack:
        clients: list[tuple[LiveClient, LiveClient]] = []
        for token in viewers:
            fast = stack.enter_context(LiveClient(pair.fast, token))
            ordinary = stack.enter_context(LiveClient(pair.ordinary, token))
            for document, variables in documents:
                fast.subscribe(document, variables)
                ordinary.subscribe(document, variables)
            clients.append((fast, ordinary))
        for fast, ordinary in clients:  # both streams are live before the first change
            fast.nothing_within(0.3)
            ordinary.nothing_within(0.1)
        requester, donor = pair.tokens["requester"], pair.tokens["donor"]
        # An event's fields are read when it is sent: each change is drained before the next, or one
        # server could read the need before the pledge and the other after it (both right).
        need = create_need(api, requester, location={"lat": HANOI["lat"] + 0.002, "lon": HANOI["lon"]}, quantity=4)
        _same_on_both(clients, viewers)
        pledge(api, donor, need["id"], 1)
        _same_on_both(clients, viewers)
    assert AidmapTransportWSHandler.lean_operations - before >= len(viewers) * 2, "the lean path really ran"


def _same_on_both(clients: list[tuple[LiveClient, LiveClient]], viewers: list[str | None]) -> None:
    for (fast, ordinary), token in zip(clients, viewers, strict=True):
        got_fast = _drain(fast)
        got_ordinary = _drain(ordinary)
        assert got_fast, "events arrived"
        assert got_fast == got_ordinary, f"viewer {'anonymous' if token is None else token[:6]}"


def _drain(client: LiveClient) -> list[str]:
    """Every message until a quiet second, each as canonical JSON (sorted by operation, then order)."""
    got: list[tuple[str, str]] = []
    while True:
        try:
            message = json.loads(client.ws.recv(timeout=1.5))
        except TimeoutError:
            break
        if message["type"] == "ping":
            client.ws.send(json.dumps({"type": "pong"}))
            continue
        got.append((message.get("id", ""), json.dumps(message, sort_keys=False, ensure_ascii=False)))
    got.sort(key=lambda item: item[0])  # stable: each operation's messages keep their order
    return [text for _, text in got]
