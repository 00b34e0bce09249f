"""Ward deficits (aidmap/fairness/areas.py) and how a matching round weighs them (aidmap/fairness/matching.py)."""

from __future__ import annotations

import itertools
import random

import pytest

from aidmap.fairness.areas import PRIOR_NEEDS, area_deficits, area_extra_km, settings_area
from aidmap.fairness.matching import NeedSlot, OfferSlot, Proposal, acceptance_factor, pair_weight, propose
from aidmap.geo.distance import haversine_m
from aidmap.geo.privacy import snap_to_cell
from aidmap.settings import Settings

LON, LAT = 105.85, 21.03
KM_LON = 1 / 104.0  # about a km of longitude at Hà Nội's latitude
HOUR = 3600.0


def need(need_id: int, km_east: float, area: str, **kw: object) -> NeedSlot:
    lon, lat = snap_to_cell(LON + km_east * KM_LON, LAT)
    return NeedSlot(need_id, f"need:{need_id}", lon, lat, int(kw.pop("quantity", 1)), "FOOD", area=area, **kw)  # type: ignore[arg-type]


def offer(offer_id: int, km_east: float, *, radius_km: float = 5.0, quantity: int = 1) -> OfferSlot:
    lon, lat = snap_to_cell(LON + km_east * KM_LON, LAT)
    return OfferSlot(offer_id, lon, lat, radius_km, quantity, "FOOD")


def test_a_deficit_is_how_much_less_a_ward_was_helped_than_the_city() -> None:
    # City: 60 of 100 helped (0.6). "centre" 50 of 50; "edge" 10 of 50; "tiny" 0 of 0 is left out.
    deficits = area_deficits({"centre": 50, "edge": 50, "tiny": 0}, {"centre": 50, "edge": 10})
    assert set(deficits) == {"centre", "edge"}
    assert deficits["centre"] == 0.0  # served better than the city: no deficit, never negative
    edge_share = (10 + PRIOR_NEEDS * 0.6) / (50 + PRIOR_NEEDS)
    assert deficits["edge"] == pytest.approx(1 - edge_share / 0.6)


def test_the_prior_keeps_one_unlucky_need_from_making_a_ward_look_abandoned() -> None:
    deficits = area_deficits({"big": 200, "one": 1, "many": 40}, {"big": 120, "many": 0})
    assert 0 < deficits["one"] < deficits["many"] < 1
    assert deficits["many"] == pytest.approx(1 - (PRIOR_NEEDS * 0.6 / 45) / 0.6)


def test_nothing_helped_anywhere_means_no_deficit_and_bad_counts_are_bounded() -> None:
    assert area_deficits({"a": 10, "b": 3}, {}) == {}
    assert area_deficits({}, {"a": 1}) == {}
    # More helped than posted (a count read mid-change) is capped at what was posted.
    deficits = area_deficits({"a": 2, "b": 10}, {"a": 5, "b": -1})
    assert deficits["a"] == 0.0 and 0 < deficits["b"] <= 1


def test_an_underserved_ward_reaches_farther_in_whole_km() -> None:
    assert area_extra_km(0.0, 10.0) == 0.0
    assert area_extra_km(0.55, 10.0) == 5.0
    assert area_extra_km(1.0, 10.0) == 10.0
    assert area_extra_km(0.9, 0.0) == 0.0


def test_settings_give_the_round_its_area_arguments() -> None:
    assert settings_area(Settings()) == {"area_weight": 3.0, "area_reach_km": 10.0, "beyond_decay": 1.0}
    custom = Settings(matching_area_weight=0.0, matching_area_reach_km=3.0, matching_beyond_radius_decay=2.0)
    assert settings_area(custom) == {"area_weight": 0.0, "area_reach_km": 3.0, "beyond_decay": 2.0}
    for field in ("matching_area_weight", "matching_area_reach_km", "fairness_area_days", "matching_beyond_radius_decay"):
        with pytest.raises(ValueError, match=field.upper()):
            Settings(**{field: -1.0})


