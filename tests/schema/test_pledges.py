"""Pledges: the need's status follows quantities; cancel and confirm; the race for the last units."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import psycopg

from tests.conftest import Api, LiveServer
from tests.factories import PLEDGE, create_need, create_offer, pledge, sign_up

CANCEL = """
mutation ($input: CancelPledgeInput!) { cancelPledge(input: $input) { pledge { id status need { status quantityPledged } } errors { field code message } } }"""
CONFIRM = """
mutation ($input: ConfirmDeliveryInput!) { confirmDelivery(input: $input) { pledge { id status deliveredAt need { status quantityDelivered } } errors { field code message } } }"""
NEED = """
query ($id: ID!) { node(id: $id) { ... on Need { status quantityPledged quantityDelivered exactLocation { lat } contactPhone
  pledges { id quantity status donor { displayName } } } } }"""


def test_need_status_follows_pledged_and_delivered_quantities(api: Api) -> None:
    requester, donor_a, donor_b = sign_up(api, "Requester"), sign_up(api, "Donor A"), sign_up(api, "Donor B")
    need = create_need(api, requester, quantity=10)

    first = pledge(api, donor_a, need["id"], 4)
    second = pledge(api, donor_b, need["id"], 6)
    delivered_a = api.data(CONFIRM, {"input": {"pledgeId": first["pledge"]["id"]}}, requester)["confirmDelivery"]
    delivered_b = api.data(CONFIRM, {"input": {"pledgeId": second["pledge"]["id"]}}, requester)["confirmDelivery"]

    assert first["errors"] == [] and first["pledge"]["need"]["status"] == "PARTLY_PLEDGED"
    assert second["pledge"]["need"] == {"id": need["id"], "status": "PLEDGED", "quantityPledged": 10}
    assert delivered_a["pledge"]["status"] == "DELIVERED" and delivered_a["pledge"]["deliveredAt"]
    assert delivered_a["pledge"]["need"] == {"status": "PLEDGED", "quantityDelivered": 4}
    assert delivered_b["pledge"]["need"] == {"status": "FULFILLED", "quantityDelivered": 10}
    seen_by_requester = api.data(NEED, {"id": need["id"]}, requester)["node"]
    assert [(p["donor"]["displayName"], p["status"]) for p in seen_by_requester["pledges"]] == [
        ("Donor A", "DELIVERED"),
        ("Donor B", "DELIVERED"),
    ]


def test_pledge_rules(api: Api, db: psycopg.Connection[Any]) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=5)

    own = pledge(api, requester, need["id"], 1)
    too_much = pledge(api, donor, need["id"], 6)
    zero = pledge(api, donor, need["id"], 0)
    unknown = pledge(api, donor, "TmVlZDo5OTk5", 1)
    anonymous = api.data(PLEDGE, {"input": {"needId": need["id"], "quantity": 1}})["pledge"]

    assert own["errors"][0]["code"] == "OWN_NEED"
    assert too_much["errors"] == [
        {"field": "quantity", "code": "QUANTITY_EXCEEDS_OPEN", "message": "Only 5 kg are still needed."}
    ]
    assert zero["errors"][0]["code"] == "OUT_OF_RANGE"
    assert unknown["errors"][0]["code"] == "NOT_FOUND"
    assert anonymous["errors"][0]["code"] == "UNAUTHENTICATED"
    assert db.execute("SELECT count(*), (SELECT quantity_pledged FROM needs) FROM pledges").fetchone() == (0, 0)


def test_exact_location_goes_only_to_donors_with_an_active_pledge(api: Api) -> None:
    requester, donor, bystander = sign_up(api), sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=5)

    before = api.data(NEED, {"id": need["id"]}, donor)["node"]
    made = pledge(api, donor, need["id"], 2)["pledge"]
    during = api.data(NEED, {"id": need["id"]}, donor)["node"]
    other = api.data(NEED, {"id": need["id"]}, bystander)["node"]
    api.data(CANCEL, {"input": {"pledgeId": made["id"]}}, donor)
    after_cancel = api.data(NEED, {"id": need["id"]}, donor)["node"]

    assert before["exactLocation"] is None and before["contactPhone"] is None
    assert during["exactLocation"] is not None and during["contactPhone"] == "+84912345678"
    assert other["exactLocation"] is None and other["pledges"] == []
    assert after_cancel["exactLocation"] is None


def test_either_side_cancels_before_delivery_and_quantity_reopens(api: Api) -> None:
    requester, donor, stranger = sign_up(api), sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=4)
    by_donor = pledge(api, donor, need["id"], 4)["pledge"]

    forbidden = api.data(CANCEL, {"input": {"pledgeId": by_donor["id"]}}, stranger)["cancelPledge"]
    cancelled = api.data(CANCEL, {"input": {"pledgeId": by_donor["id"]}}, donor)["cancelPledge"]
    twice = api.data(CANCEL, {"input": {"pledgeId": by_donor["id"]}}, requester)["cancelPledge"]
    by_requester = pledge(api, donor, need["id"], 1)["pledge"]
    requester_cancel = api.data(CANCEL, {"input": {"pledgeId": by_requester["id"]}}, requester)["cancelPledge"]
    third = pledge(api, donor, need["id"], 1)["pledge"]
    donor_confirm = api.data(CONFIRM, {"input": {"pledgeId": third["id"]}}, donor)["confirmDelivery"]
    api.data(CONFIRM, {"input": {"pledgeId": third["id"]}}, requester)
    after_delivery = api.data(CANCEL, {"input": {"pledgeId": third["id"]}}, donor)["cancelPledge"]

    assert forbidden["errors"][0]["code"] == "NOT_FOUND"
    assert cancelled["pledge"]["status"] == "CANCELLED"
    assert cancelled["pledge"]["need"] == {"status": "OPEN", "quantityPledged": 0}
    assert twice["errors"][0]["code"] == "INVALID_STATE"
    assert requester_cancel["pledge"]["status"] == "CANCELLED"
    assert donor_confirm["errors"][0]["code"] == "FORBIDDEN"
    assert after_delivery["errors"][0]["code"] == "INVALID_STATE"


def test_pledging_from_an_offer_uses_up_the_offer(api: Api) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=10)
    offer = create_offer(api, donor, quantity=6)
    medicine = create_offer(api, donor, category="MEDICINE")
    someone_elses = create_offer(api, requester)

    made = pledge(api, donor, need["id"], 6, offer["id"])
    exhausted = pledge(api, donor, need["id"], 1, offer["id"])
    wrong_category = pledge(api, donor, need["id"], 1, medicine["id"])
    not_mine = pledge(api, donor, need["id"], 1, someone_elses["id"])
    offers = api.data("{ myOffers { edges { node { id status quantityPledged } } } }", token=donor)["myOffers"]["edges"]

    assert made["errors"] == []
    assert exhausted["errors"][0]["code"] == "OFFER_UNAVAILABLE"
    assert wrong_category["errors"][0]["code"] == "OFFER_UNAVAILABLE"
    assert not_mine["errors"][0]["code"] == "NOT_FOUND"
    by_id = {o["node"]["id"]: o["node"] for o in offers}
    assert by_id[offer["id"]]["status"] == "EXHAUSTED" and by_id[offer["id"]]["quantityPledged"] == 6
    api.data(CANCEL, {"input": {"pledgeId": made["pledge"]["id"]}}, donor)
    again = api.data("{ myOffers { edges { node { id status quantityPledged } } } }", token=donor)["myOffers"]["edges"]
    assert {o["node"]["id"]: o["node"]["status"] for o in again}[offer["id"]] == "ACTIVE"


def test_concurrent_pledges_never_commit_more_than_is_open(
    api: Api, live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    requester = sign_up(api)
    donors = [sign_up(api, f"Donor {i}") for i in range(12)]
    need = create_need(api, requester, quantity=25)

    def attempt(args: tuple[int, str]) -> dict[str, Any]:
        i, token = args
        # Each worker has its own HTTP connection, and so its own database connection on the server.
        with httpx2.Client(base_url=live_server.url, timeout=30) as client:
            response = client.post(
                "/graphql",
                json={"query": PLEDGE, "variables": {"input": {"needId": need["id"], "quantity": 1}}},
                headers={"Authorization": f"Bearer {token}"},
            )
            result: dict[str, Any] = response.json()["data"]["pledge"]
            return result

    jobs = [(i, donors[i % len(donors)]) for i in range(40)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, jobs))

    won = [r for r in results if not r["errors"]]
    lost = [r for r in results if r["errors"]]
    assert {e["code"] for r in lost for e in r["errors"]} <= {"QUANTITY_EXCEEDS_OPEN", "INVALID_STATE"}
    # 40 attempts of one unit on a need of 25: exactly 25 win, 15 get a typed error.
    assert (len(won), len(lost)) == (25, 15)
    stored = db.execute("SELECT quantity_pledged, status, (SELECT sum(quantity) FROM pledges) FROM needs").fetchone()
    assert stored == (25, "PLEDGED", 25)


def test_my_pledges_lists_the_donors_pledges_newest_first(api: Api) -> None:
    requester, donor, other = sign_up(api), sign_up(api), sign_up(api)
    first_need = create_need(api, requester, title="first")
    second_need = create_need(api, requester, title="second")
    pledge(api, donor, first_need["id"], 1)
    pledge(api, donor, second_need["id"], 2)
    pledge(api, other, second_need["id"], 3)
    query = "{ myPledges(first: 10) { edges { node { quantity need { title exactLocation { lat } } } } pageInfo { hasNextPage } } }"

    mine = api.data(query, token=donor)["myPledges"]

    assert [(e["node"]["quantity"], e["node"]["need"]["title"]) for e in mine["edges"]] == [(2, "second"), (1, "first")]
    assert all(e["node"]["need"]["exactLocation"] is not None for e in mine["edges"])
    assert mine["pageInfo"]["hasNextPage"] is False
