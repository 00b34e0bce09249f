"""Fairness is counted per beneficiary, not per owner account (aidmap/fairness, aidmap/geo/score.py)."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Api
from tests.factories import CREATE_NEED, HANOI, create_offer, need_input, pledge, sign_up

CONFIRM = """mutation ($input: ConfirmDeliveryInput!) { confirmDelivery(input: $input) { errors { code } } }"""
SUGGESTED = """query ($id: ID!) { suggestedNeeds(offerId: $id, first: 50) { need { id } parts { fairness } } }"""
SUGGESTED_OFFERS = """query ($id: ID!) { suggestedOffers(needId: $id) { offer { id } parts { fairness } } }"""


def _file(api: Api, operator: str, household: str, phone: str, **kw: Any) -> str:
    payload = api.data(
        CREATE_NEED,
        {
            "input": need_input(
                title=f"Gạo cho {household}", onBehalfOf={"displayName": household, "phone": phone}, **kw
            )
        },
        operator,
    )["createNeed"]
    assert payload["errors"] == [], payload
    need_id: str = payload["need"]["id"]
    return need_id


def _fairness(api: Api, token: str, offer_id: str, need_ids: list[str]) -> dict[str, float]:
    for _ in range(100):  # the match index follows the event stream
        found = {
            s["need"]["id"]: s["parts"]["fairness"]
            for s in api.data(SUGGESTED, {"id": offer_id}, token)["suggestedNeeds"]
        }
        if all(n in found for n in need_ids):
            return {n: found[n] for n in need_ids}
        time.sleep(0.05)
    raise AssertionError(f"suggestions never held {need_ids}: {found}")


def test_one_delivery_to_one_household_leaves_another_household_of_the_hotline_unhelped(api: Api) -> None:
    operator, donor, browser = sign_up(api, "Tổng đài"), sign_up(api, "Donor"), sign_up(api, "Another donor")
    hl_001 = _file(api, operator, "HL-001", "0977 000 001")
    hl_002 = _file(api, operator, "HL-002", "0977 000 002")
    helped = pledge(api, donor, hl_001, 2)
    assert helped["errors"] == []
    assert (
        api.data(CONFIRM, {"input": {"pledgeId": helped["pledge"]["id"]}}, operator)["confirmDelivery"]["errors"] == []
    )

    offer = create_offer(api, browser, location=HANOI, radiusMeters=3000)
    assert _fairness(api, browser, offer["id"], [hl_001, hl_002]) == {hl_001: 0.5, hl_002: 1.0}
    # The same count on the requester's side (suggestedOffers) for the filer.
    for _ in range(100):
        seen = api.data(SUGGESTED_OFFERS, {"id": hl_002}, operator)["suggestedOffers"]
        if seen:
            break
        time.sleep(0.05)
    assert [s["parts"]["fairness"] for s in seen if s["offer"]["id"] == offer["id"]] == [1.0]


def test_two_needs_of_one_household_share_its_count(api: Api) -> None:
    operator, donor, browser = sign_up(api, "Tổng đài"), sign_up(api, "Donor"), sign_up(api, "Another donor")
    rice = _file(api, operator, "HL-003", "0977 000 003")
    medicine = _file(api, operator, "HL-003", "0977000003", category="MEDICINE")
    other = _file(api, operator, "HL-004", "0977 000 004", category="MEDICINE")
    helped = pledge(api, donor, rice, 1)
    assert (
        api.data(CONFIRM, {"input": {"pledgeId": helped["pledge"]["id"]}}, operator)["confirmDelivery"]["errors"] == []
    )
    offer = create_offer(api, browser, category="MEDICINE", radiusMeters=3000)
    assert _fairness(api, browser, offer["id"], [medicine, other]) == {medicine: 0.5, other: 1.0}


def test_a_person_who_posts_their_own_needs_is_one_beneficiary(api: Api) -> None:
    requester, donor, browser = sign_up(api, "Lan"), sign_up(api, "Donor"), sign_up(api, "Another donor")
    first = api.data(CREATE_NEED, {"input": need_input()}, requester)["createNeed"]["need"]["id"]
    second = api.data(CREATE_NEED, {"input": need_input(category="MEDICINE")}, requester)["createNeed"]["need"]["id"]
    helped = pledge(api, donor, first, 1)
    assert (
        api.data(CONFIRM, {"input": {"pledgeId": helped["pledge"]["id"]}}, requester)["confirmDelivery"]["errors"] == []
    )
    offer = create_offer(api, browser, category="MEDICINE", radiusMeters=3000)
    assert _fairness(api, browser, offer["id"], [second]) == {second: 0.5}
