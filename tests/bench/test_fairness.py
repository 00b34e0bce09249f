"""bench/fairness.py on a tiny hand-made city: the fairness ratio on a case worked by hand, and one
seed giving the same day twice (the benchmark's figures are only comparable if its runs repeat)."""

from __future__ import annotations

import math
import sys

import pytest

from aidmap.settings import PROJECT_ROOT, Settings

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import fairness  # noqa: E402


def test_fairness_ratio_pools_the_worst_tenth_of_wards() -> None:
    # 20 wards of 10 needs: w00 got none helped, w01 two, the rest five each; w20 has no needs.
    needs = {f"w{i:02}": 10 for i in range(20)} | {"w20": 0}
    helped = {f"w{i:02}": 5 for i in range(2, 20)} | {"w01": 2}
    ratio, worst_share, city_share, worst = fairness.fairness_ratio(needs, helped)
    assert worst == ["w00", "w01"]  # ceil(20 / 10) wards, the ward without needs left out
    assert worst_share == pytest.approx(2 / 20)
    assert city_share == pytest.approx(92 / 200)
    assert ratio == pytest.approx((2 / 20) / (92 / 200))


def test_fairness_ratio_breaks_ties_by_ward_code_and_is_one_when_even() -> None:
    needs = {"b": 4, "a": 4, "c": 4}
    ratio, _, _, worst = fairness.fairness_ratio(needs, {"a": 2, "b": 2, "c": 2})
    assert worst == ["a"] and ratio == pytest.approx(1.0)
    assert fairness.fairness_ratio(needs, {}) == (0.0, 0.0, 0.0, ["a"])


def _square(code: str, lon: float, lat: float, km: float, urban: bool, hole: bool = False) -> fairness.Ward:
    d_lat = km / 111.195
    d_lon = d_lat / math.cos(math.radians(lat))
    rings = [[(lon, lat), (lon + d_lon, lat), (lon + d_lon, lat + d_lat), (lon, lat + d_lat)]]
    if hole:  # the middle ninth cut out
        rings.append([(lon + d_lon / 3, lat + d_lat / 3), (lon + 2 * d_lon / 3, lat + d_lat / 3),
                      (lon + 2 * d_lon / 3, lat + 2 * d_lat / 3), (lon + d_lon / 3, lat + 2 * d_lat / 3)])  # fmt: skip
    area, cx, cy = fairness._ring_area_km2(rings[0])
    area -= sum(fairness._ring_area_km2(r)[0] for r in rings[1:])
    ward = fairness.Ward(code, code, urban, rings, area, (cx, cy))
    ward.population = area * fairness.DENSITY_PER_KM2["urban" if urban else "rural"]
    return ward


def _tiny_city() -> list[fairness.Ward]:
    # Two small urban squares at Hoàn Kiếm, two large rural ones 15 and 30 km west (one with a hole).
    return [
        _square("c1", 105.845, 21.02, 2.0, True),
        _square("c2", 105.865, 21.02, 2.0, True),
        _square("r1", 105.70, 21.02, 6.0, False, hole=True),
        _square("r2", 105.55, 21.02, 6.0, False),
    ]


def test_ward_geometry() -> None:
    ward = _tiny_city()[2]
    assert ward.area_km2 == pytest.approx(36 * 8 / 9, rel=0.01)
    west, south, east, north = ward.bbox
    assert ward.contains(west + (east - west) / 6, south + (north - south) / 2)
    assert not ward.contains(west + (east - west) / 2, south + (north - south) / 2)  # in the hole


def _figures(outcome: fairness.Outcome) -> dict[str, object]:
    return {k: v for k, v in outcome.as_row().items() if k != "seconds"} | {"by_ward": outcome.share_by_ward}


