"""The live match index proposes exactly what PostGIS answers, and follows changes through events."""

from __future__ import annotations

import random
import time
from typing import Any

import psycopg

from aidmap.events.match_index import MatchIndex
from tests.conftest import Api
from tests.factories import create_need, create_offer, sign_up

CATEGORIES = ["FOOD", "MEDICINE", "STUDY_DEVICE"]


def _random_rows(db: psycopg.Connection[Any], rng: random.Random) -> None:
    db.execute(
        "INSERT INTO accounts (display_name, phone, password_hash, roles) VALUES ('x', '+84900000001', 'x', '{}')"
    )
    owner = db.execute("SELECT id FROM accounts").fetchone()[0]  # type: ignore[index]
    with db.cursor().copy(
        "COPY needs (owner_id, category, title, quantity, unit, urgency, location, contact_phone, expires_at, status) FROM STDIN"
    ) as copy:
        for i in range(2000):
            lon, lat = rng.uniform(105.75, 105.95), rng.uniform(20.95, 21.1)
            status = rng.choice(["OPEN", "OPEN", "PARTLY_PLEDGED", "CANCELLED"])
            copy.write_row((owner, rng.choice(CATEGORIES), f"n{i}", 1, "kg", "NORMAL", f"SRID=4326;POINT({lon} {lat})",
                            "+84900000001", "2099-01-01", status))  # fmt: skip
    with db.cursor().copy(
        "COPY offers (donor_id, category, title, quantity, unit, location, radius_meters, available_until, status) FROM STDIN"
    ) as copy:
        for i in range(400):
            lon, lat = rng.uniform(105.75, 105.95), rng.uniform(20.95, 21.1)
            status = rng.choice(["ACTIVE", "ACTIVE", "WITHDRAWN"])
            copy.write_row((owner, rng.choice(CATEGORIES), f"o{i}", 5, "kg", f"SRID=4326;POINT({lon} {lat})",
                            rng.uniform(300, 6000), "2099-01-01", status))  # fmt: skip


def test_r_tree_candidates_equal_the_postgis_answer_on_random_data(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    rng = random.Random(2021)
    _random_rows(db, rng)
    index = MatchIndex()
    index.load(database_url)

    for _ in range(60):
        lon, lat = rng.uniform(105.75, 105.95), rng.uniform(20.95, 21.1)
        category, radius = rng.choice(CATEGORIES), rng.uniform(200, 5000)
        point = {"lon": lon, "lat": lat, "category": category, "radius": radius}
        # use_spheroid=false: the same sphere as the index's haversine. The index holds public cells.
        sql_needs = {r[0] for r in db.execute(
            "SELECT id FROM needs WHERE status IN ('OPEN', 'PARTLY_PLEDGED') AND category = %(category)s "
            "AND ST_DWithin(cell, ST_MakePoint(%(lon)s, %(lat)s)::geography, %(radius)s, false)", point)}  # fmt: skip
        sql_offers = {r[0] for r in db.execute(
            "SELECT id FROM offers WHERE status = 'ACTIVE' AND category = %(category)s "
            "AND ST_DWithin(cell, ST_MakePoint(%(lon)s, %(lat)s)::geography, radius_meters, false)", point)}  # fmt: skip
        assert set(index.needs_within(category, lon, lat, radius)) == sql_needs
        assert set(index.offers_reaching(category, lon, lat)) == sql_offers
    assert index.sizes == (
        db.execute("SELECT count(*) FROM needs WHERE status IN ('OPEN', 'PARTLY_PLEDGED')").fetchone()[0],  # type: ignore[index]
        db.execute("SELECT count(*) FROM offers WHERE status = 'ACTIVE'").fetchone()[0],  # type: ignore[index]
    )


SUGGESTED_OFFERS = """query ($id: ID!) { suggestedOffers(needId: $id) {
  offer { title } distanceMeters score parts { distance urgency waiting quantity fairness } } }"""
SUGGESTED_NEEDS = "query ($id: ID!) { suggestedNeeds(offerId: $id) { need { title } score parts { distance } } }"
WITHDRAW = "mutation ($input: WithdrawOfferInput!) { withdrawOffer(input: $input) { errors { code } } }"


def _eventually(check: Any, timeout: float = 10) -> Any:
    """The index follows the event stream, which is asynchronous: poll briefly."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_suggestions_rank_with_visible_parts_and_follow_changes(api: Api) -> None:
    requester, donor_near, donor_far = sign_up(api), sign_up(api), sign_up(api)
    need = create_need(api, requester, title="gạo", quantity=10)
    near = create_offer(
        api, donor_near, title="near", quantity=10, location={"lat": 21.0295, "lon": 105.8542}, radiusMeters=2000
    )
    create_offer(api, donor_far, title="far", quantity=3, location={"lat": 21.0385, "lon": 105.8542}, radiusMeters=2000)
    create_offer(api, donor_far, title="out of reach", location={"lat": 21.0585, "lon": 105.8542}, radiusMeters=1000)
    create_offer(api, donor_far, title="wrong category", category="MEDICINE")

    ranked = _eventually(lambda: len(api.data(SUGGESTED_OFFERS, {"id": need["id"]}, requester)["suggestedOffers"]) == 2)
    assert ranked, "the index did not pick up the new offers"
    offers = api.data(SUGGESTED_OFFERS, {"id": need["id"]}, requester)["suggestedOffers"]
    assert [o["offer"]["title"] for o in offers] == ["near", "far"]
    assert offers[0]["score"] > offers[1]["score"]
    assert offers[0]["parts"]["quantity"] == 1.0 and offers[1]["parts"]["quantity"] == 0.3
    assert offers[0]["parts"]["urgency"] == 0.75 and offers[0]["parts"]["fairness"] == 1.0
    needs = api.data(SUGGESTED_NEEDS, {"id": near["id"]}, donor_near)["suggestedNeeds"]
    assert [n["need"]["title"] for n in needs] == ["gạo"]

    api.data(WITHDRAW, {"input": {"offerId": near["id"]}}, donor_near)
    after = _eventually(
        lambda: (
            [o["offer"]["title"] for o in api.data(SUGGESTED_OFFERS, {"id": need["id"]}, requester)["suggestedOffers"]]
            == ["far"]
        )
    )
    assert after
    stranger = api.post(SUGGESTED_OFFERS, {"id": need["id"]}, donor_far)
    assert stranger["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_suggested_needs_show_public_distances_cell_to_cell(api: Api) -> None:
    from aidmap.geo.distance import haversine_m
    from aidmap.geo.privacy import round_distance, snap_to_cell

    requester, donor = sign_up(api), sign_up(api)
    point = {"lat": 21.0312, "lon": 105.8571}
    create_need(api, requester, title="gạo", location=point)
    origin = {"lat": 21.0285, "lon": 105.8542}
    offer = create_offer(api, donor, location=origin, radiusMeters=3000)
    query = "query ($id: ID!) { suggestedNeeds(offerId: $id) { distanceMeters need { exactLocation { lat } } } }"

    found = _eventually(lambda: api.data(query, {"id": offer["id"]}, donor)["suggestedNeeds"])

    cell_lon, cell_lat = snap_to_cell(point["lon"], point["lat"])
    offer_lon, offer_lat = snap_to_cell(origin["lon"], origin["lat"])
    assert found[0]["need"]["exactLocation"] is None
    assert found[0]["distanceMeters"] == round_distance(haversine_m(offer_lon, offer_lat, cell_lon, cell_lat))
