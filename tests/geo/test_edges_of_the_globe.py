"""Property tests where maps break: the poles, the antimeridian, and every float a client can send."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from aidmap.geo.distance import EARTH_RADIUS_M, haversine_m
from aidmap.geo.index import circle_box
from aidmap.geo.privacy import CELL_LAT_DEG, snap_to_cell

lons = st.floats(-180, 180, allow_nan=False)
lats = st.floats(-90, 90, allow_nan=False)
near_pole = st.floats(84, 90) | st.floats(-90, -84)
near_antimeridian = st.floats(175, 180) | st.floats(-180, -175)


def destination(lon: float, lat: float, distance_m: float, bearing: float) -> tuple[float, float]:
    """The point distance_m away along a bearing (great circle)."""
    delta, phi1, lmb1 = distance_m / EARTH_RADIUS_M, math.radians(lat), math.radians(lon)
    phi2 = math.asin(math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(bearing))
    lmb2 = lmb1 + math.atan2(
        math.sin(bearing) * math.sin(delta) * math.cos(phi1), math.cos(delta) - math.sin(phi1) * math.sin(phi2)
    )
    return (math.degrees(lmb2) + 540) % 360 - 180, math.degrees(phi2)


def inside(box: tuple[float, float, float, float], lon: float, lat: float) -> bool:
    # 1e-7 degrees (~1 cm): asin() next to the poles is not more precise than that.
    return box[0] - 1e-7 <= lon <= box[2] + 1e-7 and box[1] - 1e-7 <= lat <= box[3] + 1e-7


@settings(max_examples=400, derandomize=True)
@given(near_antimeridian | lons, near_pole | lats, st.floats(1, 50_000), st.floats(0, 2 * math.pi), st.floats(0, 1))
def test_the_box_of_a_circle_holds_it_at_the_poles_and_across_the_antimeridian(
    lon: float, lat: float, radius: float, bearing: float, fraction: float
) -> None:
    point = destination(lon, lat, radius * fraction * 0.999, bearing)
    assert inside(circle_box(lon, lat, radius), *point)


@settings(max_examples=400, derandomize=True)
@given(lons, lats, lons, lats)
def test_distance_is_a_metric_on_the_sphere(lon1: float, lat1: float, lon2: float, lat2: float) -> None:
    d = haversine_m(lon1, lat1, lon2, lat2)
    assert 0 <= d <= math.pi * EARTH_RADIUS_M + 1e-6
    assert math.isclose(d, haversine_m(lon2, lat2, lon1, lat1), abs_tol=1e-6)
    assert haversine_m(lon1, lat1, lon1, lat1) == 0


@settings(max_examples=400, derandomize=True)
@given(near_antimeridian | lons, near_pole | lats)
def test_snapping_is_stable_valid_and_stays_within_a_cell(lon: float, lat: float) -> None:
    cell_lon, cell_lat = snap_to_cell(lon, lat)
    assert -180 <= cell_lon <= 180 and -90 <= cell_lat <= 90
    assert snap_to_cell(cell_lon, cell_lat) == (cell_lon, cell_lat)  # a cell centre is in its own cell
    assert abs(cell_lat - lat) <= CELL_LAT_DEG / 2 + 1e-6
    # Near the poles cells widen in longitude but stay about 500 m across on the ground.
    assert haversine_m(lon, lat, cell_lon, lat) <= 500 or abs(lat) > 89.9
