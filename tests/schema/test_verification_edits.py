"""A verifier vouched for what a need said: editing what it says takes the verification away."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import create_need, give_role, sign_up
from tests.live import LiveClient
from tests.schema.test_privacy_invariance import moved_within_cell

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
BA_DINH = {"lat": 21.0368, "lon": 105.8342}
NODE = "query ($id: ID!) { node(id: $id) { ... on Need { status verification { area { name } } } } }"
VERIFY = "mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { errors { code } } }"
UPDATE = "mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { need { status } errors { code } } }"
NEARBY = """subscription ($near: GeoPointInput!) {
  needsNearby(near: $near, radiusMeters: 5000) { kind need { id title status } } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, require_verification=True)


@pytest.fixture
def people(api: Api, database_url: str, db: psycopg.Connection[Any]) -> dict[str, str]:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    tokens = {name: sign_up(api, name) for name in ("requester", "verifier", "donor")}
    give_role(db, tokens["verifier"], "VERIFIER", ("00070",))
    return tokens


def _verified(api: Api, people: dict[str, str]) -> str:
    need_id: str = create_need(api, people["requester"], location=HOAN_KIEM_LAKE)["id"]
    assert api.data(VERIFY, {"id": need_id}, people["verifier"])["verifyNeed"]["errors"] == []
    assert api.data(NODE, {"id": need_id}, people["donor"])["node"]["verification"]["area"]["name"]
    return need_id


def test_a_retitled_and_moved_need_goes_back_to_its_queue_and_leaves_public_view(
    api: Api, people: dict[str, str], live_server: LiveServer
) -> None:
    need_id = _verified(api, people)
    with LiveClient(live_server.url) as watcher:
        watcher.subscribe(NEARBY, {"near": HOAN_KIEM_LAKE})
        edited = api.data(
            UPDATE, {"input": {"needId": need_id, "title": "SEND MONEY TO 0999999999", "location": BA_DINH}},
            people["requester"],
        )["updateNeed"]  # fmt: skip
        event = watcher.next()["data"]["needsNearby"]
    assert edited == {"need": {"status": "PENDING_VERIFICATION"}, "errors": []}
    assert event["kind"] == "CLOSED" and event["need"]["id"] == need_id
    assert api.data(NODE, {"id": need_id}, people["donor"])["node"] is None  # hidden again
    owner_view = api.data(NODE, {"id": need_id}, people["requester"])["node"]
    assert owner_view == {"status": "PENDING_VERIFICATION", "verification": None}


@pytest.mark.parametrize(
    "change",
    [{"details": "Gửi tiền vào 0999999999"}, {"quantity": 500}, {"unit": "tấn"}, {"category": "MEDICINE"},
     {"contactPhone": "0999 999 999"}, {"location": BA_DINH},
     # Asking for more than was vouched for: more pressing, or for more people (none given before).
     {"urgency": "CRITICAL"}, {"householdSize": 40}, {"urgency": "CRITICAL", "householdSize": 40}],
)  # fmt: skip
def test_every_vouched_for_field_resets_the_badge(api: Api, people: dict[str, str], change: dict[str, Any]) -> None:
    need_id = _verified(api, people)
    edited = api.data(UPDATE, {"input": {"needId": need_id, **change}}, people["requester"])["updateNeed"]
    assert edited["errors"] == [] and edited["need"]["status"] == "PENDING_VERIFICATION"


def test_an_edit_that_changes_nothing_vouched_for_keeps_the_badge(api: Api, people: dict[str, str]) -> None:
    need_id = _verified(api, people)
    same = api.data(UPDATE, {"input": {"needId": need_id, "title": "Gạo cho gia đình 4 người", "urgency": "HIGH"}}, people["requester"])  # fmt: skip
    assert same["updateNeed"]["need"]["status"] == "OPEN"
    assert api.data(NODE, {"id": need_id}, people["donor"])["node"]["verification"] is not None


def test_a_move_within_the_cell_keeps_the_badge_and_shows_no_one(
    api: Api, people: dict[str, str], live_server: LiveServer
) -> None:
    """The verifier vouched for the place as the public sees it (its cell and ward); a move within
    the cell that took the badge away would tell a stranger that the exact point moved."""
    need_id = _verified(api, people)
    lon, lat = moved_within_cell((HOAN_KIEM_LAKE["lon"], HOAN_KIEM_LAKE["lat"]), random.Random(3))
    with LiveClient(live_server.url) as watcher:
        watcher.subscribe(NEARBY, {"near": HOAN_KIEM_LAKE})
        edited = api.data(UPDATE, {"input": {"needId": need_id, "location": {"lat": lat, "lon": lon}}}, people["requester"])  # fmt: skip
        quiet = watcher.nothing_within(1.0)
    assert edited["updateNeed"] == {"need": {"status": "OPEN"}, "errors": []} and quiet
    assert api.data(NODE, {"id": need_id}, people["donor"])["node"]["verification"] is not None