def test_the_round_sends_the_offer_to_the_underserved_ward() -> None:
    # Two needs alike but for distance and ward: the nearer one is in a ward served better than the city.
    needs = [need(1, 0.5, "centre"), need(2, 3.0, "edge")]
    deficits = area_deficits({"centre": 50, "edge": 50}, {"centre": 50, "edge": 10})
    households_only = propose(needs, [offer(10, 0.0)], fairness_weight=0.5, helped_counts={})
    assert [p.need_id for p in households_only] == [1]
    by_ward = propose(needs, [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, area_deficits=deficits,
                      area_weight=1.5)  # fmt: skip
    assert [p.need_id for p in by_ward] == [2]
    # Weight 0 turns wards off whatever the deficits.
    off = propose(needs, [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, area_deficits=deficits, area_weight=0)
    assert [p.need_id for p in off] == [1]


def test_an_underserved_need_reaches_beyond_the_radius_and_counts_less_there() -> None:
    far = need(1, 8.0, "edge")  # 8 km from a 5 km offer
    deficits = {"edge": 0.5}
    assert propose([far], [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, area_deficits=deficits) == []
    got = propose([far], [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, area_deficits=deficits,
                  area_weight=1.0, area_reach_km=10.0)  # fmt: skip
    assert got == [Proposal(10, 1, 1)]
    # Beyond the radius a pair is worth (radius / distance) ** decay of itself: a donor often declines.
    d = haversine_m(offer(10, 0.0).lon, offer(10, 0.0).lat, far.lon, far.lat)
    full = pair_weight(far, offer(10, 0.0), d, helped=0, fairness_weight=0.5, deficit=0.5, area_weight=1.0)
    damped = pair_weight(far, offer(10, 0.0), d, helped=0, fairness_weight=0.5, deficit=0.5, area_weight=1.0,
                         beyond_decay=1.0)  # fmt: skip
    assert damped == pytest.approx(full * 5000.0 / d)
    assert acceptance_factor(4000.0, 5000.0, 2.0) == 1.0 and acceptance_factor(10000.0, 5000.0, 2.0) == 0.25
    # So a near need in a served ward beats a far one in an underserved ward when the decay is steep.
    near = need(2, 1.0, "centre")
    steep = propose([far, near], [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, area_deficits=deficits,
                    area_weight=1.0, area_reach_km=10.0, beyond_decay=3.0)  # fmt: skip
    assert [p.need_id for p in steep] == [2]


@pytest.mark.parametrize("seed", range(20))
def test_with_wards_the_round_is_still_the_best_matching(seed: int) -> None:
    # Checked against every matching of small random cases, with deficits, area reach and the decay.
    rng = random.Random(seed)
    areas = ["a", "b", "c"]
    deficits = {"a": 0.0, "b": rng.uniform(0, 1), "c": rng.uniform(0, 1)}
    needs = [need(i, rng.uniform(-8, 8), rng.choice(areas), waited_seconds=rng.uniform(0, 100) * HOUR,
                  urgency=rng.choice(["LOW", "NORMAL", "HIGH", "CRITICAL"])) for i in range(rng.randint(1, 5))]  # fmt: skip
    offers = [offer(100 + j, rng.uniform(-6, 6), radius_km=rng.uniform(1, 6)) for j in range(rng.randint(1, 4))]
    kw = {"area_weight": 1.5, "beyond_decay": 1.0}
    got = propose(needs, offers, fairness_weight=0.5, helped_counts={}, slots_per_offer=1, slots_per_need=1,
                  area_deficits=deficits, area_reach_km=6.0, **kw)  # fmt: skip

    def weight(o: OfferSlot, n: NeedSlot) -> float | None:
        d = haversine_m(o.lon, o.lat, n.lon, n.lat)
        if d > (o.radius_km + area_extra_km(deficits[n.area or ""], 6.0)) * 1000 * (1 + 1e-9):
            return None
        return pair_weight(n, o, d, helped=0, fairness_weight=0.5, deficit=deficits[n.area or ""], **kw)

    best = 0.0
    for perm in itertools.permutations([*needs, *[None] * len(offers)], len(offers)):
        ws = [weight(o, n) if n is not None else 0.0 for o, n in zip(offers, perm, strict=True)]
        if None not in ws:
            best = max(best, sum(ws))  # type: ignore[arg-type]
    by_id = {n.need_id: n for n in needs}
    total = sum(weight(next(o for o in offers if o.offer_id == p.offer_id), by_id[p.need_id]) or 0 for p in got)
    assert total == pytest.approx(best)
