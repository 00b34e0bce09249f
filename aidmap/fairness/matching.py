"""Matching rounds: pledges to propose for open offers, chosen together as an assignment problem.

Browsing sends help where donors live; a round instead looks at every open offer and open need at
once and proposes the pledges that maximise

    sum over proposals of  score(offer, need).total + fairness_weight * fairness

    + area_weight * deficit(ward of the need)

where score is aidmap/geo/score.py (cell-to-cell distance, urgency, waiting, quantity, fairness)
and fairness is 1 / (1 + help the beneficiary received): the fairness weight is how much more a
never-helped household is worth than one helped before. deficit (aidmap/fairness/areas.py) is how
much less the need's ward was helped lately than the whole city, in [0, 1]: households are counted
one by one, but donors live in a few wards, and a need far from them would otherwise lose to the
many near ones every round. A need in an underserved ward also reaches deficit × area_reach_km
farther than a donor's radius in the round (area_extra_km; on top of a waiting need's reach, the
larger of the two applies). Help proposed in this round counts too:
the k-th proposal to one need counts as k more help received (so slots fill in order, and a
second proposal to the same household is worth less than a first one elsewhere).

Quantities are capacities: an offer with q units left is up to min(q, slots_per_offer) rows, a
need with n units open up to min(n, slots_per_need) columns; scipy's linear_sum_assignment solves
each connected group of offers and needs (needs within an offer's reach, at most
candidates_per_offer of them, best first), then units are given in order of weight. Pure: the
benchmark (bench/matching.py, bench/fairness.py) runs the code that serves.

Relays: a collection point (a ward office, a charity's depot: RelaySlot) takes what donors near it
drop there and its couriers carry it on to needs up to its reach. A need beyond an offer's own reach
that a point within the donor's radius covers is a candidate through that point (the nearest such
point to the donor): the donor's trip is to the point, so the pair is not damped, but it earns no
closeness part either (the courier's trip is the long one), and the point's units left today bound
what the round gives through it. Browsing leaves help where donors live because their trips are
short; a relay keeps their trips short and carries the rest.

Distances are between public cells (lon, lat are cell centres), like suggestions': a donor sees
the proposal, so it must not depend on the exact point.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from aidmap.fairness.areas import area_extra_km
from aidmap.fairness.reach import capped, extra_km, max_reach_km
from aidmap.geo.distance import EARTH_RADIUS_M, haversine_m
from aidmap.geo.score import URGENCY, WAITING_FULL_HOURS, WEIGHTS, score

CANDIDATES_PER_OFFER = 20
SLOTS_PER_OFFER = 3
SLOTS_PER_NEED = 2
# Solves of one group at most (see _solve); past them a repeated pair is one proposal.
REPAIRS = 8
NO_REACH: dict[str, float] = {"after_seconds": math.inf, "km_per_hour": 0.0, "max_km": 0.0, "step_km": 0.0}


@dataclass(frozen=True)
class NeedSlot:
    need_id: int
    beneficiary: str  # aidmap.fairness.beneficiary_key
    lon: float  # the public cell's centre
    lat: float
    quantity_open: int
    category: str
    urgency: str = "NORMAL"
    waited_seconds: float = 0.0
    pledged: bool = False  # anything pledged already (ends the waiting reach)
    owner: Hashable | None = None  # a donor is never proposed their own need
    area: str | None = None  # the need's ward code (public), for its deficit


@dataclass(frozen=True)
class OfferSlot:
    offer_id: int
    lon: float  # the public cell's centre
    lat: float
    radius_km: float
    quantity: int  # still to give
    category: str
    donor: Hashable | None = None


@dataclass(frozen=True)
class RelaySlot:
    """A collection point: its place is public (lon, lat exact), its couriers deliver up to reach_km
    from it, and `capacity` units is what they can still carry today."""

    point_id: int
    lon: float
    lat: float
    reach_km: float
    capacity: int


@dataclass(frozen=True)
class Proposal:
    offer_id: int
    need_id: int
    quantity: int
    weight: float = field(default=0.0, compare=False)  # the objective this pair added (first slot)
    via: int | None = None  # the collection point it goes through (RelaySlot.point_id), None: direct


class Candidate(NamedTuple):
    weight: float  # of a first proposal
    need: int  # index into needs
    distance_m: float  # what the pair is weighed at: donor to need, or the radius through a relay (no closeness part)
    relay: int = -1  # index into relays, -1: direct


def pair_weight(
    need: NeedSlot,
    offer: OfferSlot,
    distance_m: float,
    *,
    helped: int,
    fairness_weight: float,
    deficit: float = 0.0,
    area_weight: float = 0.0,
    beyond_decay: float = 0.0,
) -> float:
    """What proposing this pair adds to the round's objective, with `helped` help received so far
    and `deficit` the need's ward's (aidmap/fairness/areas.py); beyond the donor's radius, times
    (radius / distance) ** beyond_decay (acceptance_factor)."""
    parts = score(
        distance_m=distance_m,
        radius_m=offer.radius_km * 1000.0,
        urgency=need.urgency,
        waiting_hours=need.waited_seconds / 3600.0,
        still_needed=need.quantity_open,
        can_give=offer.quantity,
        help_received=helped,
    )
    value = parts.total + fairness_weight / (1.0 + max(0, helped)) + area_weight * max(0.0, deficit)
    return value * acceptance_factor(distance_m, offer.radius_km * 1000.0, beyond_decay)


def acceptance_factor(distance_m: float, radius_m: float, beyond_decay: float) -> float:
    """How likely the round takes a donor to go this far: 1 within their radius, (radius / distance)
    ** beyond_decay beyond it (a proposal there is often declined, and blocks the offer meanwhile)."""
    if beyond_decay <= 0 or distance_m <= radius_m or radius_m <= 0:
        return 1.0
    return float((radius_m / distance_m) ** beyond_decay)


def _deficit(need: NeedSlot, area_deficits: dict[str, float] | None) -> float:
    return area_deficits.get(need.area, 0.0) if area_deficits and need.area is not None else 0.0


def _unit_vectors(lonlat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def _chord(km: float) -> float:
    return 2.0 * math.sin(min(math.pi, km * 1000.0 / EARTH_RADIUS_M) / 2.0)


def candidates(
    needs: list[NeedSlot],
    offers: list[OfferSlot],
    *,
    fairness_weight: float,
    helped_counts: dict[Any, int],
    reach: dict[str, float] | None = None,
    candidates_per_offer: int = CANDIDATES_PER_OFFER,
    exclude: frozenset[tuple[int, int]] | set[tuple[int, int]] = frozenset(),
    area_deficits: dict[str, float] | None = None,
    area_weight: float = 0.0,
    area_reach_km: float = 0.0,
    beyond_decay: float = 0.0,
    relays: list[RelaySlot] | tuple[RelaySlot, ...] = (),
) -> dict[int, list[Candidate]]:
    """For each offer (by index), its best needs in reach, directly or through a relay: best first,
    at most candidates_per_offer."""
    reach = NO_REACH if reach is None else reach
    grow = {k: reach[k] for k in ("after_seconds", "km_per_hour") if k in reach}
    step = reach.get("step_km", 0.0)
    by_category: dict[str, list[int]] = {}
    for i, need in enumerate(needs):
        if need.quantity_open > 0:
            by_category.setdefault(need.category, []).append(i)
    trees = {
        category: (
            cKDTree(_unit_vectors(np.array([(needs[i].lon, needs[i].lat) for i in idx], dtype=float))),
            np.array(idx, dtype=np.intp),
        )
        for category, idx in by_category.items()
    }
    extras = np.array([extra_km(n.waited_seconds, n.pledged, step_km=step, **grow) if grow else 0.0 for n in needs])
    max_km = reach.get("max_km", 0.0)
    deficits = np.array([_deficit(n, area_deficits) for n in needs], dtype=float)
    area_extras = np.array([area_extra_km(d, area_reach_km) for d in deficits], dtype=float)
    area_far = float(area_extras.max()) if area_extras.size else 0.0
    # The parts of a need's weight that do not depend on the offer, for a quick first ranking of
    # every need in reach (the exact weight, pair_weight, is computed for the best few only).
    helped = np.array([helped_counts.get(n.beneficiary, 0) for n in needs], dtype=float)
    fair = 1.0 / (1.0 + np.maximum(helped, 0.0))
    alone = (
        WEIGHTS["urgency"] * np.array([URGENCY.get(n.urgency, 0.5) for n in needs])
        + WEIGHTS["waiting"] * np.minimum(1.0, np.maximum(0.0, np.array([n.waited_seconds for n in needs]) / 3600.0)
                                          / WAITING_FULL_HOURS)
        + (WEIGHTS["fairness"] + fairness_weight) * fair
        + area_weight * deficits
    )  # fmt: skip
    open_q = np.array([max(1, n.quantity_open) for n in needs], dtype=float)
    lon = np.radians(np.array([n.lon for n in needs], dtype=float))
    lat = np.radians(np.array([n.lat for n in needs], dtype=float))
    excluded_by_offer: dict[int, int] = {}
    for offer_id, _ in exclude:
        excluded_by_offer[offer_id] = excluded_by_offer.get(offer_id, 0) + 1
    relays_open = [r for r in range(len(relays)) if relays[r].capacity > 0]
    relay_near: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}  # (relay, category) -> needs it reaches

    def reached_by(r: int, category: str) -> np.ndarray:
        if (r, category) not in relay_near:
            tree, idx = trees[category]
            point = relays[r]
            centre = _unit_vectors(np.array([[point.lon, point.lat]], dtype=float))[0]
            near = idx[
                np.asarray(tree.query_ball_point(centre, _chord(point.reach_km) * (1 + 1e-9) + 1e-12), dtype=np.intp)
            ]
            relay_near[(r, category)] = near
        return relay_near[(r, category)]

    found: dict[int, list[Candidate]] = {}
    for j, offer in enumerate(offers):
        if offer.quantity <= 0 or offer.category not in trees:
            continue
        tree, idx = trees[offer.category]
        far = max(max_reach_km(offer.radius_km, max_km=max_km), offer.radius_km + area_far)
        centre = _unit_vectors(np.array([[offer.lon, offer.lat]], dtype=float))[0]
        near = idx[np.asarray(tree.query_ball_point(centre, _chord(far) * (1 + 1e-9) + 1e-12), dtype=np.intp)]
        scored, reached = _direct(offer, near, needs, lon, lat, extras, area_extras, max_km, alone, open_q, deficits, helped,
                         fairness_weight, area_weight, beyond_decay, exclude,
                         candidates_per_offer + excluded_by_offer.get(offer.offer_id, 0) + 8)  # fmt: skip
        if relays_open:
            relayed = _relayed(offer, relays, relays_open, reached_by, reached, needs, alone, open_q, deficits,
                               helped, fairness_weight, area_weight, exclude,
                               candidates_per_offer + excluded_by_offer.get(offer.offer_id, 0) + 8)  # fmt: skip
            # Beyond the radius a relay beats the donor's own long trip: one route per pair.
            through = {c.need for c in relayed}
            scored = [c for c in scored if c.need not in through] + relayed
        # Best first; ties by need id so the answer does not depend on the tree's order.
        scored.sort(key=lambda c: (-c.weight, needs[c.need].need_id))
        if scored:
            found[j] = scored[:candidates_per_offer]
    return found


def _direct(offer, near, needs, lon, lat, extras, area_extras, max_km, alone, open_q, deficits, helped,
            fairness_weight, area_weight, beyond_decay, exclude, keep) -> tuple[list[Candidate], set[int]]:  # fmt: skip
    """The offer's candidates in its own reach (radius, a waiting need's reach, a ward's reach), and
    the needs within its radius (which no relay is needed for)."""
    if near.size == 0:
        return [], set()
    o_lon, o_lat = math.radians(offer.lon), math.radians(offer.lat)
    a = (
        np.sin((lat[near] - o_lat) / 2) ** 2
        + math.cos(o_lat) * np.cos(lat[near]) * np.sin((lon[near] - o_lon) / 2) ** 2
    )
    distance = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    reach_m = np.maximum(np.where(
        extras[near] > 0, np.maximum(offer.radius_km, np.minimum(max_km, offer.radius_km + extras[near])), offer.radius_km
    ), offer.radius_km + area_extras[near]) * 1000.0  # fmt: skip
    inside = distance <= reach_m * (1 + 1e-9)
    near, distance = near[inside], distance[inside]
    radius_m = offer.radius_km * 1000.0
    reached = set(near[distance <= radius_m * (1 + 1e-9)].tolist())
    if near.size == 0:
        return [], reached
    rough = (
        alone[near]
        + WEIGHTS["distance"] * (np.maximum(0.0, 1.0 - distance / radius_m) if radius_m > 0 else 0.0)
        + WEIGHTS["quantity"] * np.minimum(1.0, offer.quantity / open_q[near])
    )
    if beyond_decay > 0 and radius_m > 0:
        rough = rough * np.minimum(1.0, radius_m / np.maximum(distance, 1e-9)) ** beyond_decay
    # The rough weight is the exact one up to rounding, and own or excluded needs are dropped below:
    # a few more than asked for are enough.
    if near.size > keep:
        best = np.argpartition(-rough, keep)[:keep]
        near = near[best]
    scored = []
    for i in near.tolist():
        need = needs[i]
        if (offer.offer_id, need.need_id) in exclude or (offer.donor is not None and offer.donor == need.owner):
            continue
        d = haversine_m(offer.lon, offer.lat, need.lon, need.lat)
        if d > max(capped(offer.radius_km, float(extras[i]), max_km=max_km),
                   offer.radius_km + float(area_extras[i])) * 1000.0:  # fmt: skip
            continue
        weight = pair_weight(need, offer, d, helped=int(helped[i]), fairness_weight=fairness_weight,
                             deficit=float(deficits[i]), area_weight=area_weight,
                             beyond_decay=beyond_decay)  # fmt: skip
        scored.append(Candidate(weight, i, d))
    return scored, reached


def _relayed(offer, relays, relays_open, reached_by, direct, needs, alone, open_q, deficits, helped,
             fairness_weight, area_weight, exclude, keep) -> list[Candidate]:  # fmt: skip
    """The offer's candidates through a collection point within its radius: needs its couriers reach
    that the offer does not reach itself, each through the point nearest the donor."""
    radius_m = offer.radius_km * 1000.0
    points = sorted(
        (haversine_m(offer.lon, offer.lat, relays[r].lon, relays[r].lat), relays[r].point_id, r) for r in relays_open
    )
    route: dict[int, int] = {}
    for distance, _, r in points:
        if distance > radius_m * (1 + 1e-9):
            break
        for i in reached_by(r, offer.category).tolist():
            if i not in direct and i not in route:
                route[i] = r
    if not route:
        return []
    idx = np.fromiter(route, dtype=np.intp, count=len(route))
    rough = alone[idx] + WEIGHTS["quantity"] * np.minimum(1.0, offer.quantity / open_q[idx])
    if idx.size > keep:
        idx = idx[np.argpartition(-rough, keep)[:keep]]
    scored = []
    for i in idx.tolist():
        need = needs[i]
        if (offer.offer_id, need.need_id) in exclude or (offer.donor is not None and offer.donor == need.owner):
            continue
        # Weighed at the radius: no closeness part, and no damping (the donor's own trip is in reach).
        weight = pair_weight(need, offer, radius_m, helped=int(helped[i]), fairness_weight=fairness_weight,
                             deficit=float(deficits[i]), area_weight=area_weight)  # fmt: skip
        scored.append(Candidate(weight, i, radius_m, route[i]))
    return scored


def propose(
    needs: list[NeedSlot],
    offers: list[OfferSlot],
    *,
    fairness_weight: float,
    helped_counts: dict[Any, int],
    reach: dict[str, float] | None = None,
    candidates_per_offer: int = CANDIDATES_PER_OFFER,
    slots_per_offer: int = SLOTS_PER_OFFER,
    slots_per_need: int = SLOTS_PER_NEED,
    exclude: frozenset[tuple[int, int]] | set[tuple[int, int]] = frozenset(),
    area_deficits: dict[str, float] | None = None,
    area_weight: float = 0.0,
    area_reach_km: float = 0.0,
    beyond_decay: float = 0.0,
    relays: list[RelaySlot] | tuple[RelaySlot, ...] = (),
) -> list[Proposal]:
    """The pledges to propose this round (see the module), ordered by offer and need id.

    `reach` is aidmap.fairness.reach.settings_reach(settings) (None: offers reach only their own
    radius); `exclude` holds (offer_id, need_id) pairs not to propose again (already pledged,
    declined); `area_deficits` maps a need's area to its deficit (aidmap.fairness.areas.area_deficits),
    weighed by `area_weight`, and lets it reach `area_reach_km` × deficit farther (None, 0: off);
    `relays` are the collection points open today (none: every proposal is direct)."""
    found = candidates(
        needs, offers, fairness_weight=fairness_weight, helped_counts=helped_counts, reach=reach,
        candidates_per_offer=candidates_per_offer, exclude=exclude, area_deficits=area_deficits,
        area_weight=area_weight, area_reach_km=area_reach_km, beyond_decay=beyond_decay, relays=relays,
    )  # fmt: skip
    if not found:
        return []
    # Connected groups of offers and needs: each is its own (small) assignment problem.
    offer_ids = sorted(found)
    need_ids = sorted({c.need for pairs in found.values() for c in pairs})
    row_of = {j: r for r, j in enumerate(offer_ids)}
    col_of = {i: c for c, i in enumerate(need_ids)}
    rows, cols = [], []
    route = {(j, c.need): c.relay for j, pairs in found.items() for c in pairs}
    for j, pairs in found.items():
        for c in pairs:
            rows.append(row_of[j])
            cols.append(len(offer_ids) + col_of[c.need])
    size = len(offer_ids) + len(need_ids)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for r, j in enumerate(offer_ids):
        groups.setdefault(int(labels[r]), []).append(j)

    matched: list[tuple[float, int, int]] = []  # (weight, offer index, need index)
    for group in groups.values():
        matched.extend(
            _solve(
                group,
                found,
                needs,
                offers,
                fairness_weight,
                helped_counts,
                slots_per_offer,
                slots_per_need,
                area_deficits,
                area_weight,
                beyond_decay,
            )  # fmt: skip
        )
    # Units go in order of weight (ties by ids), within what each offer, need and relay has left.
    matched.sort(key=lambda t: (-t[0], offers[t[1]].offer_id, needs[t[2]].need_id))
    left_offer = {j: offers[j].quantity for j in offer_ids}
    left_need = {i: needs[i].quantity_open for i in need_ids}
    left_relay = [r.capacity for r in relays]
    given: dict[tuple[int, int], list[float]] = {}
    for weight, j, i in matched:
        relay = route[(j, i)]
        units = min(left_offer[j], left_need[i], left_relay[relay] if relay >= 0 else left_need[i])
        if units <= 0:
            continue
        left_offer[j] -= units
        left_need[i] -= units
        if relay >= 0:
            left_relay[relay] -= units
        entry = given.setdefault((j, i), [0, weight])
        entry[0] += units
    return sorted(
        (
            Proposal(
                offers[j].offer_id,
                needs[i].need_id,
                int(units),
                weight,
                via=relays[route[(j, i)]].point_id if route[(j, i)] >= 0 else None,
            )  # fmt: skip
            for (j, i), (units, weight) in given.items()
        ),
        key=lambda p: (p.offer_id, p.need_id),
    )


def _solve(
    group: list[int],
    found: dict[int, list[Candidate]],
    needs: list[NeedSlot],
    offers: list[OfferSlot],
    fairness_weight: float,
    helped_counts: dict[Any, int],
    slots_per_offer: int,
    slots_per_need: int,
    area_deficits: dict[str, float] | None = None,
    area_weight: float = 0.0,
    beyond_decay: float = 0.0,
) -> list[tuple[float, int, int]]:
    row_offer = [j for j in group for _ in range(min(offers[j].quantity, slots_per_offer))]
    group_needs = sorted({c.need for j in group for c in found[j]})
    col_need, col_slot = [], []
    for i in group_needs:
        for k in range(min(needs[i].quantity_open, slots_per_need)):
            col_need.append(i)
            col_slot.append(k)
    cols_of: dict[int, list[int]] = {}
    for c, i in enumerate(col_need):
        cols_of.setdefault(i, []).append(c)
    weights = np.zeros((len(row_offer), len(col_need)))
    rows_of: dict[int, list[int]] = {}
    for r, j in enumerate(row_offer):
        rows_of.setdefault(j, []).append(r)
    for j in group:
        offer = offers[j]
        for _, i, distance, _ in found[j]:
            need = needs[i]
            base = helped_counts.get(need.beneficiary, 0)
            deficit = _deficit(need, area_deficits)
            for c in cols_of[i]:
                w = pair_weight(need, offer, distance, helped=base + col_slot[c], fairness_weight=fairness_weight,
                                deficit=deficit, area_weight=area_weight, beyond_decay=beyond_decay)  # fmt: skip
                weights[rows_of[j], c] = w
    for _ in range(REPAIRS):
        rows, cols = linear_sum_assignment(weights, maximize=True)
        # Rows of one offer are alike, so the solver may give two of them to two slots of one need:
        # one proposal, and a row wasted. Such a need keeps only the row it got first, and the
        # group is solved again (rarely more than once or twice).
        first_row: dict[tuple[int, int], int] = {}
        repeated = False
        for r, c in zip(rows, cols, strict=True):
            if weights[r, c] <= 0:
                continue
            pair = (row_offer[r], col_need[c])
            if pair in first_row:
                repeated = True
                others = [x for x in rows_of[pair[0]] if x != first_row[pair]]
                weights[np.ix_(others, cols_of[pair[1]])] = 0.0
            else:
                first_row[pair] = int(r)
        if not repeated:
            break
    # Pairs out of reach have weight 0 (every pair in reach weighs more): the solver may fill a
    # rectangular matrix with them; they are not proposals.
    return [
        (float(weights[r, c]), row_offer[r], col_need[c]) for r, c in zip(rows, cols, strict=True) if weights[r, c] > 0
    ]