def test_a_household_that_grows_loses_the_badge_and_one_that_shrinks_keeps_it(api: Api, people: dict[str, str]) -> None:
    need_id: str = create_need(api, people["requester"], location=HOAN_KIEM_LAKE, householdSize=4)["id"]
    assert api.data(VERIFY, {"id": need_id}, people["verifier"])["verifyNeed"]["errors"] == []
    fewer = api.data(UPDATE, {"input": {"needId": need_id, "householdSize": 3}}, people["requester"])["updateNeed"]
    assert fewer == {"need": {"status": "OPEN"}, "errors": []}
    more = api.data(UPDATE, {"input": {"needId": need_id, "householdSize": 40}}, people["requester"])["updateNeed"]
    assert more == {"need": {"status": "PENDING_VERIFICATION"}, "errors": []}
    assert api.data(NODE, {"id": need_id}, people["donor"])["node"] is None


def test_asking_for_less_or_for_longer_keeps_the_badge(api: Api, people: dict[str, str]) -> None:
    """Things got better (less urgent), or the need stays up longer (as renewNeed would): nothing a
    verifier vouched for grew, so the requester is not sent back to the queue for saying so."""
    need_id = _verified(api, people)  # urgency HIGH
    later = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    for change in ({"urgency": "LOW"}, {"expiresAt": later}):
        edited = api.data(UPDATE, {"input": {"needId": need_id, **change}}, people["requester"])["updateNeed"]
        assert edited == {"need": {"status": "OPEN"}, "errors": []}, change
    assert api.data(NODE, {"id": need_id}, people["donor"])["node"]["verification"] is not None
    # Raised again, to CRITICAL: more pressing than it was, so the badge goes.
    raised = api.data(UPDATE, {"input": {"needId": need_id, "urgency": "CRITICAL"}}, people["requester"])
    assert raised["updateNeed"]["need"]["status"] == "PENDING_VERIFICATION"


def test_without_required_verification_the_badge_goes_and_the_need_stays_public(
    api: Api, make_api: Any, people: dict[str, str]
) -> None:
    need_id = _verified(api, people)  # verified while verification was required
    relaxed = make_api(require_verification=False)
    edited = relaxed.data(UPDATE, {"input": {"needId": need_id, "title": "Khác hẳn"}}, people["requester"])
    assert edited["updateNeed"]["need"]["status"] == "OPEN"
    assert relaxed.data(NODE, {"id": need_id}, people["donor"])["node"] == {"status": "OPEN", "verification": None}


REPORT = (
    "mutation ($id: ID!, $r: String!) { reportNeed(input: {needId: $id, reason: $r}) { reported errors { code } } }"
)
SEARCH = (
    """query ($near: GeoPointInput!) { needs(near: $near, radiusMeters: 2000, first: 20) { edges { node { id } } } }"""
)


def _public(api: Api, need_id: str) -> bool:
    return need_id in [e["node"]["id"] for e in api.data(SEARCH, {"near": HOAN_KIEM_LAKE})["needs"]["edges"]]


def test_fresh_sock_puppets_cannot_hide_a_need(make_api: Any, people: dict[str, str]) -> None:
    api = make_api(require_verification=False)
    need_id = create_need(api, people["requester"], location=HOAN_KIEM_LAKE)["id"]
    puppets = [sign_up(api, f"puppet {i}") for i in range(10)]
    answers = [api.data(REPORT, {"id": need_id, "r": "Lừa đảo"}, p)["reportNeed"] for p in puppets]
    assert all(a == {"reported": True, "errors": []} for a in answers)  # recorded for the reviewers
    assert _public(api, need_id)


def test_old_accounts_with_deliveries_hide_it_and_a_reviewer_alone_does(
    make_api: Any, people: dict[str, str], db: psycopg.Connection[Any]
) -> None:
    from tests.factories import account_pk

    api = make_api(require_verification=False)
    need_id = create_need(api, people["requester"], location=HOAN_KIEM_LAKE)["id"]
    neighbours = [sign_up(api, f"neighbour {i}") for i in range(4)]
    aged = (people["requester"], *neighbours[:3])
    for token in aged:
        db.execute(
            "UPDATE accounts SET created_at = now() - interval '25 hours' WHERE id = %s", (account_pk(db, token),)
        )
    # Three have delivered help to an established requester; the fourth is new with a delivery.
    other_need = create_need(api, people["requester"], title="Nước", location=HOAN_KIEM_LAKE)["id"]
    for token in neighbours:
        pledged = api.data("mutation ($id: ID!) { pledge(input: {needId: $id, quantity: 1}) { pledge { id } } }", {"id": other_need}, token)  # fmt: skip
        confirm = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { code } } }"
        assert api.data(confirm, {"id": pledged["pledge"]["pledge"]["id"]}, people["requester"])["confirmDelivery"]["errors"] == []  # fmt: skip
    for token in (neighbours[0], neighbours[3], neighbours[1]):
        api.data(REPORT, {"id": need_id, "r": "Giả"}, token)
    assert _public(api, need_id)  # the fresh one did not count
    api.data(REPORT, {"id": need_id, "r": "Giả"}, neighbours[2])
    assert not _public(api, need_id)

    third_need = create_need(api, people["requester"], title="Thuốc", location=HOAN_KIEM_LAKE)["id"]
    assert api.data(REPORT, {"id": third_need, "r": "Trùng"}, people["verifier"])["reportNeed"]["reported"]
    assert not _public(api, third_need)
