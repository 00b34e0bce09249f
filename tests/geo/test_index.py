"""The R-tree index agrees with brute force, and circle boxes hold their circles."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from aidmap.geo.distance import haversine_m
from aidmap.geo.index import BoxIndex, circle_box


def _contains(box: tuple[float, float, float, float], lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


@given(st.floats(-179, 179), st.floats(-85, 85), st.floats(1, 50_000), st.floats(0, 2 * math.pi), st.floats(0, 1))
def test_circle_box_holds_every_point_of_the_circle(
    lon: float, lat: float, radius: float, angle: float, frac: float
) -> None:
    box = circle_box(lon, lat, radius)
    # A point at distance frac * radius in direction `angle` (small-distance approximation, slightly inside).
    d = frac * radius * 0.999
    p_lat = lat + (d * math.cos(angle)) / 111_195
    p_lon = lon + (d * math.sin(angle)) / (111_195 * math.cos(math.radians(lat)))
    if -180 <= p_lon <= 180 and haversine_m(lon, lat, p_lon, p_lat) <= radius:
        assert _contains(box, p_lon, p_lat)


@settings(max_examples=30)
@given(st.integers(0, 2**32))
def test_bulk_loaded_index_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    boxes = {}
    for ident in range(1, 300):
        lon, lat = rng.uniform(105.7, 106.0), rng.uniform(20.9, 21.1)
        boxes[ident] = circle_box(lon, lat, rng.uniform(100, 5000))
    tree = BoxIndex(boxes.items())
    for ident in rng.sample(sorted(boxes), 50):
        tree.delete(ident)
        del boxes[ident]
    tree.insert(1000, (105.8, 21.0, 105.81, 21.01))
    boxes[1000] = (105.8, 21.0, 105.81, 21.01)
    for _ in range(50):
        lon, lat = rng.uniform(105.7, 106.0), rng.uniform(20.9, 21.1)
        assert sorted(tree.containing(lon, lat)) == sorted(i for i, b in boxes.items() if _contains(b, lon, lat))
    assert len(tree) == len(boxes)


def test_an_empty_index_answers_nothing() -> None:
    tree = BoxIndex()
    assert tree.containing(0, 0) == [] and len(tree) == 0
    tree.delete(5)  # unknown ids are ignored
