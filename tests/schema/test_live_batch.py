"""The live batch (aidmap.schema.fast.live_batch): one message per visibility class, byte for byte what the
ordinary path sends each viewer, and every subscriber's events in order."""

from __future__ import annotations

import json

from tests.conftest import Api, LiveServer
from tests.factories import HANOI, create_need, pledge, sign_up
from tests.live import LiveClient

SELECTION = "cursor kind distanceMeters need { id title status isMine exactLocation { lat lon } contactPhone approximateLocation { lat lon } }"
# Planned by the lean path, so written by the batch for viewers without private fields.
BATCHED = f"subscription ($near: GeoPointInput!) {{ needsNearby(near: $near, radiusMeters: 4000) {{ {SELECTION} }} }}"
# An inline fragment at the top of the selection: strawberry's own pipeline, the same data.
ORDINARY = (
    "subscription ($near: GeoPointInput!) { needsNearby(near: $near, radiusMeters: 4000) "
    f"{{ ... on NeedEvent {{ {SELECTION} }} }} }}"
)
CANCEL_NEED = "mutation ($input: CancelNeedInput!) { cancelNeed(input: $input) { errors { code } } }"


def _raw_next(client: LiveClient) -> str:
    while True:
        raw = client.ws.recv(timeout=10)
        assert isinstance(raw, str)
        kind = json.loads(raw)["type"]
        if kind == "next":
            return raw
        assert kind == "ping", raw
        client.ws.send(json.dumps({"type": "pong"}))


def test_each_viewer_gets_from_the_batch_exactly_the_bytes_of_the_ordinary_path(
    api: Api, live_server: LiveServer
) -> None:
    batches = live_server.app.state.live_batches
    requester, donor, stranger = sign_up(api), sign_up(api), sign_up(api)
    viewers = {"anonymous": None, "stranger": stranger, "requester": requester, "donor": donor}
    near = {"lat": HANOI["lat"] + 0.004, "lon": HANOI["lon"]}
    pairs = {
        name: (LiveClient(live_server.url, token), LiveClient(live_server.url, token))
        for name, token in viewers.items()
    }
    try:
        for batched, ordinary in pairs.values():
            batched.subscribe(BATCHED, {"near": near})  # operation id "1" on both sockets
            ordinary.subscribe(ORDINARY, {"near": near})
        pairs["anonymous"][0].nothing_within(0.3)
        before = batches.direct_sends
        need = create_need(api, requester, title='Gạo cho 4 người "khẩn"', quantity=5)
        pledge(api, donor, need["id"], 1)
        assert api.data(CANCEL_NEED, {"input": {"needId": need["id"]}}, requester)["cancelNeed"]["errors"] == []
        frames = {
            name: ([_raw_next(b) for _ in range(3)], [_raw_next(o) for _ in range(3)]) for name, (b, o) in pairs.items()
        }
    finally:
        for batched, ordinary in pairs.values():
            batched.close()
            ordinary.close()

    for name, (from_batch, from_ordinary) in frames.items():
        assert from_batch == from_ordinary, name
    events = {name: [json.loads(f)["payload"]["data"]["needsNearby"] for f in got] for name, (got, _) in frames.items()}
    # Strangers (anonymous or signed in) see the public record only, and were served by the batch.
    for name in ("anonymous", "stranger"):
        assert all(e["need"]["exactLocation"] is None and e["need"]["contactPhone"] is None for e in events[name])
        assert frames[name][0] == [f for f in frames["anonymous"][0]]  # one class: the same bytes
    assert batches.direct_sends - before >= 6
    # The requester sees the exact point: never a shared frame, their own execution.
    assert all(e["need"]["exactLocation"] is not None and e["need"]["isMine"] for e in events["requester"])
    assert frames["requester"][0] != frames["stranger"][0]
    assert [e["kind"] for e in events["stranger"]] == ["CREATED", "UPDATED", "CLOSED"]


def test_a_burst_of_events_arrives_complete_and_in_order(api: Api, live_server: LiveServer) -> None:
    requester = sign_up(api)
    batches = live_server.app.state.live_batches
    with LiveClient(live_server.url) as client, LiveClient(live_server.url, requester) as owner:
        client.subscribe(BATCHED, {"near": HANOI})
        owner.subscribe(BATCHED, {"near": HANOI})  # the owner's events take their own stream
        client.nothing_within(0.3)
        before = batches.direct_sends
        titles = [f"burst {i}" for i in range(15)]
        needs = [create_need(api, requester, title=t) for t in titles]
        for need in needs[::3]:
            api.data(CANCEL_NEED, {"input": {"needId": need["id"]}}, requester)
        total = len(titles) + len(needs[::3])
        got = [json.loads(_raw_next(client))["payload"]["data"]["needsNearby"] for _ in range(total)]
        mine = [json.loads(_raw_next(owner))["payload"]["data"]["needsNearby"] for _ in range(total)]
        assert client.nothing_within(0.3)
    assert batches.direct_sends - before >= total
    for events in (got, mine):
        assert [e["need"]["title"] for e in events[: len(titles)]] == titles
        assert [e["kind"] for e in events[len(titles) :]] == ["CLOSED"] * len(needs[::3])
        cursors = [e["cursor"] for e in events]
        assert len(set(cursors)) == total
    # Cursors are opaque; the two streams carry the same events in the same order.
    assert [e["cursor"] for e in got] == [e["cursor"] for e in mine]
