"""The grid snapping that hides exact locations."""

from __future__ import annotations

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
