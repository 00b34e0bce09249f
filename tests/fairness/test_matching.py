"""Matching rounds as an assignment problem (aidmap/fairness/matching.py)."""

from __future__ import annotations

import itertools
import random

import pytest

from aidmap.fairness.matching import NeedSlot, OfferSlot, Proposal, RelaySlot, candidates, pair_weight, propose
from aidmap.geo.distance import haversine_m
from aidmap.geo.privacy import snap_to_cell

LON, LAT = 105.85, 21.03
KM_LON = 1 / 104.0  # about a km of longitude at Hà Nội's latitude
HOUR = 3600.0


def need(need_id: int, km_east: float, *, beneficiary: str | None = None, quantity: int = 1, **kw: object) -> NeedSlot:
    lon, lat = snap_to_cell(LON + km_east * KM_LON, LAT)
    return NeedSlot(need_id, beneficiary or f"need:{need_id}", lon, lat, quantity, kw.pop("category", "FOOD"), **kw)  # type: ignore[arg-type]


def offer(offer_id: int, km_east: float, *, radius_km: float = 5.0, quantity: int = 1, **kw: object) -> OfferSlot:
    lon, lat = snap_to_cell(LON + km_east * KM_LON, LAT)
    return OfferSlot(offer_id, lon, lat, radius_km, quantity, kw.pop("category", "FOOD"), **kw)  # type: ignore[arg-type]


def test_the_never_helped_household_comes_first() -> None:
    needs = [need(1, 1.0, beneficiary="phone:a"), need(2, 1.0, beneficiary="phone:b")]
    got = propose(needs, [offer(10, 0.0)], fairness_weight=0.5, helped_counts={"phone:a": 1})
    assert [(p.offer_id, p.need_id, p.quantity) for p in got] == [(10, 2, 1)]
    # Without help received, the id breaks the tie (the same answer every round).
    again = propose(needs, [offer(10, 0.0)], fairness_weight=0.5, helped_counts={})
    assert len(again) == 1


def test_the_round_beats_first_come_greedy() -> None:
    # Offer 10 reaches both needs and prefers need 1 (closer); offer 11 reaches only need 1. Greedy
    # by best pair would give need 1 to offer 10 and leave offer 11 idle; the round serves both.
    needs = [need(1, 4.0), need(2, -3.0)]
    offers = [offer(10, 3.0, radius_km=7.5), offer(11, 7.0, radius_km=4.0)]
    got = propose(needs, offers, fairness_weight=0.5, helped_counts={})
    assert {(p.offer_id, p.need_id) for p in got} == {(10, 2), (11, 1)}


def test_quantities_are_capacities() -> None:
    needs = [need(1, 0.5, quantity=4), need(2, 1.0, quantity=5), need(3, 1.5, quantity=5)]
    got = propose(needs, [offer(10, 0.0, quantity=10)], fairness_weight=0.5, helped_counts={})
    given = {p.need_id: p.quantity for p in got}
    assert sum(given.values()) == 10
    for n in needs:
        assert given.get(n.need_id, 0) <= n.quantity_open
    # Two offers of 3 for a need of 6 (a need takes up to two proposals a round).
    got = propose([need(1, 0.5, quantity=6)], [offer(10, 0.0, quantity=3), offer(11, 1.0, quantity=3)],
                  fairness_weight=0.5, helped_counts={})  # fmt: skip
    assert got == [Proposal(10, 1, 3), Proposal(11, 1, 3)]


def test_out_of_reach_other_category_own_and_excluded_needs_are_never_proposed() -> None:
    needs = [
        need(1, 8.0),
        need(2, 1.0, category="MEDICINE"),
        need(3, 1.0, owner=42),
        need(4, 1.0),
    ]
    offers = [offer(10, 0.0, quantity=5, donor=42)]
    got = propose(needs, offers, fairness_weight=0.5, helped_counts={}, exclude={(10, 4)})
    assert got == []


