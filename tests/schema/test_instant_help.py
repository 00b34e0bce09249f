"""Instant help: the 3 nearest available donors are asked, then the next 3 after the timeout; first to accept wins."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, LiveServer
from tests.factories import HANOI, create_need, sign_up
from tests.live import LiveClient

AVAILABLE = """mutation ($input: SetAvailabilityInput!) {
  setAvailability(input: $input) { availability { available categories radiusMeters near { lat } } errors { field code } } }"""
REQUEST = """mutation ($input: RequestHelpNowInput!) {
  requestHelpNow(input: $input) { helpRequest { id status round } errors { field code message } } }"""
ACCEPT = """mutation ($input: AcceptHelpRequestInput!) {
  acceptHelpRequest(input: $input) { helpRequest { status } pledge { quantity status need { status } } errors { field code } } }"""
ACTIVITY = "subscription { myActivity { kind helpRequest { id status round } need { title } } }"


def _north(km: float) -> dict[str, float]:
    return {"lat": HANOI["lat"] + km / 111.2, "lon": HANOI["lon"]}


def _kinds(client: LiveClient, n: int) -> list[str]:
    return [client.next()["data"]["myActivity"]["kind"] for _ in range(n)]


def test_cascade_asks_three_then_the_next_three_and_the_first_acceptance_wins(
    api: Api, live_server: LiveServer
) -> None:
    requester = sign_up(api, "Bệnh nhân")
    donors = [sign_up(api, f"Bác sĩ {i}") for i in range(5)]
    for i, donor in enumerate(donors):
        payload = api.data(
            AVAILABLE,
            {"input": {"available": True, "categories": ["FOOD"], "near": _north(0.5 + i), "radiusMeters": 8000}},
            donor,
        )
        assert payload["setAvailability"]["errors"] == []
    too_far = sign_up(api)
    api.data(AVAILABLE, {"input": {"available": True, "near": _north(30), "radiusMeters": 5000}}, too_far)
    other_category = sign_up(api)
    api.data(
        AVAILABLE,
        {"input": {"available": True, "categories": ["MEDICINE"], "near": _north(0.1), "radiusMeters": 5000}},
        other_category,
    )
    resting = sign_up(api)
    api.data(AVAILABLE, {"input": {"available": True, "near": _north(0.2), "radiusMeters": 5000}}, resting)
    api.data(AVAILABLE, {"input": {"available": False}}, resting)
    need = create_need(api, requester, title="cần gấp", urgency="CRITICAL", quantity=2)

    clients = {name: LiveClient(live_server.url, token) for name, token in
               [("requester", requester), *[(f"d{i}", d) for i, d in enumerate(donors)], ("far", too_far)]}  # fmt: skip
    try:
        for client in clients.values():
            client.subscribe(ACTIVITY)
        clients["requester"].nothing_within(0.3)

        request = api.data(REQUEST, {"input": {"needId": need["id"]}}, requester)["requestHelpNow"]
        assert request["errors"] == [] and request["helpRequest"]["round"] == 1
        help_id = request["helpRequest"]["id"]
        first_round = [clients[f"d{i}"].next()["data"]["myActivity"] for i in range(3)]
        assert _kinds(clients["requester"], 1) == ["HELP_REQUESTED"]
        assert clients["d3"].nothing_within(0.2)

        # Nobody in round 1 accepts within the (1 s) timeout: the next nearest are asked.
        second_round = [clients[f"d{i}"].next(timeout=10)["data"]["myActivity"] for i in (3, 4)]
        assert _kinds(clients["requester"], 1) == ["HELP_ESCALATED"]
        late = api.data(ACCEPT, {"input": {"helpRequestId": help_id}}, donors[0])["acceptHelpRequest"]
        won = api.data(ACCEPT, {"input": {"helpRequestId": help_id}}, donors[4])["acceptHelpRequest"]
        second = api.data(ACCEPT, {"input": {"helpRequestId": help_id}}, donors[3])["acceptHelpRequest"]
        stranger = api.data(ACCEPT, {"input": {"helpRequestId": help_id}}, too_far)["acceptHelpRequest"]
        pledged, accepted = (clients["requester"].next()["data"]["myActivity"] for _ in range(2))
        assert clients["far"].nothing_within(0.3)
    finally:
        for client in clients.values():
            client.close()

    assert all(e["kind"] == "HELP_ASKED" and e["need"]["title"] == "cần gấp" for e in first_round + second_round)
    assert second_round[0]["helpRequest"]["round"] == 2
    assert late["errors"] == [{"field": "helpRequestId", "code": "INVALID_STATE"}]
    assert won["errors"] == [] and won["helpRequest"]["status"] == "ACCEPTED"
    assert won["pledge"] == {"quantity": 2, "status": "PLEDGED", "need": {"status": "PLEDGED"}}
    assert second["errors"] == [{"field": "helpRequestId", "code": "INVALID_STATE"}]
    assert stranger["errors"] == [{"field": "helpRequestId", "code": "NOT_FOUND"}]
    assert pledged["kind"] == "PLEDGE_CREATED"
    assert accepted["kind"] == "HELP_ACCEPTED" and accepted["helpRequest"]["status"] == "ACCEPTED"


def test_instant_help_is_for_urgent_needs_and_ends_when_no_donor_is_left(api: Api, live_server: LiveServer) -> None:
    requester = sign_up(api)
    calm = create_need(api, requester, title="không gấp", urgency="LOW")
    urgent = create_need(api, requester, title="gấp", urgency="HIGH")
    consult = create_need(api, requester, title="tư vấn", urgency="LOW", category="MEDICAL_CONSULTATION")

    refused = api.data(REQUEST, {"input": {"needId": calm["id"]}}, requester)["requestHelpNow"]
    nobody = api.data(REQUEST, {"input": {"needId": urgent["id"]}}, requester)["requestHelpNow"]
    consultation = api.data(REQUEST, {"input": {"needId": consult["id"]}}, requester)["requestHelpNow"]
    someone_elses = api.data(REQUEST, {"input": {"needId": urgent["id"]}}, sign_up(api))["requestHelpNow"]
    bad: dict[str, Any] = api.data(AVAILABLE, {"input": {"available": True}}, requester)["setAvailability"]

    assert refused["errors"][0]["code"] == "INVALID_STATE"
    assert nobody["helpRequest"]["status"] == "EXHAUSTED"
    assert consultation["errors"] == [] and consultation["helpRequest"]["status"] == "EXHAUSTED"
    assert someone_elses["errors"][0]["code"] == "NOT_FOUND"
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {("near", "REQUIRED"), ("radiusMeters", "OUT_OF_RANGE")}


def test_my_availability_shows_what_was_set_and_only_to_the_donor(api: Api) -> None:
    donor = sign_up(api)
    query = "{ myAvailability { available categories radiusMeters near { lat lon } } }"
    assert api.data(query, token=donor)["myAvailability"] is None
    answer = api.data(
        AVAILABLE,
        {"input": {"available": True, "categories": ["FOOD"], "near": _north(1), "radiusMeters": 2000}},
        donor,
    )["setAvailability"]
    assert answer["errors"] == []
    mine = api.data(query, token=donor)["myAvailability"]
    assert mine == {"available": True, "categories": ["FOOD"], "radiusMeters": 2000.0, "near": _north(1)}
    api.data(AVAILABLE, {"input": {"available": False}}, donor)
    assert api.data(query, token=donor)["myAvailability"]["available"] is False
    assert api.post(query)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_an_accepted_ask_counts_against_the_donors_disclosure_limit(make_api: Any) -> None:
    # Accepting an ask discloses the need at once: without the pledge limits, one account switched to
    # available could collect address after address with no daily cap.
    api = make_api(disclosure_limit_per_day=1)
    donor = sign_up(api, "Bác sĩ")
    on = {"input": {"available": True, "categories": ["FOOD"], "near": _north(0.5), "radiusMeters": 8000}}
    assert api.data(AVAILABLE, on, donor)["setAvailability"]["errors"] == []
    answers = []
    for i in range(2):
        requester = sign_up(api, f"Bệnh nhân {i}")
        need = create_need(api, requester, title=f"cần gấp {i}", urgency="CRITICAL", quantity=1)
        request = api.data(REQUEST, {"input": {"needId": need["id"]}}, requester)["requestHelpNow"]
        assert request["errors"] == [], request
        answers.append(
            api.data(ACCEPT, {"input": {"helpRequestId": request["helpRequest"]["id"]}}, donor)["acceptHelpRequest"]
        )
    assert answers[0]["errors"] == [] and answers[0]["pledge"]["status"] == "PLEDGED"
    assert [e["code"] for e in answers[1]["errors"]] == ["DISCLOSURE_LIMIT"] and answers[1]["pledge"] is None
