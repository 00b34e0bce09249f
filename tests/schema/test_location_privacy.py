"""The attack the grid is for: an unauthorised donor queries one need from many places and fits its position.

Distances are computed from the need's fixed ~500 m cell and rounded to 100 m, so the
best least-squares fit lands on the cell, not the person: on average it must stay at
least a quarter of a cell (125 m) from the true point.
"""

from __future__ import annotations

import math
import random

from aidmap.geo.distance import METERS_PER_DEGREE_LAT, haversine_m
from aidmap.geo.privacy import CELL_SIZE_M, snap_to_cell
from tests.conftest import Api
from tests.factories import create_need, sign_up

NEARBY = """query ($near: GeoPointInput!) {
  needs(near: $near, radiusMeters: 6000, first: 100) { edges { distanceMeters node { id exactLocation { lat } } } } }"""


def _least_squares(observations: list[tuple[float, float, float]], start: tuple[float, float]) -> tuple[float, float]:
    """Gauss-Newton fit of the point whose distances to the origins best match the observations."""
    lat0 = start[1]
    mx = METERS_PER_DEGREE_LAT * math.cos(math.radians(lat0))
    my = METERS_PER_DEGREE_LAT
    pts = [((lon - start[0]) * mx, (lat - start[1]) * my, d) for lon, lat, d in observations]
    x, y = 0.0, 0.0
    for _ in range(50):
        jtj = [[0.0, 0.0], [0.0, 0.0]]
        jtr = [0.0, 0.0]
        for ox, oy, d in pts:
            dist = math.hypot(x - ox, y - oy) or 1e-9
            jx, jy, r = (x - ox) / dist, (y - oy) / dist, dist - d
            jtj[0][0] += jx * jx
            jtj[0][1] += jx * jy
            jtj[1][1] += jy * jy
            jtr[0] += jx * r
            jtr[1] += jy * r
        det = jtj[0][0] * jtj[1][1] - jtj[0][1] ** 2
        if abs(det) < 1e-12:
            break
        dx = (jtj[1][1] * jtr[0] - jtj[0][1] * jtr[1]) / det
        dy = (jtj[0][0] * jtr[1] - jtj[0][1] * jtr[0]) / det
        x, y = x - dx, y - dy
        if math.hypot(dx, dy) < 0.01:
            break
    return start[0] + x / mx, start[1] + y / my


def test_many_origins_cannot_locate_a_need_closer_than_a_quarter_cell(api: Api) -> None:
    rng = random.Random(1)
    requester, attacker = sign_up(api), sign_up(api)
    truth = {}
    for _ in range(25):
        point = {"lat": 21.0 + rng.uniform(0, 0.05), "lon": 105.8 + rng.uniform(0, 0.05)}
        truth[create_need(api, requester, location=point)["id"]] = point

    observations: dict[str, list[tuple[float, float, float]]] = {need_id: [] for need_id in truth}
    for _ in range(40):
        origin = {"lat": 21.0 + rng.uniform(-0.02, 0.07), "lon": 105.8 + rng.uniform(-0.02, 0.07)}
        for edge in api.data(NEARBY, {"near": origin}, attacker)["needs"]["edges"]:
            assert edge["node"]["exactLocation"] is None
            observations[edge["node"]["id"]].append((origin["lon"], origin["lat"], edge["distanceMeters"]))

    errors, to_cell = [], []
    for need_id, point in truth.items():
        seen = observations[need_id]
        assert len(seen) >= 10
        start = (point["lon"] + 0.01, point["lat"] + 0.01)  # the attacker's guess need not be good
        lon, lat = _least_squares(seen, start)
        errors.append(haversine_m(lon, lat, point["lon"], point["lat"]))
        to_cell.append(haversine_m(lon, lat, *snap_to_cell(point["lon"], point["lat"])))

    mean_error = sum(errors) / len(errors)
    assert mean_error >= CELL_SIZE_M / 4, f"the fit came within {mean_error:.0f} m on average"
    # The attack itself works: it finds the cell. The cell is what protects the person.
    assert sum(to_cell) / len(to_cell) < mean_error / 2
