"""Ward verification (AIDMAP_REQUIRE_VERIFICATION=1), rejection, and reports that hide a need for review."""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest

from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import create_need, give_role, sign_up
from tests.live import LiveClient

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
NEAR_LAKE = {"near": HOAN_KIEM_LAKE, "radiusMeters": 2000.0, "first": 20}

SEARCH = "query ($near: GeoPointInput!, $radiusMeters: Float!, $first: Int!) { needs(near: $near, radiusMeters: $radiusMeters, first: $first) { edges { node { id } } } }"
NODE = """query ($id: ID!) { node(id: $id) { ... on Need {
  id status exactLocation { lat lon } contactPhone rejectedReason verification { verifiedAt area { name } }
  reports { reason } possibleDuplicateOf { id } } } }"""
QUEUE = "{ verificationQueue(first: 10) { edges { node { id status title exactLocation { lat } } } } }"
VERIFY = "mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { need { status verification { area { name } } } errors { field code } } }"
REJECT = "mutation ($id: ID!, $reason: String!) { rejectNeed(input: {needId: $id, reason: $reason}) { need { status rejectedReason } errors { field code } } }"
REPORT = "mutation ($id: ID!, $reason: String!) { reportNeed(input: {needId: $id, reason: $reason}) { reported errors { field code } } }"
PLEDGE = "mutation ($id: ID!) { pledge(input: {needId: $id, quantity: 1}) { pledge { id } errors { field code } } }"
NEARBY = """subscription ($near: GeoPointInput!) {
  needsNearby(near: $near, radiusMeters: 3000) { kind need { id title status } } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, require_verification=True)


@pytest.fixture
def people(api: Api, database_url: str, db: psycopg.Connection[Any]) -> dict[str, str]:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    tokens = {name: sign_up(api, name) for name in ("requester", "donor", "verifier", "other_verifier", "admin")}
    give_role(db, tokens["verifier"], "VERIFIER", ("00070",))  # Hoàn Kiếm, where the lake is
    give_role(db, tokens["other_verifier"], "VERIFIER", ("00004",))  # Ba Đình
    give_role(db, tokens["admin"], "ADMIN")
    return tokens


def _listed(api: Api, token: str | None = None) -> list[str]:
    return [e["node"]["id"] for e in api.data(SEARCH, NEAR_LAKE, token)["needs"]["edges"]]


def test_a_pending_need_is_seen_only_by_those_in_charge_until_its_ward_verifies_it(
    api: Api, people: dict[str, str], live_server: LiveServer
) -> None:
    with LiveClient(live_server.url, people["donor"]) as watcher:
        watcher.subscribe(NEARBY, {"near": HOAN_KIEM_LAKE})
        need = create_need(api, people["requester"], title="Thuốc cho bà", location=HOAN_KIEM_LAKE)
        need_id = need["id"]

        assert need["status"] == "PENDING_VERIFICATION" and need["exactLocation"] is not None
        for outsider in (None, people["donor"], people["other_verifier"]):
            assert api.data(NODE, {"id": need_id}, outsider)["node"] is None
            assert need_id not in _listed(api, outsider)
        assert api.data(PLEDGE, {"id": need_id}, people["donor"])["pledge"]["errors"] == [
            {"field": "needId", "code": "NOT_FOUND"}
        ]
        assert api.data(VERIFY, {"id": need_id}, people["other_verifier"])["verifyNeed"]["errors"] == [
            {"field": "needId", "code": "NOT_FOUND"}
        ]
        assert api.data(VERIFY, {"id": need_id}, people["requester"])["verifyNeed"]["errors"] == [
            {"field": "needId", "code": "FORBIDDEN"}
        ]
        assert watcher.nothing_within(0.5)  # the pending need was not announced

        queue = api.data(QUEUE, token=people["verifier"])["verificationQueue"]["edges"]
        assert [e["node"]["id"] for e in queue] == [need_id]
        assert queue[0]["node"]["exactLocation"] is not None  # the ward's verifier may check the address
        assert api.data(QUEUE, token=people["other_verifier"])["verificationQueue"]["edges"] == []
        assert api.data(NODE, {"id": need_id}, people["verifier"])["node"]["contactPhone"] == "+84912345678"

        verified = api.data(VERIFY, {"id": need_id}, people["verifier"])["verifyNeed"]
        event = watcher.next()["data"]["needsNearby"]

    assert verified == {"need": {"status": "OPEN", "verification": {"area": {"name": "Hoàn Kiếm"}}}, "errors": []}
    assert event == {"kind": "CREATED", "need": {"id": need_id, "title": "Thuốc cho bà", "status": "OPEN"}}
    public = api.data(NODE, {"id": need_id})["node"]
    assert public["verification"]["area"]["name"] == "Hoàn Kiếm" and public["exactLocation"] is None
    assert need_id in _listed(api)
    assert api.data(QUEUE, token=people["verifier"])["verificationQueue"]["edges"] == []
    again = api.data(VERIFY, {"id": need_id}, people["verifier"])["verifyNeed"]
    assert again["errors"] == [{"field": "needId", "code": "INVALID_STATE"}]


def test_a_rejected_need_tells_its_requester_why_and_nobody_else_sees_it(
    api: Api, people: dict[str, str], db: psycopg.Connection[Any]
) -> None:
    need_id = create_need(api, people["requester"], location=HOAN_KIEM_LAKE)["id"]

    empty = api.data(REJECT, {"id": need_id, "reason": "  "}, people["admin"])["rejectNeed"]
    rejected = api.data(REJECT, {"id": need_id, "reason": "Địa chỉ không có thật"}, people["admin"])["rejectNeed"]

    assert empty["errors"] == [{"field": "reason", "code": "REQUIRED"}]
    assert rejected == {"need": {"status": "REJECTED", "rejectedReason": "Địa chỉ không có thật"}, "errors": []}
    own = api.data(NODE, {"id": need_id}, people["requester"])["node"]
    assert own["status"] == "REJECTED" and own["rejectedReason"] == "Địa chỉ không có thật"
    assert own["verification"] is None
    assert api.data(NODE, {"id": need_id}, people["donor"])["node"] is None
    assert db.execute("SELECT kind FROM events ORDER BY seq").fetchall() == [("NEED_CREATED",), ("NEED_REJECTED",)]


def test_reports_from_three_accounts_hide_a_need_until_a_verifier_keeps_it(
    make_api: Any, people: dict[str, str], db: psycopg.Connection[Any]
) -> None:
    api: Api = make_api(require_verification=False)
    need_id = create_need(api, people["requester"], location=HOAN_KIEM_LAKE)["id"]
    reporters = [sign_up(api, f"neighbour {i}") for i in range(3)]
    # Neighbours of some standing: older than a day, each has helped an established requester.
    db.execute("UPDATE accounts SET created_at = now() - interval '2 days'")
    helped = create_need(api, people["requester"], title="Nước", location=HOAN_KIEM_LAKE)["id"]
    for token in reporters:
        pledge_id = api.data(PLEDGE, {"id": helped}, token)["pledge"]["pledge"]["id"]
        confirm = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { code } } }"
        assert api.data(confirm, {"id": pledge_id}, people["requester"])["confirmDelivery"]["errors"] == []

    own = api.data(REPORT, {"id": need_id, "reason": "spam"}, people["requester"])["reportNeed"]
    first = api.data(REPORT, {"id": need_id, "reason": "Không có ai ở địa chỉ này"}, reporters[0])["reportNeed"]
    twice = api.data(REPORT, {"id": need_id, "reason": "again"}, reporters[0])["reportNeed"]
    api.data(REPORT, {"id": need_id, "reason": "Lừa đảo"}, reporters[1])
    assert need_id in _listed(api)  # two reports: still public
    third = api.data(REPORT, {"id": need_id, "reason": "Số điện thoại giả"}, reporters[2])["reportNeed"]

    assert own == {"reported": False, "errors": [{"field": "needId", "code": "INVALID_STATE"}]}
    assert first == {"reported": True, "errors": []}
    assert twice == {"reported": False, "errors": [{"field": "needId", "code": "ALREADY_REPORTED"}]}
    assert third == {"reported": True, "errors": []}
    assert need_id not in _listed(api)
    assert api.data(NODE, {"id": need_id}, reporters[0])["node"] is None
    assert api.data(NODE, {"id": need_id}, people["requester"])["node"]["status"] == "UNDER_REVIEW"
    # The ward's verifier sees it in the queue, with the reports (reporters stay anonymous).
    queued = api.data(NODE, {"id": need_id}, people["verifier"])["node"]
    assert sorted(r["reason"] for r in queued["reports"]) == [
        "Không có ai ở địa chỉ này", "Lừa đảo", "Số điện thoại giả",
    ]  # fmt: skip
    assert api.data(NODE, {"id": need_id}, people["donor"]) == {"node": None}

    kept = api.data(VERIFY, {"id": need_id}, people["verifier"])["verifyNeed"]

    assert kept["need"]["status"] == "OPEN"
    assert need_id in _listed(api)
    assert db.execute("SELECT count(*) FROM need_reports").fetchone() == (0,)
    kinds = [k for (k,) in db.execute("SELECT kind FROM events WHERE kind LIKE 'NEED_%' ORDER BY seq")]
    assert kinds == ["NEED_CREATED", "NEED_CREATED", "NEED_HIDDEN", "NEED_VERIFIED"]


def test_taking_a_public_need_down_closes_it_for_public_subscribers(
    api: Api, people: dict[str, str], live_server: LiveServer
) -> None:
    need_id = create_need(api, people["requester"], location=HOAN_KIEM_LAKE)["id"]
    api.data(VERIFY, {"id": need_id}, people["verifier"])
    with LiveClient(live_server.url) as watcher:
        watcher.subscribe(NEARBY, {"near": HOAN_KIEM_LAKE})
        api.data(REJECT, {"id": need_id, "reason": "Trùng với yêu cầu khác"}, people["verifier"])
        event = watcher.next()["data"]["needsNearby"]
    assert event == {
        "kind": "CLOSED",
        "need": {"id": need_id, "title": "Gạo cho gia đình 4 người", "status": "REJECTED"},
    }
