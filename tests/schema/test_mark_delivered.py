"""The donor says "I delivered it"; the requester (or whoever speaks for them) confirms."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.factories import create_need, pledge, sign_up

MARK = """mutation ($id: ID!) { markDelivered(input: {pledgeId: $id}) {
  pledge { id status markedDeliveredAt deliveredAt need { status quantityDelivered } } errors { field code message } } }"""
CONFIRM = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { pledge { status } errors { code } } }"
CANCEL = "mutation ($id: ID!) { cancelPledge(input: {pledgeId: $id}) { errors { code } } }"
SEEN = "query ($id: ID!) { node(id: $id) { ... on Need { pledges { id status markedDeliveredAt } } } }"


def test_the_donor_marks_delivered_and_only_the_requester_makes_it_so(api: Api) -> None:
    requester, donor, stranger = sign_up(api, "Lan"), sign_up(api, "Minh"), sign_up(api, "Người lạ")
    need = create_need(api, requester, quantity=3)
    made = pledge(api, donor, need["id"], 2)["pledge"]

    by_stranger = api.data(MARK, {"id": made["id"]}, stranger)["markDelivered"]
    by_requester = api.data(MARK, {"id": made["id"]}, requester)["markDelivered"]
    marked = api.data(MARK, {"id": made["id"]}, donor)["markDelivered"]
    twice = api.data(MARK, {"id": made["id"]}, donor)["markDelivered"]
    seen = api.data(SEEN, {"id": need["id"]}, requester)["node"]["pledges"]

    # A stranger learns nothing about the pledge; the requester is told who may do it.
    assert by_stranger["pledge"] is None and [e["code"] for e in by_stranger["errors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in by_requester["errors"]] == ["FORBIDDEN"]
    # Marked, but still pledged: nothing is delivered until the requester says it arrived.
    assert marked["errors"] == [] and marked["pledge"]["markedDeliveredAt"]
    assert marked["pledge"]["status"] == "PLEDGED" and marked["pledge"]["deliveredAt"] is None
    assert marked["pledge"]["need"] == {"status": "PARTLY_PLEDGED", "quantityDelivered": 0}
    assert [e["code"] for e in twice["errors"]] == ["INVALID_STATE"]
    assert [(p["status"], bool(p["markedDeliveredAt"])) for p in seen] == [("PLEDGED", True)]

    confirmed = api.data(CONFIRM, {"id": made["id"]}, requester)["confirmDelivery"]
    after = api.data(MARK, {"id": made["id"]}, donor)["markDelivered"]
    assert confirmed == {"pledge": {"status": "DELIVERED"}, "errors": []}
    assert [e["code"] for e in after["errors"]] == ["INVALID_STATE"]


def test_a_cancelled_pledge_cannot_be_marked_delivered(api: Api) -> None:
    requester, donor = sign_up(api), sign_up(api)
    made = pledge(api, donor, create_need(api, requester)["id"], 1)["pledge"]
    assert api.data(CANCEL, {"id": made["id"]}, requester)["cancelPledge"]["errors"] == []
    refused = api.data(MARK, {"id": made["id"]}, donor)["markDelivered"]
    assert [e["code"] for e in refused["errors"]] == ["INVALID_STATE"] and refused["pledge"] is None


ACCEPT = "mutation ($id: ID!) { acceptPledge(input: {pledgeId: $id}) { errors { code } } }"


def test_a_donor_never_given_the_address_cannot_ask_for_a_confirmation(make_api: Any) -> None:
    # With AIDMAP_DISCLOSE_ON=accept, a pledge not yet accepted has delivered nothing: marking it would
    # only fish for a false confirmation (and the trust and credit a delivery brings).
    api = make_api(disclose_on="accept")
    requester, donor = sign_up(api), sign_up(api)
    made = pledge(api, donor, create_need(api, requester)["id"], 1)["pledge"]
    early = api.data(MARK, {"id": made["id"]}, donor)["markDelivered"]
    assert [e["code"] for e in early["errors"]] == ["INVALID_STATE"]
    assert api.data(ACCEPT, {"id": made["id"]}, requester)["acceptPledge"]["errors"] == []
    assert api.data(MARK, {"id": made["id"]}, donor)["markDelivered"]["errors"] == []


def test_the_claim_takes_the_number_as_copied_from_the_text(api: Api) -> None:
    # "request 123. Sign up with this number...": a copied full stop, a tab or a no-break space.
    from aidmap.schema.mutation import _claimed_need

    assert {_claimed_need(v) for v in ("123.", "\t123", "1\u00a023", "#123", " 12 3 ")} == {123}
