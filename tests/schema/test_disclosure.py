"""Harvesting by pledge churn (issue 13): a donor who pledges, reads the exact location and phone and
cancels, need after need, is stopped at AIDMAP_DISCLOSURE_LIMIT_PER_DAY; with AIDMAP_DISCLOSE_ON=accept
a pledge shows nothing private until the requester (or whoever filed the need) accepts it.

Everything goes through the public API of a real server on a real PostGIS, as an attacker would try it;
the database is only read, to check that refused attempts wrote nothing (and once, to age pledges).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import psycopg
import pytest

from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import CREATE_NEED, HANOI, PLEDGE, SIGN_UP, create_need, need_input, pledge, sign_up
from tests.live import LiveClient

NEED = """query ($id: ID!) { node(id: $id) { ... on Need { id exactLocation { lat lon } contactPhone } } }"""
PLEDGE_FULL = """
mutation ($input: PledgeInput!) {
  pledge(input: $input) {
    pledge { id acceptedAt need { id exactLocation { lat lon } contactPhone } }
    errors { field message code }
  }
}"""
CANCEL = """mutation ($input: CancelPledgeInput!) {
  cancelPledge(input: $input) { pledge { id status } errors { field code } } }"""
CONFIRM = """mutation ($input: ConfirmDeliveryInput!) {
  confirmDelivery(input: $input) { pledge { id status } errors { field code } } }"""
ACCEPT = """mutation ($input: AcceptPledgeInput!) {
  acceptPledge(input: $input) {
    pledge { id status acceptedAt need { exactLocation { lat lon } contactPhone } }
    errors { field message code }
  }
}"""
CLAIM = "mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { errors { field code } } }"
MY_PLEDGES = "{ myPledges(first: 20) { edges { node { id acceptedAt need { exactLocation { lat } contactPhone } } } } }"
NEEDS_NEARBY = """subscription ($near: GeoPointInput!, $radius: Float!) {
  needsNearby(near: $near, radiusMeters: $radius) { kind need { id title exactLocation { lat lon } contactPhone } } }"""
UPDATE_NEED = "mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { errors { field code } } }"
MY_ACTIVITY = """subscription { myActivity { kind pledge { id acceptedAt } need { exactLocation { lat lon } contactPhone } } }"""


def _needs(api: Api, requester: str, count: int) -> list[dict[str, Any]]:
    """Needs at distinct points with distinct phones: what a harvester is after."""
    return [
        create_need(
            api,
            requester,
            title=f"Gạo {i}",
            location={"lat": HANOI["lat"] + 0.003 * i, "lon": HANOI["lon"]},
            contactPhone=f"0912 000 {100 + i}",
        )
        for i in range(count)
    ]


def _private(api: Api, token: str, need_id: str) -> tuple[Any, Any]:
    node = api.data(NEED, {"id": need_id}, token)["node"]
    return node["exactLocation"], node["contactPhone"]


def _pledge(api: Api, token: str, need_id: str) -> dict[str, Any]:
    result: dict[str, Any] = api.data(PLEDGE_FULL, {"input": {"needId": need_id, "quantity": 1}}, token)["pledge"]
    return result


def _counts(db: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM pledges), (SELECT count(*) FROM events), "
        "(SELECT sum(quantity_pledged) FROM needs), (SELECT count(*) FROM pledges WHERE accepted_at IS NOT NULL)"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_donor_harvesting_by_pledge_and_cancel_is_stopped_at_the_limit(
    make_api: Callable[..., Api], db: psycopg.Connection[Any]
) -> None:
    api = make_api(disclosure_limit_per_day=3)
    requester, harvester = sign_up(api, "Requester"), sign_up(api, "Harvester")
    needs = _needs(api, requester, 5)

    harvested = []
    for need in needs[:3]:
        made = _pledge(api, harvester, need["id"])
        assert made["errors"] == [], made
        harvested.append(_private(api, harvester, need["id"]))
        cancelled = api.data(CANCEL, {"input": {"pledgeId": made["pledge"]["id"]}}, harvester)["cancelPledge"]
        assert cancelled["errors"] == []
        # A cancelled pledge gives no access, from the very next read on.
        assert _private(api, harvester, need["id"]) == (None, None)
    before = _counts(db)
    refused = _pledge(api, harvester, needs[3]["id"])
    refused_again = _pledge(api, harvester, needs[4]["id"])
    after = _counts(db)
    # Vietnamese, as the other codes have.
    vietnamese = api.http.post(
        "/graphql",
        json={"query": PLEDGE_FULL, "variables": {"input": {"needId": needs[3]["id"], "quantity": 1}}},
        headers={"Authorization": f"Bearer {harvester}", "Accept-Language": "vi"},
    ).json()["data"]["pledge"]
    # Churning on a need already seen discloses nothing new: still allowed at the limit.
    same_again = _pledge(api, harvester, needs[0]["id"])

    assert all(location is not None and phone is not None for location, phone in harvested)
    assert len({phone for _, phone in harvested}) == 3
    assert refused["pledge"] is None
    assert refused["errors"] == [
        {
            "field": "needId",
            "code": "DISCLOSURE_LIMIT",
            "message": "You have pledged to 3 needs in the last 24 hours without a delivery (the most is 3); "
            "deliver one, or wait, before pledging to another.",
        }
    ]
    assert refused_again["errors"][0]["code"] == "DISCLOSURE_LIMIT"
    assert vietnamese["errors"][0]["code"] == "DISCLOSURE_LIMIT"
    assert vietnamese["errors"][0]["message"].startswith("Trong 24 giờ qua bạn đã cam kết cho 3 yêu cầu")
    assert before == after  # nothing written: no pledge, no event, no quantity
    assert _private(api, harvester, needs[3]["id"]) == (None, None)
    assert _private(api, harvester, needs[4]["id"]) == (None, None)
    assert same_again["errors"] == [] and same_again["pledge"]["need"]["contactPhone"] is not None


def test_a_delivery_confirmed_by_the_requester_restores_one(
    make_api: Callable[..., Api], db: psycopg.Connection[Any]
) -> None:
    api = make_api(disclosure_limit_per_day=2)
    requester, donor = sign_up(api, "Requester"), sign_up(api, "Donor")
    a, b, c, d = _needs(api, requester, 4)
    first = _pledge(api, donor, a["id"])["pledge"]
    _pledge(api, donor, b["id"])

    blocked = _pledge(api, donor, c["id"])
    # The donor cannot confirm their own delivery to get the allowance back.
    self_confirmed = api.data(CONFIRM, {"input": {"pledgeId": first["id"]}}, donor)["confirmDelivery"]
    still_blocked = _pledge(api, donor, c["id"])
    confirmed = api.data(CONFIRM, {"input": {"pledgeId": first["id"]}}, requester)["confirmDelivery"]
    restored = _pledge(api, donor, c["id"])
    next_one = _pledge(api, donor, d["id"])

    assert blocked["errors"][0]["code"] == "DISCLOSURE_LIMIT"
    assert self_confirmed["errors"][0]["code"] == "FORBIDDEN"
    assert still_blocked["errors"][0]["code"] == "DISCLOSURE_LIMIT"
    assert confirmed["errors"] == [] and confirmed["pledge"]["status"] == "DELIVERED"
    assert restored["errors"] == []
    assert restored["pledge"]["need"]["exactLocation"] is not None
    assert restored["pledge"]["need"]["contactPhone"] == "+84912000102"
    assert next_one["errors"][0]["code"] == "DISCLOSURE_LIMIT"
    assert _private(api, donor, d["id"]) == (None, None)
    assert db.execute("SELECT count(*) FROM pledges WHERE need_id = (SELECT max(id) FROM needs)").fetchone() == (0,)


def test_the_window_is_a_rolling_24_hours(make_api: Callable[..., Api], db: psycopg.Connection[Any]) -> None:
    api = make_api(disclosure_limit_per_day=1)
    requester, donor = sign_up(api), sign_up(api)
    a, b = _needs(api, requester, 2)
    made = _pledge(api, donor, a["id"])["pledge"]
    api.data(CANCEL, {"input": {"pledgeId": made["id"]}}, donor)

    blocked = _pledge(api, donor, b["id"])
    db.execute("UPDATE pledges SET created_at = created_at - interval '25 hours'")
    a_day_later = _pledge(api, donor, b["id"])

    assert blocked["errors"][0]["code"] == "DISCLOSURE_LIMIT"
    assert a_day_later["errors"] == []


def test_pledge_mode_accepts_at_once_and_accept_pledge_has_nothing_to_do(api: Api) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester)
    made = _pledge(api, donor, need["id"])["pledge"]

    again = api.data(ACCEPT, {"input": {"pledgeId": made["id"]}}, requester)["acceptPledge"]

    assert made["acceptedAt"] is not None and made["need"]["contactPhone"] is not None
    assert again["pledge"] is None
    assert again["errors"] == [
        {"field": "pledgeId", "code": "INVALID_STATE", "message": "This pledge is already accepted."}
    ]


def test_accept_mode_a_pledge_alone_shows_nothing_until_the_requester_accepts(
    make_api: Callable[..., Api], db: psycopg.Connection[Any]
) -> None:
    api = make_api(disclose_on="accept")
    requester, donor, stranger = sign_up(api, "Requester"), sign_up(api, "Donor"), sign_up(api, "Stranger")
    need = create_need(api, requester, contactPhone="0912 345 678")

    made = _pledge(api, donor, need["id"])
    pledge_id = made["pledge"]["id"]
    unaccepted = _private(api, donor, need["id"])
    listed = api.data(MY_PLEDGES, token=donor)["myPledges"]["edges"]
    before = _counts(db)
    by_stranger = api.data(ACCEPT, {"input": {"pledgeId": pledge_id}}, stranger)["acceptPledge"]
    by_donor = api.data(ACCEPT, {"input": {"pledgeId": pledge_id}}, donor)["acceptPledge"]
    anonymous = api.data(ACCEPT, {"input": {"pledgeId": pledge_id}})["acceptPledge"]
    garbage = api.data(ACCEPT, {"input": {"pledgeId": "not-an-id"}}, requester)["acceptPledge"]
    after_refusals = _counts(db)
    still_hidden = _private(api, donor, need["id"])
    accepted = api.data(ACCEPT, {"input": {"pledgeId": pledge_id}}, requester)["acceptPledge"]
    seen = _private(api, donor, need["id"])
    twice = api.data(ACCEPT, {"input": {"pledgeId": pledge_id}}, requester)["acceptPledge"]
    api.data(CANCEL, {"input": {"pledgeId": pledge_id}}, donor)
    after_cancel = _private(api, donor, need["id"])
    cancelled_accept = api.data(ACCEPT, {"input": {"pledgeId": pledge_id}}, requester)["acceptPledge"]

    assert made["errors"] == [] and made["pledge"]["acceptedAt"] is None
    assert made["pledge"]["need"]["exactLocation"] is None and made["pledge"]["need"]["contactPhone"] is None
    assert unaccepted == (None, None)
    assert [(e["node"]["acceptedAt"], e["node"]["need"]["contactPhone"]) for e in listed] == [(None, None)]
    assert by_stranger["errors"] == [
        {"field": "pledgeId", "code": "NOT_FOUND", "message": "No pledge of yours has this id."}
    ]
    assert by_donor["errors"][0]["code"] == "FORBIDDEN"  # a donor cannot accept their own pledge
    assert anonymous["errors"][0]["code"] == "UNAUTHENTICATED"
    assert garbage["errors"][0]["field"] == "pledgeId"
    assert before == after_refusals  # refused attempts wrote nothing
    assert still_hidden == (None, None)
    assert accepted["errors"] == [] and accepted["pledge"]["acceptedAt"] is not None
    assert seen[0] is not None and seen[1] == "+84912345678"
    assert twice["errors"][0]["code"] == "INVALID_STATE"
    assert after_cancel == (None, None)
    assert cancelled_accept["errors"][0]["code"] == "INVALID_STATE"


def test_accept_mode_whoever_filed_the_need_accepts_it(make_api: Callable[..., Api]) -> None:
    api = make_api(disclose_on="accept")
    operator, donor = sign_up(api, "Tổng đài viên"), sign_up(api, "Donor")
    filed = api.data(
        CREATE_NEED.replace("createNeed(input: $input) {", "createNeed(input: $input) { claimCode", 1),
        {"input": need_input(title="Gạo cho bà Lan", onBehalfOf={"displayName": "Bà Lan", "phone": "0977 111 222"})},
        operator,
    )["createNeed"]
    need_id, code = filed["need"]["id"], filed["claimCode"]
    lan = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": "+84977111222", "password": "mật khẩu dài"}})[
        "signUp"
    ]["token"]
    assert api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, lan)["claimNeed"]["errors"] == []
    made = _pledge(api, donor, need_id)["pledge"]

    hidden = _private(api, donor, need_id)
    # The operator no longer owns it (Lan does) but filed it: they may accept for her.
    accepted = api.data(ACCEPT, {"input": {"pledgeId": made["id"]}}, operator)["acceptPledge"]
    seen = _private(api, donor, need_id)

    assert hidden == (None, None)
    assert accepted["errors"] == [] and accepted["pledge"]["acceptedAt"] is not None
    assert seen[0] is not None and seen[1] == "+84912345678"


def test_an_unknown_disclose_on_value_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDMAP_DISCLOSE_ON", "accepted")
    with pytest.raises(ValueError, match="AIDMAP_DISCLOSE_ON must be one of pledge, accept"):
        Settings.from_env()
    monkeypatch.setenv("AIDMAP_DISCLOSE_ON", " Accept ")
    assert Settings.from_env().disclose_on == "accept"
    monkeypatch.delenv("AIDMAP_DISCLOSE_ON")
    assert (Settings.from_env().disclose_on, Settings.from_env().disclosure_limit_per_day) == ("pledge", 5)


class TestConcurrentHarvest:
    """Many pledges from one donor at once, each on its own connection: the limit still holds."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, disclosure_limit_per_day=3)

    def test_concurrent_pledges_cannot_exceed_the_limit(
        self, api: Api, live_server: LiveServer, db: psycopg.Connection[Any]
    ) -> None:
        requester, harvester = sign_up(api), sign_up(api)
        needs = _needs(api, requester, 12)

        def attempt(need_id: str) -> dict[str, Any]:
            with httpx2.Client(base_url=live_server.url, timeout=30) as client:
                response = client.post(
                    "/graphql",
                    json={"query": PLEDGE, "variables": {"input": {"needId": need_id, "quantity": 1}}},
                    headers={"Authorization": f"Bearer {harvester}"},
                )
                result: dict[str, Any] = response.json()["data"]["pledge"]
                return result

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(attempt, [n["id"] for n in needs]))

        won = [r for r in results if not r["errors"]]
        lost = [r for r in results if r["errors"]]
        assert (len(won), len(lost)) == (3, 9)
        assert {e["code"] for r in lost for e in r["errors"]} == {"DISCLOSURE_LIMIT"}
        assert db.execute("SELECT count(DISTINCT need_id), count(*) FROM pledges").fetchone() == (3, 3)


