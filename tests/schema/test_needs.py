"""Needs: create, update, cancel, search nearby with keyset pages, and every kind of bad input."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import psycopg
import pytest

from aidmap.geo.distance import haversine_m
from tests.conftest import Api
from tests.factories import CREATE_NEED, HANOI, create_need, need_input, pledge, sign_up

UPDATE_NEED = """
mutation ($input: UpdateNeedInput!) {
  updateNeed(input: $input) { need { id title quantity status details exactLocation { lat lon } } errors { field message code } }
}"""
CANCEL_NEED = """
mutation ($input: CancelNeedInput!) { cancelNeed(input: $input) { need { id status } errors { field message code } } }"""
NEEDS = """
query ($near: GeoPointInput!, $radius: Float!, $first: Int!, $after: String, $categories: [NeedCategory!], $statuses: [NeedStatus!]) {
  needs(near: $near, radiusMeters: $radius, first: $first, after: $after, categories: $categories, statuses: $statuses) {
    edges { cursor distanceMeters node { id title category status exactLocation { lat lon } approximateLocation { lat lon } contactPhone } }
    pageInfo { hasNextPage endCursor }
  }
}"""
MY_NEEDS = "query ($after: String) { myNeeds(first: 2, after: $after) { edges { node { id title } } pageInfo { hasNextPage endCursor } } }"


def _count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_create_need_stores_it_and_shows_the_owner_everything(api: Api, db: psycopg.Connection[Any]) -> None:
    token = sign_up(api)

    need = create_need(api, token, details="Nhà có 2 người già", householdSize=4)

    assert need["status"] == "OPEN" and need["isMine"] is True
    assert need["exactLocation"] == HANOI
    assert need["contactPhone"] == "+84912345678"
    assert need["householdSize"] == 4 and need["urgency"] == "HIGH" and need["category"] == "FOOD"
    approx = need["approximateLocation"]
    assert haversine_m(approx["lon"], approx["lat"], HANOI["lon"], HANOI["lat"]) < 400
    lon, lat = db.execute("SELECT ST_X(location::geometry), ST_Y(location::geometry) FROM needs").fetchone()  # type: ignore[misc]
    assert (lat, lon) == pytest.approx((HANOI["lat"], HANOI["lon"]))


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"location": {"lat": 91, "lon": 105}}, "location", "OUT_OF_RANGE"),
        ({"location": {"lat": 21, "lon": -180.5}}, "location", "OUT_OF_RANGE"),
        ({"title": "   "}, "title", "REQUIRED"),
        ({"title": "x" * 121}, "title", "TOO_LONG"),
        ({"details": "x" * 2001}, "details", "TOO_LONG"),
        ({"title": "Gạo\x00"}, "title", "INVALID"),  # PostgreSQL text cannot hold NUL
        ({"details": "a\x00b"}, "details", "INVALID"),
        ({"quantity": 0}, "quantity", "OUT_OF_RANGE"),
        ({"quantity": -3}, "quantity", "OUT_OF_RANGE"),
        ({"unit": ""}, "unit", "REQUIRED"),
        ({"householdSize": 0}, "householdSize", "OUT_OF_RANGE"),
        ({"contactPhone": "call me"}, "contactPhone", "INVALID"),
        ({"expiresAt": "2020-01-01T00:00:00+00:00"}, "expiresAt", "OUT_OF_RANGE"),
    ],
)
def test_create_need_rejects_bad_input_and_changes_nothing(
    api: Api, db: psycopg.Connection[Any], overrides: dict[str, Any], field: str, code: str
) -> None:
    token = sign_up(api)

    payload = api.data(CREATE_NEED, {"input": need_input(**overrides)}, token)["createNeed"]

    assert payload["need"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert _count(db, "needs") == 0


def test_a_lone_surrogate_is_refused_as_invalid_not_an_unexpected_error(api: Api, db: psycopg.Connection[Any]) -> None:
    token = sign_up(api)
    # JSON may carry "\ud800" as an escape; it decodes to text that UTF-8 (and PostgreSQL) cannot hold.
    body = json.dumps({"query": CREATE_NEED, "variables": {"input": need_input(title="SURROGATE")}})
    body = body.replace("SURROGATE", "G\\ud800")
    response = api.http.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )

    payload = response.json()["data"]["createNeed"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("title", "INVALID")]
    assert _count(db, "needs") == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"category": "WEAPONS"}, "WEAPONS"),
        ({"location": {"lat": float("nan"), "lon": 105.0}}, "nan"),
        ({"location": {"lat": 21.0, "lon": float("inf")}}, "inf"),
    ],
)
def test_values_graphql_cannot_represent_are_rejected_before_any_write(
    api: Api, db: psycopg.Connection[Any], overrides: dict[str, Any], expected: str
) -> None:
    token = sign_up(api)
    # httpx refuses to encode NaN as JSON, so send the raw text a careless client would.
    import json

    body = json.dumps({"query": CREATE_NEED, "variables": {"input": need_input(**overrides)}}, allow_nan=True)
    response = api.http.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )

    errors = response.json()["errors"]
    assert expected.lower() in errors[0]["message"].lower()
    assert "Traceback" not in response.text
    assert _count(db, "needs") == 0


def test_update_need_changes_only_given_fields_and_only_for_the_owner(api: Api, db: psycopg.Connection[Any]) -> None:
    owner, stranger = sign_up(api), sign_up(api)
    need = create_need(api, owner, details="trước")

    updated = api.data(UPDATE_NEED, {"input": {"needId": need["id"], "title": "Cần 20kg gạo", "quantity": 20}}, owner)[
        "updateNeed"
    ]
    foreign = api.data(UPDATE_NEED, {"input": {"needId": need["id"], "title": "hijacked"}}, stranger)["updateNeed"]
    bad = api.data(UPDATE_NEED, {"input": {"needId": need["id"], "location": {"lat": 0, "lon": 200}}}, owner)[
        "updateNeed"
    ]
    garbage_id = api.data(UPDATE_NEED, {"input": {"needId": "bm9wZQ", "title": "x"}}, owner)["updateNeed"]

    assert updated["errors"] == []
    assert (
        updated["need"]["title"] == "Cần 20kg gạo"
        and updated["need"]["quantity"] == 20
        and updated["need"]["details"] == "trước"
    )
    assert foreign["need"] is None and foreign["errors"][0]["code"] == "NOT_FOUND"
    assert bad["errors"][0]["code"] == "OUT_OF_RANGE"
    assert garbage_id["errors"][0]["code"] == "NOT_FOUND"
    assert db.execute("SELECT title, quantity FROM needs").fetchone() == ("Cần 20kg gạo", 20)


def test_quantity_cannot_go_below_what_is_pledged(api: Api) -> None:
    owner, donor = sign_up(api), sign_up(api)
    need = create_need(api, owner, quantity=10)
    pledge(api, donor, need["id"], 6)

    payload = api.data(UPDATE_NEED, {"input": {"needId": need["id"], "quantity": 5}}, owner)["updateNeed"]
    grown = api.data(UPDATE_NEED, {"input": {"needId": need["id"], "quantity": 6}}, owner)["updateNeed"]

    assert payload["errors"][0]["code"] == "OUT_OF_RANGE"
    assert grown["need"]["status"] == "PLEDGED"


def test_cancel_need_cancels_its_open_pledges(api: Api, db: psycopg.Connection[Any]) -> None:
    owner, donor = sign_up(api), sign_up(api)
    need = create_need(api, owner)
    pledge(api, donor, need["id"], 3)

    stranger = api.data(CANCEL_NEED, {"input": {"needId": need["id"]}}, donor)["cancelNeed"]
    cancelled = api.data(CANCEL_NEED, {"input": {"needId": need["id"]}}, owner)["cancelNeed"]
    again = api.data(CANCEL_NEED, {"input": {"needId": need["id"]}}, owner)["cancelNeed"]

    assert stranger["errors"][0]["code"] == "NOT_FOUND"
    assert cancelled["need"]["status"] == "CANCELLED"
    assert again["errors"][0]["code"] == "INVALID_STATE"
    assert db.execute("SELECT status FROM pledges").fetchall() == [("CANCELLED",)]


def test_needs_nearby_are_ordered_by_distance_and_filtered(api: Api) -> None:
    owner, donor = sign_up(api), sign_up(api)
    # Needs due east of the centre at 900 m steps (more than the diagonal of a ~500 m cell: public searches
    # order by cell); one MEDICINE, one outside the radius.
    for i in range(1, 6):
        create_need(api, owner, title=f"food {i}", location={"lat": HANOI["lat"], "lon": HANOI["lon"] + i * 0.0087})
    create_need(
        api, owner, title="medicine", category="MEDICINE", location={"lat": HANOI["lat"] + 0.001, "lon": HANOI["lon"]}
    )
    create_need(api, owner, title="far", location={"lat": HANOI["lat"] + 0.2, "lon": HANOI["lon"]})

    food = api.data(NEEDS, {"near": HANOI, "radius": 5000, "first": 10, "categories": ["FOOD"]}, donor)["needs"]
    everything = api.data(NEEDS, {"near": HANOI, "radius": 50000, "first": 10})["needs"]

    assert [e["node"]["title"] for e in food["edges"]] == [f"food {i}" for i in range(1, 6)]
    distances = [e["distanceMeters"] for e in food["edges"]]
    assert distances == sorted(distances) and all(d % 100 == 0 for d in distances)
    assert all(e["node"]["exactLocation"] is None and e["node"]["contactPhone"] is None for e in food["edges"])
    assert [e["node"]["title"] for e in everything["edges"]][:2] == ["medicine", "food 1"]
    assert everything["edges"][-1]["node"]["title"] == "far"


def test_status_filter_defaults_to_open_and_partly_pledged(api: Api) -> None:
    owner, donor = sign_up(api), sign_up(api)
    open_need = create_need(api, owner, title="open")
    partly = create_need(api, owner, title="partly")
    full = create_need(api, owner, title="full", quantity=2)
    pledge(api, donor, partly["id"], 1)
    pledge(api, donor, full["id"], 2)

    default = api.data(NEEDS, {"near": HANOI, "radius": 1000, "first": 10})["needs"]
    pledged = api.data(NEEDS, {"near": HANOI, "radius": 1000, "first": 10, "statuses": ["PLEDGED"]})["needs"]

    assert {e["node"]["title"] for e in default["edges"]} == {"open", "partly"}
    assert [e["node"]["id"] for e in pledged["edges"]] == [full["id"]]
    assert open_need["status"] == "OPEN"
    # One status is searched on its own index (migration 0033), several together on the general one.
    several = api.data(NEEDS, {"near": HANOI, "radius": 1000, "first": 10, "statuses": ["PLEDGED", "OPEN", "OPEN"]})
    assert {e["node"]["title"] for e in several["needs"]["edges"]} == {"open", "full"}


URGENT = """query ($order: NeedOrder!, $urgencies: [Urgency!]) {
  needs(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 5000, first: 10, orderBy: $order, urgencies: $urgencies) {
    edges { node { title urgency } } } }"""


@pytest.mark.parametrize("order", ["DISTANCE", "URGENCY"])
def test_one_urgency_or_several_list_exactly_those(api: Api, order: str) -> None:
    owner = sign_up(api)
    for i, urgency in enumerate(["LOW", "CRITICAL", "NORMAL", "HIGH", "CRITICAL"]):
        location = {"lat": HANOI["lat"], "lon": HANOI["lon"] + i * 0.0087}
        create_need(api, owner, title=f"{urgency.lower()} {i}", urgency=urgency, location=location)

    def titles(urgencies: list[str] | None) -> list[str]:
        found = api.data(URGENT, {"order": order, "urgencies": urgencies})["needs"]["edges"]
        return [e["node"]["title"] for e in found]

    assert titles(["CRITICAL"]) == ["critical 1", "critical 4"]
    assert titles(["LOW"]) == ["low 0"]
    assert sorted(titles(["HIGH", "LOW"])) == ["high 3", "low 0"]
    everything = titles(None)
    assert len(everything) == 5
    if order == "URGENCY":
        assert everything == ["critical 1", "critical 4", "high 3", "normal 2", "low 0"]


def test_paging_through_250_needs_has_no_duplicates_or_gaps(api: Api, db: psycopg.Connection[Any]) -> None:
    owner = sign_up(api)
    rng = random.Random(7)
    owner_id = db.execute("SELECT id FROM accounts").fetchone()[0]  # type: ignore[index]
    with db.cursor().copy(
        "COPY needs (owner_id, category, title, quantity, unit, urgency, location, contact_phone, expires_at) FROM STDIN"
    ) as copy:
        for i in range(250):
            # Some share a point exactly, so the id tie-breaker is exercised.
            lat, lon = (21.03, 105.85) if i % 25 == 0 else (21.0 + rng.random() * 0.06, 105.82 + rng.random() * 0.06)
            copy.write_row(
                (
                    owner_id,
                    "FOOD",
                    f"n{i}",
                    1,
                    "kg",
                    "NORMAL",
                    f"SRID=4326;POINT({lon} {lat})",
                    "+84912345678",
                    "2099-01-01",
                )
            )
    db.execute("UPDATE needs SET expires_at = now() + interval '1 day'")

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = api.data(NEEDS, {"near": HANOI, "radius": 20000, "first": 37, "after": after}, owner)["needs"]
        seen += [e["node"]["id"] for e in page["edges"]]
        pages += 1
        distances = [e["distanceMeters"] for e in page["edges"]]
        assert distances == sorted(distances)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert pages == math.ceil(250 / 37)
    assert len(seen) == len(set(seen)) == 250


@pytest.mark.parametrize(
    ("variables", "field", "code"),
    [
        ({"radius": 0}, "radiusMeters", "OUT_OF_RANGE"),
        ({"radius": -5}, "radiusMeters", "OUT_OF_RANGE"),
        ({"radius": 50001}, "radiusMeters", "OUT_OF_RANGE"),
        ({"near": {"lat": -90.1, "lon": 0}}, "near", "OUT_OF_RANGE"),
        ({"first": 0}, "first", "OUT_OF_RANGE"),
        ({"first": 101}, "first", "OUT_OF_RANGE"),
        ({"after": "not a cursor!"}, "after", "INVALID"),
    ],
)
def test_needs_query_rejects_bad_arguments_with_a_typed_error(
    api: Api, variables: dict[str, Any], field: str, code: str
) -> None:
    body = api.post(NEEDS, {"near": HANOI, "radius": 1000, "first": 10, **variables})

    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": code, "field": field}


def test_my_needs_pages_newest_first(api: Api) -> None:
    owner, other = sign_up(api), sign_up(api)
    for i in range(3):
        create_need(api, owner, title=f"mine {i}")
    create_need(api, other, title="not mine")

    first = api.data(MY_NEEDS, {}, owner)["myNeeds"]
    second = api.data(MY_NEEDS, {"after": first["pageInfo"]["endCursor"]}, owner)["myNeeds"]

    assert [e["node"]["title"] for e in first["edges"]] == ["mine 2", "mine 1"]
    assert [e["node"]["title"] for e in second["edges"]] == ["mine 0"] and not second["pageInfo"]["hasNextPage"]
    assert api.post(MY_NEEDS, {})["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


PAGED = """query ($urgencies: [Urgency!], $first: Int!, $after: String) {
  needs(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 9000, first: $first, after: $after, urgencies: $urgencies) {
    edges { distanceMeters node { title } } pageInfo { hasNextPage endCursor } } }"""


def test_several_urgencies_nearest_first_page_like_one_list(api: Api) -> None:
    """ "Urgent only" searches each level on its own index and merges them: pages of 2 must give
    exactly the one long list, nearest first, and that list exactly the urgent needs."""
    owner = sign_up(api)
    levels = ["HIGH", "LOW", "CRITICAL", "NORMAL", "CRITICAL", "HIGH", "HIGH", "LOW", "CRITICAL"]
    for i, urgency in enumerate(levels):
        location = {"lat": HANOI["lat"] + (i % 3) * 0.0061, "lon": HANOI["lon"] + i * 0.0071}
        create_need(api, owner, title=f"{urgency.lower()} {i}", urgency=urgency, location=location)
    urgent = ["HIGH", "CRITICAL"]
    whole = api.data(PAGED, {"urgencies": urgent, "first": 20})["needs"]
    assert not whole["pageInfo"]["hasNextPage"]
    titles = [e["node"]["title"] for e in whole["edges"]]
    assert sorted(titles) == sorted(f"{u.lower()} {i}" for i, u in enumerate(levels) if u in urgent)
    distances = [e["distanceMeters"] for e in whole["edges"]]
    assert distances == sorted(distances)
    paged, after = [], None
    while True:
        page = api.data(PAGED, {"urgencies": urgent, "first": 2, "after": after})["needs"]
        paged += [e["node"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == titles
