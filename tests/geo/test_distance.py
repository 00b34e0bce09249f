from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from aidmap.geo.distance import haversine_m, is_valid_point


def test_known_distance_hanoi_to_ho_chi_minh_city() -> None:
    assert 1_130_000 < haversine_m(105.8542, 21.0285, 106.7009, 10.7769) < 1_150_000


@given(st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90))
def test_symmetric_and_bounded(lon1: float, lat1: float, lon2: float, lat2: float) -> None:
    d = haversine_m(lon1, lat1, lon2, lat2)
    assert d == haversine_m(lon2, lat2, lon1, lat1)
    assert 0 <= d <= math.pi * 6_371_008.8 + 1


def test_validity() -> None:
    assert is_valid_point(180, -90)
    assert not is_valid_point(180.0001, 0)
    assert not is_valid_point(math.nan, 0)
    assert not is_valid_point(0, math.inf)
