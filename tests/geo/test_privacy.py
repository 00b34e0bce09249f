"""The grid snapping that hides exact locations."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aidmap.geo.distance import haversine_m
from aidmap.geo.privacy import CELL_SIZE_M, round_distance, snap_to_cell

lats = st.floats(min_value=-80, max_value=80)
lons = st.floats(min_value=-179.99, max_value=179.99)


@given(lons, lats)
def test_a_point_lies_within_half_a_cell_diagonal_of_its_cell_centre(lon: float, lat: float) -> None:
    c_lon, c_lat = snap_to_cell(lon, lat)
    assert haversine_m(lon, lat, c_lon, c_lat) <= CELL_SIZE_M * 0.75


@given(lons, lats)
def test_snapping_is_deterministic_and_idempotent(lon: float, lat: float) -> None:
    cell = snap_to_cell(lon, lat)
    assert snap_to_cell(lon, lat) == cell
    assert snap_to_cell(*cell) == cell


def test_nearby_points_share_a_cell_and_cells_are_about_500_m() -> None:
    a = snap_to_cell(105.85420, 21.02850)
    b = snap_to_cell(105.85425, 21.02852)
    assert a == b
    east = snap_to_cell(a[0] + 0.0049, a[1])
    assert 400 < haversine_m(a[0], a[1], east[0], east[1]) < 600


def test_round_distance() -> None:
    assert round_distance(149.0) == 100.0
    assert round_distance(151.0) == 200.0


def test_postgresql_computes_the_same_cells_as_python(db: Any) -> None:
    """Searches and live matches run on the database's cell (aidmap_cell, a generated column) while
    views show Python's: both must be the same cell everywhere, poles and antimeridian included."""
    rng = random.Random(3)
    points = [(rng.uniform(-180, 180), rng.uniform(-90, 90)) for _ in range(3000)]
    points += [(rng.uniform(102, 110), rng.uniform(8, 24)) for _ in range(3000)]  # Việt Nam, densely
    points += [(179.9999, 0.0), (-180.0, 0.0), (180.0, 89.9999), (0.0, -90.0), (105.8542, 21.0285)]
    rows = db.execute(
        "SELECT ST_X(geometry(c)), ST_Y(geometry(c)) FROM unnest(%s::float8[], %s::float8[]) AS p(lon, lat), "
        "LATERAL aidmap_cell(geography(ST_SetSRID(ST_MakePoint(lon, lat), 4326))) AS c",
        ([p[0] for p in points], [p[1] for p in points]),
    ).fetchall()
    for (lon, lat), (sql_lon, sql_lat) in zip(points, rows, strict=True):
        py_lon, py_lat = snap_to_cell(lon, lat)
        assert abs(py_lon - sql_lon) <= 1e-6 and abs(py_lat - sql_lat) <= 1e-6, (lon, lat)