@pytest.mark.parametrize("policy", fairness.ALL_POLICIES)
def test_one_seed_gives_the_same_day_twice(policy: str) -> None:
    config = fairness.Config(needs=160, donors=60, seed=7, central_area_share=0.05)
    first = fairness.simulate(fairness.build_city(config, _tiny_city()), policy, Settings())
    again = fairness.simulate(fairness.build_city(config, _tiny_city()), policy, Settings())
    assert first.error is None, first.error
    assert _figures(first) == _figures(again)
    assert 0 < first.helped <= first.needs == 160
    assert first.units_given <= sum(o.quantity for o in fairness.build_city(config, _tiny_city()).offers)


def test_another_seed_gives_another_city() -> None:
    one = fairness.build_city(fairness.Config(needs=50, donors=10, seed=1), _tiny_city())
    two = fairness.build_city(fairness.Config(needs=50, donors=10, seed=2), _tiny_city())
    assert [(n.lon, n.lat) for n in one.needs] != [(n.lon, n.lat) for n in two.needs]
    # The central wards: the nearest to Hoàn Kiếm until 10% of the area (c1, 4 km², then c2: 8 of 76 km²).
    assert one.central == two.central == {"c1", "c2"}


def test_a_policy_without_aidmap_fairness_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aidmap.fairness.matching", None)
    outcome = fairness.simulate(
        fairness.build_city(fairness.Config(needs=40, donors=10, seed=3), _tiny_city()), "matching"
    )
    assert outcome.error == fairness.NEEDS_FAIRNESS and outcome.helped == 0


def test_donors_agree_within_their_radius_and_less_often_the_farther_beyond() -> None:
    config = fairness.Config(needs=400, donors=4, seed=5, central_area_share=0.05)
    city = fairness.build_city(config, _tiny_city())
    day = fairness.Day(city=city, settings=Settings(), needs={n.id: n for n in city.needs}, offers=city.offers)
    offer = city.offers[0]
    by_ratio: dict[int, list[bool]] = {}
    for need in city.needs:
        d = fairness.haversine_m(offer.cell_lon, offer.cell_lat, need.cell_lon, need.cell_lat)
        answer = day.agrees(offer, need)
        assert answer == day.agrees(offer, need)  # the same donor answers the same need the same way
        if d <= offer.radius_meters:
            assert answer
        else:
            by_ratio.setdefault(min(3, int(d / offer.radius_meters)), []).append(answer)
    # Beyond the radius: (radius / distance) ** 2 on average, so fewer agree the farther the need.
    rates = {k: sum(v) / len(v) for k, v in by_ratio.items() if len(v) >= 30}
    assert len(rates) >= 2 and all(rate < 1 for rate in rates.values())
    in_order = [rates[k] for k in sorted(rates)]
    assert in_order == sorted(in_order, reverse=True)
    keen = fairness.Day(city=fairness.replace(city, config=fairness.replace(config, decline_exponent=0.0)),
                        settings=Settings(), needs={}, offers=[])  # fmt: skip
    assert all(keen.agrees(offer, need) for need in city.needs)


def test_the_donor_poor_decile_is_fixed_by_the_city_and_pooled() -> None:
    # Four wards: the decile is one, the ward with the fewest donor units within 10 km per unit needed.
    city = fairness.build_city(fairness.Config(needs=300, donors=80, seed=4, central_area_share=0.05), _tiny_city())
    wards = {w.code: w for w in city.wards}

    def supply(code: str) -> float:
        near = sum(o.quantity for o in city.offers if fairness.haversine_m(*wards[code].centroid, o.lon, o.lat) <= 10_000)
        return near / sum(n.quantity for n in city.needs if n.ward == code)

    [poorest] = fairness.donor_poor_wards(city)
    assert poorest in {"r1", "r2"} and supply(poorest) == min(supply(c) for c in wards)
    assert city.donor_poor == [poorest]  # the same for every policy: computed once from the city
    needs = {"a": 10, "b": 30}
    ratio, share = fairness.pooled_ratio(["a"], needs, {"a": 2, "b": 18})
    assert share == pytest.approx(0.2) and ratio == pytest.approx(0.2 / 0.5)
    assert fairness.pooled_ratio(["a"], needs, {}) == (0.0, 0.0)