class TestAcceptedLive:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, disclose_on="accept")

    def test_the_donor_hears_of_the_acceptance_in_my_activity(self, api: Api, live_server: LiveServer) -> None:
        requester, donor = sign_up(api, "Requester"), sign_up(api, "Donor")
        need = create_need(api, requester)
        made = pledge(api, donor, need["id"], 1)["pledge"]
        with LiveClient(live_server.url, donor) as activity:
            activity.subscribe(MY_ACTIVITY)
            api.data(ACCEPT, {"input": {"pledgeId": made["id"]}}, requester)
            event = activity.next()["data"]["myActivity"]

        assert event["kind"] == "PLEDGE_ACCEPTED"
        assert event["pledge"]["id"] == made["id"] and event["pledge"]["acceptedAt"] is not None
        assert event["need"]["exactLocation"] is not None and event["need"]["contactPhone"] == "+84912345678"

    def test_live_need_events_show_private_fields_only_while_accepted(self, api: Api, live_server: LiveServer) -> None:
        requester, donor = sign_up(api, "Requester"), sign_up(api, "Donor")
        need = create_need(api, requester)
        with LiveClient(live_server.url, donor) as nearby:
            nearby.subscribe(NEEDS_NEARBY, {"near": HANOI, "radius": 2000})
            made = pledge(api, donor, need["id"], 1)["pledge"]
            pledged = nearby.next()["data"]["needsNearby"]["need"]
            api.data(ACCEPT, {"input": {"pledgeId": made["id"]}}, requester)
            api.data(UPDATE_NEED, {"input": {"needId": need["id"], "title": "Gạo và dầu ăn"}}, requester)
            accepted = nearby.next()["data"]["needsNearby"]["need"]
            api.data(CANCEL, {"input": {"pledgeId": made["id"]}}, donor)
            cancelled = nearby.next()["data"]["needsNearby"]["need"]

        assert (pledged["exactLocation"], pledged["contactPhone"]) == (None, None)
        assert accepted["title"] == "Gạo và dầu ăn"
        assert accepted["exactLocation"] is not None and accepted["contactPhone"] == "+84912345678"
        assert (cancelled["exactLocation"], cancelled["contactPhone"]) == (None, None)
