"""Matching rounds (aidmap/resolvers/proposals.py): proposals on myActivity, accepted as real pledges, or declined."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap.jobs.matching import matching_job
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import CREATE_NEED, create_offer, matching_round, need_input, pledge, sign_up
from tests.live import LiveClient

CONFIRM = """mutation ($input: ConfirmDeliveryInput!) { confirmDelivery(input: $input) { errors { code } } }"""
ACTIVITY = "subscription { myActivity { kind need { id } proposal { id quantity status need { id } offer { id } } } }"
MINE = "{ myProposals { id quantity status score need { id quantityPledged } offer { id } } }"
ACCEPT = """mutation ($input: ProposalInput!) { acceptProposal(input: $input) {
  proposal { status } pledge { quantity status need { id quantityPledged } offer { id quantityPledged } }
  errors { field code } } }"""
DECLINE = """mutation ($input: ProposalInput!) { declineProposal(input: $input) {
  proposal { status } errors { field code } } }"""


def _file(api: Api, operator: str, household: str, phone: str) -> str:
    payload = api.data(
        CREATE_NEED,
        {"input": need_input(title=household, quantity=2, onBehalfOf={"displayName": household, "phone": phone})},
        operator,
    )["createNeed"]
    assert payload["errors"] == [], payload
    need_id: str = payload["need"]["id"]
    return need_id


def test_a_round_proposes_to_the_never_helped_household_and_accepting_pledges(
    api: Api, live_server: LiveServer, settings: Settings
) -> None:
    operator, earlier, donor, stranger = (sign_up(api, n) for n in ("Tổng đài", "Earlier", "Donor", "Stranger"))
    helped = _file(api, operator, "HL-001", "0977 000 011")
    waiting = _file(api, operator, "HL-002", "0977 000 012")
    first = pledge(api, earlier, helped, 1)
    assert (
        api.data(CONFIRM, {"input": {"pledgeId": first["pledge"]["id"]}}, operator)["confirmDelivery"]["errors"] == []
    )
    offer = create_offer(api, donor, quantity=2, radiusMeters=3000)

    with LiveClient(live_server.url, donor) as activity:
        activity.subscribe(ACTIVITY)
        activity.nothing_within(0.3)
        report = matching_round(settings)
        event = activity.next()["data"]["myActivity"]
    assert (report.offers, report.proposals) == (1, 1)
    assert event["kind"] == "MATCH_PROPOSED"
    proposal = event["proposal"]
    assert (proposal["quantity"], proposal["status"], proposal["need"]["id"], proposal["offer"]["id"]) == (
        2, "PROPOSED", waiting, offer["id"]
    )  # fmt: skip
    listed = api.data(MINE, None, donor)["myProposals"]
    assert [(p["id"], p["need"]["id"]) for p in listed] == [(proposal["id"], waiting)]
    assert api.data(MINE, None, stranger)["myProposals"] == []
    # Nothing new while the donor has not answered.
    assert matching_round(settings).proposals == 0

    refused = api.data(ACCEPT, {"input": {"proposalId": proposal["id"]}}, stranger)["acceptProposal"]
    accepted = api.data(ACCEPT, {"input": {"proposalId": proposal["id"]}}, donor)["acceptProposal"]
    again = api.data(ACCEPT, {"input": {"proposalId": proposal["id"]}}, donor)["acceptProposal"]
    assert refused == {"proposal": None, "pledge": None, "errors": [{"field": "proposalId", "code": "NOT_FOUND"}]}
    assert accepted["errors"] == [] and accepted["proposal"] == {"status": "ACCEPTED"}
    assert accepted["pledge"] == {
        "quantity": 2, "status": "PLEDGED",
        "need": {"id": waiting, "quantityPledged": 2}, "offer": {"id": offer["id"], "quantityPledged": 2},
    }  # fmt: skip
    assert again["errors"] == [{"field": "proposalId", "code": "INVALID_STATE"}]
    assert api.data(MINE, None, donor)["myProposals"] == []


def test_a_declined_pair_is_not_proposed_again(api: Api, settings: Settings, db: psycopg.Connection[Any]) -> None:
    operator, donor = sign_up(api, "Tổng đài"), sign_up(api, "Donor")
    only = _file(api, operator, "HL-003", "0977 000 013")
    own_need = api.data(CREATE_NEED, {"input": need_input(title="mine")}, donor)["createNeed"]["need"]["id"]
    offer = create_offer(api, donor, quantity=5, radiusMeters=3000)
    assert matching_round(settings).proposals == 1
    proposal = api.data(MINE, None, donor)["myProposals"][0]
    assert proposal["need"]["id"] == only != own_need  # never the donor's own need
    declined = api.data(DECLINE, {"input": {"proposalId": proposal["id"]}}, donor)["declineProposal"]
    assert declined == {"proposal": {"status": "DECLINED"}, "errors": []}
    assert matching_round(settings).proposals == 0
    assert db.execute("SELECT count(*) FROM match_proposals").fetchone() == (1,)
    bad = api.data(DECLINE, {"input": {"proposalId": offer["id"]}}, donor)["declineProposal"]
    assert bad["errors"] and bad["errors"][0]["field"] == "proposalId"


def test_accepting_goes_through_the_pledge_rules(api: Api, settings: Settings, db: psycopg.Connection[Any]) -> None:
    operator, donor, other = sign_up(api, "Tổng đài"), sign_up(api, "Donor"), sign_up(api, "Other")
    need = _file(api, operator, "HL-004", "0977 000 014")
    create_offer(api, donor, quantity=2, radiusMeters=3000)
    assert matching_round(settings).proposals == 1
    proposal = api.data(MINE, None, donor)["myProposals"][0]
    assert pledge(api, other, need, 2)["errors"] == []  # someone else covered it meanwhile
    late = api.data(ACCEPT, {"input": {"proposalId": proposal["id"]}}, donor)["acceptProposal"]
    assert late["pledge"] is None and late["errors"][0]["code"] in ("INVALID_STATE", "QUANTITY_EXCEEDS_OPEN")
    assert db.execute("SELECT status FROM match_proposals").fetchone() == ("PROPOSED",)  # nothing changed


def test_rounds_are_off_by_default() -> None:
    assert matching_job(sessions=None, settings=Settings()) is None  # type: ignore[arg-type]
    assert matching_job(sessions=None, settings=Settings(matching_round_minutes=5)) is not None  # type: ignore[arg-type]