def test_a_waiting_need_reaches_donors_farther_away() -> None:
    reach = {"after_seconds": 12 * HOUR, "km_per_hour": 0.5, "max_km": 25.0, "step_km": 1.0}
    waiting = need(1, 8.0, waited_seconds=20 * HOUR)  # 4 km more: reaches a 5 km offer 8 km away
    assert propose([waiting], [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}) == []
    assert propose([waiting], [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, reach=reach) == [
        Proposal(10, 1, 1)
    ]
    pledged = need(1, 8.0, waited_seconds=20 * HOUR, pledged=True)
    assert propose([pledged], [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, reach=reach) == []


def test_candidates_per_offer_are_bounded() -> None:
    needs = [need(i, 0.01 * i) for i in range(1, 60)]
    found = candidates(needs, [offer(10, 0.0)], fairness_weight=0.5, helped_counts={}, candidates_per_offer=7)
    assert len(found[0]) == 7


def test_the_answer_depends_on_public_cells_only() -> None:
    # Two worlds whose exact points differ inside their cells: slots are built from the cell of the
    # exact point (as the serving code reads `cell_lon, cell_lat`), so every proposal and weight is equal.
    rng = random.Random(5)
    need_cells = [snap_to_cell(LON + rng.uniform(-0.05, 0.05), LAT + rng.uniform(-0.05, 0.05)) for _ in range(30)]
    offer_cells = [snap_to_cell(LON + 0.01 * j - 0.04, LAT) for j in range(8)]

    def inside(cell: tuple[float, float]) -> tuple[float, float]:
        while True:  # another exact point in the same cell
            point = (cell[0] + rng.uniform(-0.0025, 0.0025), cell[1] + rng.uniform(-0.0022, 0.0022))
            if snap_to_cell(*point) == cell:
                return snap_to_cell(*point)

    worlds = []
    for _ in range(2):
        needs = [NeedSlot(i, f"need:{i}", *inside(c), 2, "FOOD") for i, c in enumerate(need_cells)]
        offers = [OfferSlot(100 + j, *inside(c), 3.0, 3, "FOOD") for j, c in enumerate(offer_cells)]
        worlds.append([(p, p.weight) for p in propose(needs, offers, fairness_weight=0.5, helped_counts={})])
    assert worlds[0] == worlds[1] and worlds[0]


@pytest.mark.parametrize("seed", range(25))
def test_one_unit_each_the_round_is_the_best_matching(seed: int) -> None:
    # Checked against every matching of small random cases.
    rng = random.Random(seed)
    needs = [need(i, rng.uniform(-6, 6), waited_seconds=rng.uniform(0, 100) * HOUR,
                  urgency=rng.choice(["LOW", "NORMAL", "HIGH", "CRITICAL"]), beneficiary=f"b{i % 3}")
             for i in range(rng.randint(1, 5))]  # fmt: skip
    offers = [offer(100 + j, rng.uniform(-6, 6), radius_km=rng.uniform(1, 8)) for j in range(rng.randint(1, 4))]
    helped = {"b0": 2, "b1": 0}
    got = propose(needs, offers, fairness_weight=0.7, helped_counts=helped, slots_per_offer=1, slots_per_need=1)

    def weight(o: OfferSlot, n: NeedSlot) -> float | None:
        d = haversine_m(o.lon, o.lat, n.lon, n.lat)
        if d > o.radius_km * 1000:
            return None
        return pair_weight(n, o, d, helped=helped.get(n.beneficiary, 0), fairness_weight=0.7)

    best = 0.0
    for perm in itertools.permutations([*needs, *[None] * len(offers)], len(offers)):
        ws = [weight(o, n) if n is not None else 0.0 for o, n in zip(offers, perm, strict=True)]
        if None not in ws:
            best = max(best, sum(ws))  # type: ignore[arg-type]
    by_id = {n.need_id: n for n in needs}
    total = sum(weight(next(o for o in offers if o.offer_id == p.offer_id), by_id[p.need_id]) or 0 for p in got)
    assert total == pytest.approx(best)
    assert len({p.need_id for p in got}) == len(got) and len({p.offer_id for p in got}) == len(got)


def test_the_quick_first_ranking_keeps_the_exact_best() -> None:
    # Hundreds of needs in reach: the best candidates are the same as scoring every one exactly.
    rng = random.Random(11)
    needs = [
        need(i, rng.uniform(-5, 5), quantity=rng.randint(1, 9), waited_seconds=rng.uniform(0, 90) * HOUR,
             urgency=rng.choice(["LOW", "NORMAL", "HIGH", "CRITICAL"]), beneficiary=f"b{i % 40}")
        for i in range(400)
    ]  # fmt: skip
    o = offer(10, 0.0, radius_km=4.0, quantity=3)
    helped = {f"b{k}": k % 3 for k in range(40)}
    found = candidates(needs, [o], fairness_weight=0.5, helped_counts=helped, candidates_per_offer=10)[0]
    exact = []
    for n in needs:
        d = haversine_m(o.lon, o.lat, n.lon, n.lat)
        if d <= 4000:
            exact.append((pair_weight(n, o, d, helped=helped[n.beneficiary], fairness_weight=0.5), n.need_id))
    exact.sort(key=lambda t: (-t[0], t[1]))
    assert [needs[c.need].need_id for c in found] == [nid for _, nid in exact[:10]]


def relay(point_id: int, km_east: float, *, reach_km: float = 50.0, capacity: int = 10) -> RelaySlot:
    return RelaySlot(point_id, LON + km_east * KM_LON, LAT, reach_km, capacity)


def test_a_need_beyond_every_radius_goes_through_a_point_within_one() -> None:
    far = need(1, 30.0, quantity=3)
    donor = offer(10, 0.0, radius_km=3.0, quantity=3)
    assert propose([far], [donor], fairness_weight=0.5, helped_counts={}) == []
    # A point 2 km away (within the radius) whose couriers reach 50 km; one 4 km away is beyond it.
    beyond = relay(7, -4.0)
    got = propose([far], [donor], fairness_weight=0.5, helped_counts={}, relays=[beyond, relay(8, 2.0)])
    assert [(p.offer_id, p.need_id, p.quantity, p.via) for p in got] == [(10, 1, 3, 8)]
    assert propose([far], [donor], fairness_weight=0.5, helped_counts={}, relays=[beyond]) == []
    # Couriers that do not reach the need, or have nothing left today, carry nothing.
    assert propose([far], [donor], fairness_weight=0.5, helped_counts={}, relays=[relay(8, 2.0, reach_km=20.0)]) == []
    assert propose([far], [donor], fairness_weight=0.5, helped_counts={}, relays=[relay(8, 2.0, capacity=0)]) == []


def test_a_need_in_the_donors_radius_is_never_relayed_and_a_points_units_bound_the_round() -> None:
    near, far_a, far_b = need(1, 1.0, quantity=2), need(2, 30.0, quantity=2), need(3, -30.0, quantity=2)
    donors = [offer(10, 0.0, radius_km=3.0, quantity=2), offer(11, 0.5, radius_km=3.0, quantity=2),
              offer(12, -0.5, radius_km=3.0, quantity=2)]  # fmt: skip
    got = propose(
        [near, far_a, far_b], donors, fairness_weight=0.5, helped_counts={}, relays=[relay(8, 0.2, capacity=3)]
    )
    direct = [p for p in got if p.need_id == 1]
    assert direct and all(p.via is None for p in direct)
    relayed = [p for p in got if p.via is not None]
    assert relayed and {p.need_id for p in relayed} <= {2, 3} and sum(p.quantity for p in relayed) <= 3
    # One unit left today: one unit goes through the point, however many donors could send more.
    got = propose([far_a, far_b], donors, fairness_weight=0.5, helped_counts={}, relays=[relay(8, 0.2, capacity=1)])
    assert [(p.quantity, p.via) for p in got] == [(1, 8)]
