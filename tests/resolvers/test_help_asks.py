"""What a donor's page restores on load, and who follows a pledge live.

myHelpAsks: the instant-help requests a donor is asked in the current round and nobody has answered,
with the need's cell only (no exact place, no phone) until they accept. Pledge events (created,
cancelled, delivered) reach whoever filed the need for someone, also after the person claimed it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from aidmap.settings import Settings
from tests.conftest import Api
from tests.factories import HANOI, SIGN_UP, account_pk, create_need, need_input, pledge, sign_up

AVAILABLE = "mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) { errors { code } } }"
REQUEST = """mutation ($id: ID!) { requestHelpNow(input: {needId: $id}) { helpRequest { id status round }
  errors { code } } }"""
ACCEPT = "mutation ($id: ID!) { acceptHelpRequest(input: {helpRequestId: $id}) { errors { code } } }"
ASKS = """{ myHelpAsks { id status round need { id title urgency approximateLocation { lat lon }
  exactLocation { lat lon } contactPhone } } }"""
FILE = "mutation ($input: CreateNeedInput!) { createNeed(input: $input) { claimCode need { id } errors { code } } }"
CLAIM = "mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { errors { code } } }"
CONFIRM = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { code } } }"
CANCEL = "mutation ($id: ID!) { cancelPledge(input: {pledgeId: $id}) { errors { code } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, help_timeout_seconds=600.0)  # no escalation behind the test's back


def _available(api: Api, token: str) -> None:
    near = {"available": True, "near": {"lat": HANOI["lat"] + 0.003, "lon": HANOI["lon"]}, "radiusMeters": 3000}
    assert api.data(AVAILABLE, {"input": near}, token)["setAvailability"]["errors"] == []


def test_a_donor_reads_back_the_asks_waiting_for_them_without_the_exact_place(api: Api, db: Any) -> None:
    requester = sign_up(api, "Bà Lan")
    asked, resting = sign_up(api, "Minh"), sign_up(api, "Hùng")
    _available(api, asked)
    need = create_need(api, requester, title="Thuốc gấp", urgency="CRITICAL", quantity=2)
    assert api.data(ASKS, token=asked)["myHelpAsks"] == []
    request = api.data(REQUEST, {"id": need["id"]}, requester)["requestHelpNow"]["helpRequest"]
    assert request["status"] == "OPEN"

    asks = api.data(ASKS, token=asked)["myHelpAsks"]
    assert [(a["id"], a["status"], a["round"]) for a in asks] == [(request["id"], "OPEN", 1)]
    shown = asks[0]["need"]
    assert shown["title"] == "Thuốc gấp" and shown["approximateLocation"] == need["approximateLocation"]
    assert shown["exactLocation"] is None and shown["contactPhone"] is None  # only once they accept
    for other in (resting, requester):  # not asked (the requester is never asked for their own need)
        assert api.data(ASKS, token=other)["myHelpAsks"] == []
    assert api.post(ASKS)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # The round moved on (as the cascade job does): the ask is no longer the donor's to answer.
    db.execute("UPDATE help_requests SET round = 2")
    assert api.data(ASKS, token=asked)["myHelpAsks"] == []
    db.execute("UPDATE help_requests SET round = 1")
    assert len(api.data(ASKS, token=asked)["myHelpAsks"]) == 1
    assert api.data(ACCEPT, {"id": request["id"]}, asked)["acceptHelpRequest"]["errors"] == []
    assert api.data(ASKS, token=asked)["myHelpAsks"] == []  # answered


def test_an_ask_on_a_need_that_closed_is_gone(api: Api) -> None:
    requester, asked = sign_up(api), sign_up(api)
    _available(api, asked)
    need = create_need(api, requester, urgency="HIGH")
    api.data(REQUEST, {"id": need["id"]}, requester)
    assert len(api.data(ASKS, token=asked)["myHelpAsks"]) == 1
    cancel = "mutation ($id: ID!) { cancelNeed(input: {needId: $id}) { errors { code } } }"
    assert api.data(cancel, {"id": need["id"]}, requester)["cancelNeed"]["errors"] == []
    assert api.data(ASKS, token=asked)["myHelpAsks"] == []


def _audiences(db: Any, kind: str) -> list[set[int]]:
    rows = db.execute("SELECT audience FROM events WHERE kind = %s ORDER BY seq", (kind,)).fetchall()
    return [set(r[0]) for r in rows]


def test_pledge_events_reach_the_operator_who_filed_the_need_after_the_claim_too(api: Api, db: Any) -> None:
    operator, donor = sign_up(api, "Tổng đài viên"), sign_up(api, "Minh")
    filed = api.data(FILE, {"input": need_input(quantity=2, onBehalfOf={"displayName": "Bà Năm",
        "phone": "0977 222 333"})}, operator)["createNeed"]  # fmt: skip
    assert filed["errors"] == []
    need_id = filed["need"]["id"]
    code = filed["claimCode"]
    person = api.data(SIGN_UP, {"input": {"displayName": "Năm", "phone": "0977222333",
        "password": "correct horse"}})["signUp"]["token"]  # fmt: skip
    assert api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, person)["claimNeed"]["errors"] == []

    first = pledge(api, donor, need_id, 1)["pledge"]["id"]
    second = pledge(api, donor, need_id, 1)["pledge"]["id"]
    assert api.data(CONFIRM, {"id": first}, person)["confirmDelivery"]["errors"] == []
    assert api.data(CANCEL, {"id": second}, donor)["cancelPledge"]["errors"] == []

    everyone = {account_pk(db, t) for t in (person, donor, operator)}
    for kind in ("PLEDGE_CREATED", "PLEDGE_DELIVERED", "PLEDGE_CANCELLED"):
        assert everyone <= _audiences(db, kind)[-1], kind
    # A need nobody filed for someone: just its owner and the donor, as before.
    own = create_need(api, person, quantity=1)
    pledge(api, donor, own["id"], 1)
    assert _audiences(db, "PLEDGE_CREATED")[-1] == {account_pk(db, person), account_pk(db, donor)}


def test_a_help_request_id_in_nodes_is_the_help_request_for_those_involved_only(api: Api, db: Any) -> None:
    requester = sign_up(api, "Bà Lan")
    asked, stranger = sign_up(api, "Minh"), sign_up(api, "Người lạ")
    _available(api, asked)
    need = create_need(api, requester, urgency="CRITICAL")
    request = api.data(REQUEST, {"id": need["id"]}, requester)["requestHelpNow"]["helpRequest"]
    # A pledge the requester may see: before, a help request's id was looked up as a pledge's number.
    pledge(api, sign_up(api, "Hùng"), need["id"], 1)
    nodes = """query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id
      ... on HelpRequest { status round need { id } } } }"""

    for viewer in (requester, asked):
        found = api.data(nodes, {"ids": [request["id"]]}, viewer)["nodes"]
        assert found == [{"__typename": "HelpRequest", "id": request["id"], "status": "OPEN", "round": 1,
                          "need": {"id": need["id"]}}]  # fmt: skip
    assert api.data(nodes, {"ids": [request["id"]]}, stranger)["nodes"] == [None]
    assert api.data(nodes, {"ids": [request["id"]]})["nodes"] == [None]

    # A donor asked once follows it only while they are asked (as myHelpAsks): not after the round
    # moved on, nor once the need is no longer open; the requester still does.
    db.execute("UPDATE help_requests SET round = 2")
    assert api.data(nodes, {"ids": [request["id"]]}, asked)["nodes"] == [None]
    db.execute("UPDATE help_requests SET round = 1")
    db.execute("UPDATE needs SET status = 'UNDER_REVIEW'")
    assert api.data(nodes, {"ids": [request["id"]]}, asked)["nodes"] == [None]
    assert api.data(nodes, {"ids": [request["id"]]}, requester)["nodes"][0]["status"] == "OPEN"
