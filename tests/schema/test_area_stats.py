"""areaStats: what happened in an area, for its verifiers and admins only."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap.resolvers.areas import BUNDLED, import_files
from tests.conftest import Api
from tests.factories import PLEDGE, create_need, give_role, sign_up

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
BA_DINH_SQUARE = {"lat": 21.0368, "lon": 105.8346}
STATS = """query ($code: String!) { areaStats(areaCode: $code) {
  area { name } counts { category status count } peopleHelped medianSecondsToFirstPledge } }"""
CONFIRM = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { code } } }"


def test_area_stats_count_needs_people_helped_and_time_to_first_pledge(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    requester, donor, city, ward, other_ward, admin = (sign_up(api, n) for n in ("r", "d", "tp", "p", "p2", "a"))
    give_role(db, city, "VERIFIER", ("01",))  # the whole of Hà Nội
    give_role(db, ward, "VERIFIER", ("00070",))
    give_role(db, other_ward, "VERIFIER", ("00004",))
    give_role(db, admin, "ADMIN")
    rice = create_need(api, requester, householdSize=4, location=HOAN_KIEM_LAKE)
    medicine = create_need(api, requester, category="MEDICINE", location=HOAN_KIEM_LAKE)
    create_need(api, requester, category="MEDICINE", title="other", location=HOAN_KIEM_LAKE)
    create_need(api, requester, location=BA_DINH_SQUARE)
    first = api.data(PLEDGE, {"input": {"needId": rice["id"], "quantity": 10}}, donor)["pledge"]["pledge"]
    api.data(PLEDGE, {"input": {"needId": medicine["id"], "quantity": 1}}, donor)
    api.data(CONFIRM, {"id": first["id"]}, requester)
    # Posted 10 and 30 minutes before their first pledge.
    db.execute(
        "UPDATE needs n SET created_at = p.created_at - interval '10 minutes' FROM pledges p WHERE p.need_id = n.id AND n.category = 'FOOD'"
    )
    db.execute(
        "UPDATE needs n SET created_at = p.created_at - interval '30 minutes' FROM pledges p WHERE p.need_id = n.id AND n.category = 'MEDICINE'"
    )

    stats = api.data(STATS, {"code": "00070"}, ward)["areaStats"]

    assert stats["area"]["name"] == "Hoàn Kiếm"
    assert stats["counts"] == [
        {"category": "FOOD", "status": "FULFILLED", "count": 1},
        {"category": "MEDICINE", "status": "OPEN", "count": 1},
        {"category": "MEDICINE", "status": "PARTLY_PLEDGED", "count": 1},
    ]
    assert stats["peopleHelped"] == 4
    assert stats["medianSecondsToFirstPledge"] == 20 * 60
    province = api.data(STATS, {"code": "01"}, city)["areaStats"]
    assert sum(c["count"] for c in province["counts"]) == 4
    assert api.data(STATS, {"code": "01"}, admin)["areaStats"] == province

    def error(token: str | None, code: str = "00070") -> str:
        return str(api.post(STATS, {"code": code}, token)["errors"][0]["extensions"]["code"])

    assert error(None) == "UNAUTHENTICATED"
    assert error(donor) == error(other_ward) == error(ward, "01") == "FORBIDDEN"
    assert error(admin, "nowhere") == "NOT_FOUND"
