"""Duplicate signals and quotas at intake: flagged for verifiers, never silently rejected."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap.resolvers.areas import BUNDLED, import_files
from tests.conftest import Api
from tests.factories import CREATE_NEED, PLEDGE, create_need, give_role, need_input, sign_up

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
DUPLICATE = "query ($id: ID!) { node(id: $id) { ... on Need { possibleDuplicateOf { id title } } } }"
CANCEL = "mutation ($id: ID!) { cancelNeed(input: {needId: $id}) { errors { code } } }"


def _metres_north(point: dict[str, float], metres: float) -> dict[str, float]:
    return {"lat": point["lat"] + metres / 111_320, "lon": point["lon"]}


def test_same_phone_or_similar_text_nearby_is_flagged_for_the_wards_verifier(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    neighbour, relative, stranger, verifier = (sign_up(api, n) for n in ("hàng xóm", "con gái", "người lạ", "phường"))
    give_role(db, verifier, "VERIFIER", ("00070",))
    first = create_need(
        api, neighbour, title="Gạo cho gia đình bà Lan", contactPhone="0911 000 001", location=HOAN_KIEM_LAKE
    )
    # The same family, registered again by a relative, typed without accents, 80 m away.
    retyped = create_need(
        api, relative, title="gao cho gia dinh ba Lan", contactPhone="0911 000 002",
        location=_metres_north(HOAN_KIEM_LAKE, 80),
    )  # fmt: skip
    same_phone = create_need(
        api, relative, category="MEDICINE", title="Thuốc huyết áp", contactPhone="+84911000001",
        location=_metres_north(HOAN_KIEM_LAKE, 900),
    )  # fmt: skip
    unrelated = create_need(
        api, stranger, title="Sữa cho em bé", contactPhone="0911 000 003", location=_metres_north(HOAN_KIEM_LAKE, 50)
    )
    far_away = create_need(
        api, stranger, title="Gạo cho gia đình bà Lan", contactPhone="0911 000 004",
        location=_metres_north(HOAN_KIEM_LAKE, 600),
    )  # fmt: skip

    def flagged(need: dict[str, Any], token: str | None = verifier) -> Any:
        return api.data(DUPLICATE, {"id": need["id"]}, token)["node"]["possibleDuplicateOf"]

    assert flagged(retyped) == {"id": first["id"], "title": "Gạo cho gia đình bà Lan"}
    assert flagged(same_phone)["id"] == first["id"]
    assert flagged(first) is None and flagged(unrelated) is None and flagged(far_away) is None
    assert flagged(retyped, relative) is None and flagged(retyped, None) is None  # for verifiers only
    assert retyped["status"] == "OPEN"  # flagged, not rejected
    # The index holds keyed hashes, never the phone in clear.
    hashes = [h for (h,) in db.execute("SELECT contact_phone_hash FROM needs ORDER BY id")]
    assert len(hashes[0]) == 64 and hashes[0] == hashes[2] and "0911" not in hashes[0] and "84911" not in hashes[0]


def test_a_verifier_learns_nothing_of_another_wards_needs_from_the_duplicate_flag(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    # A verifier of Ba Đình files a probe in its own ward with the phone it wants to test: the flag
    # would point at a Hoàn Kiếm need with that contact phone, and probes at chosen points would
    # test "within 200 m" of a need it may not see. It flags only needs the reader reviews too.
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    requester, ba_dinh, admin = sign_up(api, "bà Lan"), sign_up(api, "phường Ba Đình"), sign_up(api, "quản trị")
    give_role(db, ba_dinh, "VERIFIER", ("00004",))
    give_role(db, admin, "ADMIN")
    target = create_need(api, requester, title="Gạo", contactPhone="0911 222 333", location=HOAN_KIEM_LAKE)
    probe = create_need(
        api, ba_dinh, title="Thử", contactPhone="0911 222 333", location={"lat": 21.0368, "lon": 105.8346}
    )

    def flagged(token: str) -> Any:
        return api.data(DUPLICATE, {"id": probe["id"]}, token)["node"]["possibleDuplicateOf"]

    assert flagged(ba_dinh) is None
    assert flagged(admin)["id"] == target["id"]  # an admin reviews both: the flag is there


def test_a_person_has_at_most_three_open_needs_per_category(make_api: Any) -> None:
    api: Api = make_api(max_open_needs_per_category=3)
    person, operator = sign_up(api), sign_up(api, "tổng đài")
    needs = [create_need(api, person, title=f"need {i}") for i in range(3)]

    fourth = api.data(CREATE_NEED, {"input": need_input(title="one too many")}, person)["createNeed"]
    other_category = api.data(CREATE_NEED, {"input": need_input(category="MEDICINE")}, person)["createNeed"]
    # An operator files for many people: the quota counts the person it is for, not the operator.
    for i in range(3):
        behalf = {"displayName": f"Người {i}", "phone": f"0977 000 00{i}"}
        filed = api.data(CREATE_NEED, {"input": need_input(onBehalfOf=behalf)}, operator)["createNeed"]
        assert filed["errors"] == []
    api.data(CANCEL, {"id": needs[0]["id"]}, person)
    after_cancel = api.data(CREATE_NEED, {"input": need_input(title="now it fits")}, person)["createNeed"]

    assert fourth == {"need": None, "errors": [{
        "field": "category",
        "message": "At most 3 open needs per category for one person; close or cancel one first.",
        "code": "QUOTA_EXCEEDED",
    }]}  # fmt: skip
    assert other_category["errors"] == [] and after_cancel["errors"] == []


def test_a_donor_has_at_most_m_pledges_not_yet_delivered(make_api: Any, db: psycopg.Connection[Any]) -> None:
    api: Api = make_api(max_active_pledges=2)
    requester, donor = sign_up(api), sign_up(api, "nhà hảo tâm")
    needs = [create_need(api, requester, category=c) for c in ("FOOD", "MEDICINE", "ESSENTIALS")]

    results = [api.data(PLEDGE, {"input": {"needId": n["id"], "quantity": 1}}, donor)["pledge"] for n in needs]

    assert [r["errors"] for r in results[:2]] == [[], []]
    assert results[2]["pledge"] is None and results[2]["errors"][0]["code"] == "QUOTA_EXCEEDED"
    assert db.execute("SELECT count(*) FROM pledges").fetchone() == (2,)


def test_the_quota_for_a_phone_tells_no_one_what_others_filed_for_it(make_api: Any) -> None:
    # Counting every filer's needs for a phone answered QUOTA_EXCEEDED sooner when someone else had
    # filed for that person: anyone could learn whether a phone's owner asked for help, and fill
    # their quota. Each filer counts only their own.
    api: Api = make_api(max_open_needs_per_category=2)
    hotline, stranger = sign_up(api, "tổng đài"), sign_up(api, "người lạ")
    behalf = {"displayName": "Bà Tư", "phone": "0977 123 400"}
    for _ in range(2):
        assert api.data(CREATE_NEED, {"input": need_input(onBehalfOf=behalf)}, hotline)["createNeed"]["errors"] == []

    probes = [api.data(CREATE_NEED, {"input": need_input(onBehalfOf=behalf)}, stranger)["createNeed"] for _ in range(3)]
    third_by_hotline = api.data(CREATE_NEED, {"input": need_input(onBehalfOf=behalf)}, hotline)["createNeed"]

    # The stranger gets exactly what it would for a phone nobody filed for: two, then the quota.
    assert [p["errors"] == [] for p in probes] == [True, True, False]
    assert probes[2]["errors"][0]["code"] == "QUOTA_EXCEEDED"
    assert third_by_hotline["errors"][0]["code"] == "QUOTA_EXCEEDED"


def test_filing_for_others_is_capped_a_day_except_for_operators(make_api: Any, db: psycopg.Connection[Any]) -> None:
    # Each need filed for someone texts a claim code to the phone it names: without a cap any account
    # could text phone after phone at the deployment's cost. A hotline (the operator role) files on.
    api: Api = make_api(filed_for_others_per_day=2)
    relative, hotline = sign_up(api, "con gái"), sign_up(api, "tổng đài")
    give_role(db, hotline, "OPERATOR")

    def file(token: str, i: int) -> Any:
        behalf = {"displayName": f"Người {i}", "phone": f"0977 555 0{i:02d}"}
        return api.data(CREATE_NEED, {"input": need_input(onBehalfOf=behalf)}, token)["createNeed"]

    by_relative = [file(relative, i) for i in range(3)]
    by_hotline = [file(hotline, 10 + i) for i in range(3)]
    own = api.data(CREATE_NEED, {"input": need_input(title="for myself")}, relative)["createNeed"]

    assert [r["errors"] == [] for r in by_relative] == [True, True, False]
    assert by_relative[2]["errors"][0] == {
        "field": "onBehalfOf", "code": "QUOTA_EXCEEDED",
        "message": "At most 2 needs a day may be filed for other people without the operator role.",
    }  # fmt: skip
    assert all(r["errors"] == [] for r in by_hotline) and own["errors"] == []
    assert db.execute("SELECT count(*) FROM needs WHERE beneficiary_phone LIKE '+8497755500%'").fetchone() == (2,)
