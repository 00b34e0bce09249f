"""Subscriptions over a real websocket: filters, replay after reconnect, activity, message privacy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, LiveServer
from tests.factories import HANOI, create_need, create_offer, pledge, sign_up
from tests.live import LiveClient

NEEDS_NEARBY = """
subscription ($near: GeoPointInput!, $radius: Float!, $categories: [NeedCategory!], $after: String) {
  needsNearby(near: $near, radiusMeters: $radius, categories: $categories, after: $after) {
    cursor kind distanceMeters need { id title status exactLocation { lat } }
  }
}"""
MY_ACTIVITY = """
subscription ($after: String) {
  myActivity(after: $after) { cursor kind need { title } pledge { quantity status } message { body isMine } }
}"""
SEND = (
    """mutation ($input: SendMessageInput!) { sendMessage(input: $input) { message { body } errors { field code } } }"""
)
MESSAGES = "query ($id: ID!) { messages(pledgeId: $id) { body isMine sender { displayName } } }"
CANCEL_NEED = "mutation ($input: CancelNeedInput!) { cancelNeed(input: $input) { errors { code } } }"


def _near(dlat: float = 0.0) -> dict[str, float]:
    return {"lat": HANOI["lat"] + dlat, "lon": HANOI["lon"]}


def _event(client: LiveClient) -> dict[str, Any]:
    payload = client.next()
    assert "errors" not in payload, payload
    data: dict[str, Any] = payload["data"]
    return data


def test_needs_nearby_sends_matching_needs_and_their_changes(api: Api, live_server: LiveServer) -> None:
    requester, donor = sign_up(api), sign_up(api)
    with LiveClient(live_server.url, donor) as client:
        client.subscribe(NEEDS_NEARBY, {"near": HANOI, "radius": 2000, "categories": ["FOOD"]})
        client.nothing_within(0.3)  # the subscription is registered before anything happens

        inside = create_need(api, requester, title="inside", location=_near(0.005), quantity=4)
        create_need(api, requester, title="other category", category="MEDICINE")
        create_need(api, requester, title="outside", location=_near(0.05))
        created = _event(client)["needsNearby"]
        pledge(api, donor, inside["id"], 1)
        updated = _event(client)["needsNearby"]
        pledge(api, donor, inside["id"], 3)
        closed = _event(client)["needsNearby"]

        assert (created["kind"], created["need"]["title"]) == ("CREATED", "inside")
        assert created["need"]["exactLocation"] is None and created["distanceMeters"] % 100 == 0
        assert (updated["kind"], updated["need"]["status"]) == ("UPDATED", "PARTLY_PLEDGED")
        # The donor now has an active pledge, so the event carries the exact location.
        assert updated["need"]["exactLocation"] is not None
        assert (closed["kind"], closed["need"]["status"]) == ("CLOSED", "PLEDGED")
        assert client.nothing_within(1.5)


def test_reconnecting_with_the_last_cursor_replays_exactly_what_was_missed(api: Api, live_server: LiveServer) -> None:
    requester, donor = sign_up(api), sign_up(api)
    variables: dict[str, Any] = {"near": HANOI, "radius": 3000}
    with LiveClient(live_server.url, donor) as client:
        client.subscribe(NEEDS_NEARBY, variables)
        create_need(api, requester, title="seen")
        last = _event(client)["needsNearby"]
    assert last["need"]["title"] == "seen"

    for i in range(3):
        create_need(api, requester, title=f"missed {i}")

    with LiveClient(live_server.url, donor) as client:
        client.subscribe(NEEDS_NEARBY, {**variables, "after": last["cursor"]})
        replayed = [_event(client)["needsNearby"]["need"]["title"] for _ in range(3)]
        assert client.nothing_within(0.5)
        create_need(api, requester, title="live")
        live = _event(client)["needsNearby"]["need"]["title"]

    assert replayed == ["missed 0", "missed 1", "missed 2"]
    assert live == "live"


def test_my_activity_and_messages_reach_only_the_two_parties(api: Api, live_server: LiveServer) -> None:
    requester, donor, stranger = sign_up(api, "Requester"), sign_up(api, "Donor"), sign_up(api, "Stranger")
    need = create_need(api, requester, title="gạo")
    with LiveClient(live_server.url, requester) as mine, LiveClient(live_server.url, stranger) as theirs:
        mine.subscribe(MY_ACTIVITY)
        theirs.subscribe(MY_ACTIVITY)
        made = pledge(api, donor, need["id"], 2)["pledge"]
        pledged = _event(mine)["myActivity"]
        sent = api.data(SEND, {"input": {"pledgeId": made["id"], "body": "Chiều nay tôi mang tới"}}, donor)[
            "sendMessage"
        ]
        message = _event(mine)["myActivity"]
        intruder = api.data(SEND, {"input": {"pledgeId": made["id"], "body": "hi"}}, stranger)["sendMessage"]
        empty = api.data(SEND, {"input": {"pledgeId": made["id"], "body": "  "}}, donor)["sendMessage"]
        assert theirs.nothing_within(1.0)

    assert (pledged["kind"], pledged["need"]["title"], pledged["pledge"]["quantity"]) == ("PLEDGE_CREATED", "gạo", 2)
    assert sent["errors"] == []
    assert message["kind"] == "MESSAGE_SENT"
    assert message["message"] == {"body": "Chiều nay tôi mang tới", "isMine": False}
    assert intruder["errors"] == [{"field": "pledgeId", "code": "NOT_FOUND"}]
    assert empty["errors"] == [{"field": "body", "code": "REQUIRED"}]
    thread = api.data(MESSAGES, {"id": made["id"]}, requester)["messages"]
    assert thread == [{"body": "Chiều nay tôi mang tới", "isMine": False, "sender": {"displayName": "Donor"}}]
    hidden = api.post(MESSAGES, {"id": made["id"]}, stranger)
    assert hidden["data"] is None and hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_activity_needs_a_valid_token(api: Api, live_server: LiveServer) -> None:
    with LiveClient(live_server.url) as anonymous:
        anonymous.subscribe(MY_ACTIVITY)
        assert anonymous.next()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with pytest.raises(Exception) as rejected:
        LiveClient(live_server.url, "not-a-token")
    assert "4403" in str(rejected.value)


def test_bad_subscription_arguments_get_a_typed_error(api: Api, live_server: LiveServer) -> None:
    with LiveClient(live_server.url) as client:
        client.subscribe(NEEDS_NEARBY, {"near": {"lat": 100, "lon": 0}, "radius": 1000})
        error = client.next()["errors"][0]
    assert error["extensions"] == {"code": "OUT_OF_RANGE", "field": "near"}


def test_one_event_is_read_once_for_all_subscribers_of_a_process(api: Api, live_server: LiveServer) -> None:
    requester, donor = sign_up(api), sign_up(api)
    snapshots = live_server.app.state.snapshots
    clients = [LiveClient(live_server.url, donor if i == 0 else None) for i in range(5)]
    try:
        for client in clients:
            client.subscribe(NEEDS_NEARBY, {"near": HANOI, "radius": 3000})
        clients[0].nothing_within(0.3)
        create_need(api, requester, title="shared")
        received = [_event(c)["needsNearby"]["need"]["title"] for c in clients]
    finally:
        for client in clients:
            client.close()
    assert received == ["shared"] * 5
    assert snapshots.reads == 1


OFFERS_NEARBY = """
subscription ($near: GeoPointInput!, $categories: [NeedCategory!]) {
  offersNearby(near: $near, radiusMeters: 2000, categories: $categories) {
    cursor kind distanceMeters offer { title status exactLocation { lat } }
  }
}"""
WITHDRAW = "mutation ($input: WithdrawOfferInput!) { withdrawOffer(input: $input) { errors { code } } }"


def test_offers_nearby_sends_matching_offers_and_their_withdrawal(api: Api, live_server: LiveServer) -> None:
    requester, donor = sign_up(api), sign_up(api)
    with LiveClient(live_server.url, requester) as client:
        client.subscribe(OFFERS_NEARBY, {"near": HANOI, "categories": ["STUDY_DEVICE"]})
        client.nothing_within(0.3)
        laptop = create_offer(api, donor, title="laptop", category="STUDY_DEVICE", location=_near(0.005))
        create_offer(api, donor, title="rice", category="FOOD", location=_near(0.005))
        create_offer(api, donor, title="far laptop", category="STUDY_DEVICE", location=_near(0.05))
        created = _event(client)["offersNearby"]
        api.data(WITHDRAW, {"input": {"offerId": laptop["id"]}}, donor)
        withdrawn = _event(client)["offersNearby"]
        assert client.nothing_within(1.0)

    assert (created["kind"], created["offer"]["title"], created["offer"]["exactLocation"]) == (
        "CREATED",
        "laptop",
        None,
    )
    assert created["distanceMeters"] % 100 == 0
    assert (withdrawn["kind"], withdrawn["offer"]["status"]) == ("CLOSED", "WITHDRAWN")


def test_a_selection_is_executed_once_per_event_and_each_subscriber_gets_its_own_distance(
    api: Api, live_server: LiveServer
) -> None:
    requester, donor = sign_up(api), sign_up(api)
    shared = live_server.app.state.shared_results
    centres = [_near(0.0), _near(0.01), _near(0.02)]
    clients = [LiveClient(live_server.url) for _ in centres] + [LiveClient(live_server.url, donor)]
    try:
        for client, centre in zip(clients, [*centres, HANOI], strict=True):
            client.subscribe(NEEDS_NEARBY, {"near": centre, "radius": 5000})
        clients[0].nothing_within(0.3)
        before = shared.executions
        api.data(CANCEL_NEED, {"input": {"needId": create_need(api, requester, title="x")["id"]}}, requester)
        events = [[_event(c)["needsNearby"] for _ in range(2)] for c in clients]
    finally:
        for client in clients:
            client.close()

    created = [e[0] for e in events]
    assert [e["kind"] for e in created] == ["CREATED"] * 4
    distances = [e["distanceMeters"] for e in created[:3]]
    assert len(set(distances)) == 3, "each subscriber keeps its own distance"
    # Two events (created, cancelled) x one public payload: executed twice, not eight times.
    # A signed-in donor without a pledge on this need gets the same public payload.
    assert shared.executions - before == 2
    assert created[3]["need"]["exactLocation"] is None


def test_area_subscriptions_take_the_lean_path_and_others_strawberrys(api: Api, live_server: LiveServer) -> None:
    from aidmap.schema.fast.live_socket import AidmapTransportWSHandler

    token = sign_up(api)
    before = AidmapTransportWSHandler.lean_operations
    with LiveClient(live_server.url, token) as client:
        client.subscribe(NEEDS_NEARBY, {"near": HANOI, "radius": 1000})
        client.subscribe(MY_ACTIVITY)
        client.subscribe("subscription { needsNearby(near: {lat: 0, lon: 0}, radiusMeters: 1) { nope } }")
        invalid = client.next()
        client.nothing_within(0.3)
    assert AidmapTransportWSHandler.lean_operations - before == 1
    assert "nope" in invalid["errors"][0]["message"]


def test_a_shared_event_result_never_carries_another_viewers_fields(api: Api, live_server: LiveServer, db: Any) -> None:
    """Subscribers who send the same document share one execution per event, so a field that depends on who
    asks (the viewer's own pledges, with their phone and offer's exact point) must not reach anyone else."""
    from aidmap.db.cursors import event_cursor

    document = """subscription ($near: GeoPointInput!, $after: String) {
      needsNearby(near: $near, radiusMeters: 3000, after: $after) {
        cursor need { id pledges { status donor { phone } offer { exactLocation { lat lon } } } } } }"""
    requester, donor, other = sign_up(api), sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=5)
    offer = create_offer(api, donor)
    made = pledge(api, donor, need["id"], 1, offer_id=offer["id"])
    cancelled = api.data(
        "mutation ($input: CancelPledgeInput!) { cancelPledge(input: $input) { errors { code } } }",
        {"input": {"pledgeId": made["pledge"]["id"]}}, donor,
    )  # fmt: skip
    assert cancelled["cancelPledge"]["errors"] == []
    with LiveClient(live_server.url, donor) as client:
        client.subscribe(document, {"near": HANOI})
        assert client.nothing_within(0.3)
        before = db.execute("SELECT max(seq) FROM events").fetchone()[0]
        pledge(api, other, need["id"], 1)
        seen_by_donor = _event(client)["needsNearby"]
    # The donor's own (cancelled) pledge, with its phone and its offer's exact point: theirs to see.
    assert seen_by_donor["need"]["pledges"][0]["offer"]["exactLocation"] is not None

    with LiveClient(live_server.url) as stranger:
        stranger.subscribe(document, {"near": HANOI, "after": event_cursor(before)})
        replayed = _event(stranger)["needsNearby"]
    assert replayed["cursor"] == seen_by_donor["cursor"]
    assert replayed["need"]["pledges"] == []
