"""needs(orderBy: URGENCY, urgencies: [...]): the most urgent first, then the nearest cell, keyset-paged,
and never a function of an exact point (only of its public cell)."""

from __future__ import annotations

import random
from typing import Any

import psycopg
import pytest

from aidmap.geo.privacy import CELL_LAT_DEG, _cell_lon_deg, snap_to_cell
from tests.conftest import Api
from tests.factories import HANOI, create_need, sign_up

TRIAGE = """
query ($near: GeoPointInput!, $radius: Float!, $first: Int!, $after: String, $urgencies: [Urgency!],
       $order: NeedOrder!, $categories: [NeedCategory!]) {
  needs(near: $near, radiusMeters: $radius, first: $first, after: $after, urgencies: $urgencies, orderBy: $order,
        categories: $categories) {
    edges { cursor distanceMeters node { id title urgency } }
    pageInfo { hasNextPage endCursor }
  }
}"""
URGENCIES = ["CRITICAL", "HIGH", "NORMAL", "LOW"]


def _at(km_east: float) -> dict[str, float]:
    # 900 m steps: more than a cell's diagonal, so each need has a cell of its own and a distinct distance.
    return {"lat": HANOI["lat"], "lon": HANOI["lon"] + km_east * 0.0097}


def _pages(api: Api, token: str | None, first: int, **variables: Any) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        base = {"near": HANOI, "radius": 20000, "first": first, "after": after, "order": "URGENCY"}
        page = api.data(TRIAGE, {**base, **variables}, token)["needs"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def _titles(pages: list[dict[str, Any]]) -> list[str]:
    return [e["node"]["title"] for page in pages for e in page["edges"]]


@pytest.fixture
def scattered(api: Api) -> list[dict[str, Any]]:
    """12 needs, three of each urgency, at shuffled distances."""
    owner = sign_up(api)
    rng = random.Random(5)
    spots = list(range(1, 13))
    rng.shuffle(spots)
    made = []
    for i, spot in enumerate(spots):
        urgency = URGENCIES[i % 4]
        made.append({"title": f"{urgency} {spot}", "urgency": urgency, "spot": spot})
        create_need(api, owner, title=f"{urgency} {spot}", urgency=urgency, location=_at(spot))
    return made


def test_most_urgent_first_then_nearest_on_every_page_size(api: Api, scattered: list[dict[str, Any]]) -> None:
    expected = [n["title"] for n in sorted(scattered, key=lambda n: (URGENCIES.index(n["urgency"]), n["spot"]))]
    donor = sign_up(api)
    for first in (1, 2, 3, 5, 12, 20):
        pages = _pages(api, donor, first)
        assert _titles(pages) == expected, first
        assert all(len(p["edges"]) == first for p in pages[:-1])
        # Within each urgency the shown (public, rounded) distance never decreases.
        edges = [e for p in pages for e in p["edges"]]
        for level in URGENCIES:
            d = [e["distanceMeters"] for e in edges if e["node"]["urgency"] == level]
            assert d == sorted(d)
    # A page that ends exactly at the last need says there is nothing more.
    whole = _pages(api, None, 12)
    assert len(whole) == 1 and whole[0]["pageInfo"]["hasNextPage"] is False


def test_the_urgencies_filter_works_in_both_orders(api: Api, scattered: list[dict[str, Any]]) -> None:
    urgent = _titles(_pages(api, None, 2, urgencies=["HIGH", "CRITICAL"]))
    assert urgent == [n["title"] for n in sorted(
        (n for n in scattered if n["urgency"] in ("HIGH", "CRITICAL")),
        key=lambda n: (URGENCIES.index(n["urgency"]), n["spot"]))]  # fmt: skip
    nearest = _titles(_pages(api, None, 4, urgencies=["LOW"], order="DISTANCE"))
    assert nearest == [
        n["title"] for n in sorted((n for n in scattered if n["urgency"] == "LOW"), key=lambda n: n["spot"])
    ]
    assert _titles(_pages(api, None, 4, urgencies=["LOW"], categories=["MEDICINE"])) == []


def test_a_distance_cursor_is_refused_by_the_urgency_order_and_changes_nothing(
    api: Api, scattered: list[dict[str, Any]]
) -> None:
    distance_page = api.data(TRIAGE, {"near": HANOI, "radius": 20000, "first": 2, "order": "DISTANCE"})["needs"]
    body = api.post(TRIAGE, {"near": HANOI, "radius": 20000, "first": 2, "order": "URGENCY",
                             "after": distance_page["pageInfo"]["endCursor"]})  # fmt: skip
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "INVALID", "field": "after"}
    body = api.post(TRIAGE, {"near": HANOI, "radius": 20000, "first": 0, "order": "URGENCY"})
    assert body["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "first"}


def _moved_within_cell(lat: float, lon: float, rng: random.Random) -> tuple[float, float]:
    cell_lon, cell_lat = snap_to_cell(lon, lat)
    half_lat, half_lon = CELL_LAT_DEG / 2, _cell_lon_deg(cell_lat) / 2
    while True:
        q = (cell_lon + rng.uniform(-half_lon, half_lon), cell_lat + rng.uniform(-half_lat, half_lat))
        if snap_to_cell(*q) == (cell_lon, cell_lat):
            return q


def test_moving_exact_points_inside_their_cells_changes_no_order_or_page_boundary(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    owner, stranger = sign_up(api), sign_up(api)
    rng = random.Random(11)
    # Crowded: 16 needs within 600 m, several per cell, so cells tie and the rank point decides.
    for i in range(16):
        location = {"lat": HANOI["lat"] + rng.uniform(-0.004, 0.004), "lon": HANOI["lon"] + rng.uniform(-0.004, 0.004)}
        create_need(api, owner, title=f"n{i}", urgency=URGENCIES[i % 3], location=location)
    origins = [HANOI, *({"lat": HANOI["lat"] + rng.uniform(-0.005, 0.005),
                         "lon": HANOI["lon"] + rng.uniform(-0.005, 0.005)} for _ in range(4))]  # fmt: skip

    def battery() -> list[Any]:
        return [
            _pages(api, who, first, near=origin, radius=radius)
            for origin in origins
            for radius in (150.0, 400.0, 2000.0)
            for first, who in ((1, None), (3, stranger), (20, None))
        ]

    before = battery()
    assert sum(len(p["edges"]) for run in before for p in run) > 100  # not vacuous
    points = db.execute("SELECT id, ST_Y(location::geometry), ST_X(location::geometry) FROM needs").fetchall()
    for need_id, lat, lon in points:
        new_lon, new_lat = _moved_within_cell(lat, lon, rng)
        db.execute(
            "UPDATE needs SET location = ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography WHERE id = %s",
            (new_lon, new_lat, need_id),
        )
    now = set(db.execute("SELECT id, ST_Y(location::geometry), ST_X(location::geometry) FROM needs").fetchall())
    assert len(points) == 16 and not now & set(points)  # every exact point moved
    assert battery() == before
