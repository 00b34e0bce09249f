"""Fair allocation, measured in a simulated city: one day of Hà Nội, four ways for donors to pick needs.

    make bench-fairness                       # the default size, into bench/results/fairness.md + fairness-wards.png
    .venv/bin/python bench/fairness.py --needs 2000 --donors 700 --seed 7 --no-plot

The city is the 126 real wards of Hà Nội (aidmap/data/vn-admin/01_ha_noi.geojson). The data has no
population, so a ward's population is its area times a density by kind of ward: 10,000 inhabitants
per km² in a phường (urban ward), 1,500 in a xã (commune), about the 2019 census densities of the
city's former urban and rural districts; the model gives ~8.5 million people, near the city's real
total. Needs are spread over wards by that population (uniformly inside each ward polygon). Donors
are concentrated: 70% in the wards nearest Hoàn Kiếm that together make 10% of the city's area, the
other 30% spread by population over the rest, as in 2021, when help came from the centre.

The day, all of it fixed by one seed (`--seed`, default 2021) and run identically for every policy:

- Clock: 00:00 to 24:00 in steps of 10 minutes. A quarter of the needs are already open at 00:00,
  posted over the previous 48 hours; the rest are posted uniformly between 06:00 and 22:00.
- Donors arrive uniformly between 06:00 and 22:00 and each stays 2 hours (their offer's
  `available_until`), looking again every 30 minutes while they can still give. Each has one offer:
  a category, a travel radius (2, 3, 5 or 10 km, the offer's `radiusMeters`) and a capacity of 1-6
  units, and pledges to at most `AIDMAP_DISCLOSURE_LIMIT_PER_DAY` (5) needs, as the service allows.
- Needs: 1-3 units, an urgency, a category (the donors' mix); a fifth of the requesters post two.
  A pledge gives min(what is still needed, what the donor can still give). A pledge is delivered
  3 hours later, which is what the fairness part of the score counts (help received per requester).
- "Helped" means fully pledged by 24:00. Time to first pledge is from posting to the first pledge,
  over the needs that got one.

Policies (each on a fresh copy of the same city and the same arrivals):

- `baseline`: first-come nearest, the 2021 platforms: the donor lists the needs in their radius,
  nearest first (as `needs(near:, radiusMeters:)` does, by the public cell), and pledges down the list.
- `suggestions`: the donor asks `suggestedNeeds(first: 10)` and pledges down its ranking. The ranking
  is aidmap's own code, not a copy: candidates from the live match index (aidmap/events/match_index.py,
  fed the same events as in service), scored and ordered by `_suggestion` / `_ranked` of
  aidmap/resolvers/suggestions.py (cell-to-cell distance from aidmap/geo/privacy.py, the score of
  aidmap/geo/score.py with its fairness part). The resolver reads those candidates in growing rings
  from PostGIS; its answer equals ranking every need in reach (tests/resolvers), which is what is
  done here without the database, so that a day of four policies runs in a few minutes.
- `growing-reach`: the same ranking, with each need reachable from farther the longer it waits
  unpledged: its `waiting_reach_m` as aidmap/jobs/waiting.py sets it (`extra_km` of
  aidmap/fairness/reach.py with the service's AIDMAP_WAITING_* settings, `settings_reach`), and the
  resolver's `_suggestion` with the service's cap (its distance part is 0 beyond the donor's radius).
- `matching-households`: every 30 minutes, the needs and the donors present are matched in one round
  by `propose` of aidmap/fairness/matching.py (help received per beneficiary, the waiting reach, the
  service's fairness weight), households only: the round as it was before wards weighed in
  (AIDMAP_MATCHING_AREA_WEIGHT=0, AIDMAP_MATCHING_AREA_REACH_KM=0, AIDMAP_MATCHING_BEYOND_RADIUS_DECAY=0).
- `matching`: the round as the service runs it by default: the same, plus each need's ward deficit
  (aidmap/fairness/areas.py: how much less its ward was helped than the city, from the needs posted
  there so far and those fully pledged, as aidmap/resolvers/proposals.py counts them from the
  needs table), the reach that deficit earns, and pairs beyond a donor's radius damped.
  In both, pairs once proposed are not proposed again (as in service), and donors answer at once,
  best proposal first.
- `matching-relay`: `matching` with collection points (aidmap/resolvers/collection_points.py): one at
  the centroid of each central ward, its couriers carrying `relay_units_per_point` units a day up to
  `relay_reach_km`. The round (the service's `propose` with `relays`) may send a need beyond a donor's
  radius through a point within it: the donor's trip is to the point, which they always make (it is
  within their radius), and the point's units left bound what goes through it. The report adds
  the same day with other courier capacities (RELAY_SWEEP), since the points are the city's to provide.

What donors do, and what they may do, follows the service: they pledge only through what they are
shown (their own radius, a waiting need's reach, a round's proposals), within the disclosure limit
and what their offer has left. Within their travel radius (cell to cell, as the service measures
it) a donor always agrees to go; asked beyond it (a waiting need's suggestion, a proposal to a need
whose waiting or ward reach grew past the radius) the donor agrees with probability
(radius / distance) ** decline_exponent (2 by default: the distance decay of a gravity model, so
twice the radius is 1 in 4, three times 1 in 9), drawn once per (seed, offer, need), so the same
donor answers the same need the same way under every policy. A declined proposal is not made again.
Nothing here bypasses the service's rules: the ranking, the reach and the round are the service's code.

Reported per policy: needs helped, median time to first pledge, and the fairness ratio: the share
of needs helped in the worst-served decile of wards (the 10% of wards with the lowest share helped,
pooled) divided by the city-wide share. The goal: a ratio of at least 0.8 for aidmap's best policy,
with at most 10% fewer needs helped than the baseline, in the same run.

The worst decile is picked after the fact, so chance alone keeps the ratio below 1 (the report gives
the figure an even allocation shows). A second measure, not the issue's, avoids that: the
donor-poor ratio, the same pooled share over the city-wide share for a decile of wards fixed by the
city before any policy runs (the wards with the fewest donor units offered within 10 km of their
centroid per unit needed, donor_poor_wards). And to show what bounds the ratio, `matching` runs
again with one setting changed (the ward weight doubled; far pairs weighed by the donors' own odds
of agreeing; waiting needs reaching out sooner), with the donors' and the service's limits lifted
(donors agreeing at any distance; needs reaching 60 km; far pairs not damped), and with help
withheld from wards served well above the city (a what-if of the benchmark, not something the
service does): those rows are not in the verdict. The report also says where `matching`'s
capacity went (donor units left unused in the central wards and elsewhere).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aidmap.events.fanout import EventKind, LiveEvent  # noqa: E402
from aidmap.events.match_index import MatchIndex  # noqa: E402
from aidmap.geo.distance import haversine_m  # noqa: E402
from aidmap.geo.privacy import snap_to_cell  # noqa: E402
from aidmap.resolvers.suggestions import _ranked, _suggestion  # noqa: E402
from aidmap.settings import Settings  # noqa: E402

WARDS_FILE = ROOT / "aidmap" / "data" / "vn-admin" / "01_ha_noi.geojson"
RESULTS = Path(__file__).resolve().parent / "results"
CENTRE = (105.8542, 21.0285)  # Hoàn Kiếm
DENSITY_PER_KM2 = {"urban": 10_000.0, "rural": 1_500.0}
DAY_START = datetime(2026, 12, 1, tzinfo=UTC)
HOUR = 3600.0
DONORS_FROM_S, DONORS_UNTIL_S = 6 * HOUR, 22 * HOUR
CATEGORIES = (("FOOD", 0.5), ("MEDICINE", 0.2), ("ESSENTIALS", 0.2), ("STUDY_DEVICE", 0.1))
URGENCIES = (("LOW", 0.15), ("NORMAL", 0.5), ("HIGH", 0.25), ("CRITICAL", 0.1))
RADII_KM = ((2, 0.3), (3, 0.3), (5, 0.3), (10, 0.1))
NEED_UNITS = ((1, 0.5), (2, 0.3), (3, 0.2))
DONOR_UNITS = ((1, 0.15), (2, 0.2), (3, 0.2), (4, 0.2), (5, 0.15), (6, 0.1))
SUGGESTIONS_FIRST = 10


@dataclass(frozen=True)
class Config:
    needs: int = 12_000
    donors: int = 4_400
    seed: int = 2021
    step_minutes: int = 10
    backlog_share: float = 0.25
    backlog_hours: float = 48.0
    donor_stay_hours: float = 2.0
    look_every_minutes: int = 30
    round_every_minutes: int = 30
    delivery_hours: float = 3.0
    central_area_share: float = 0.10
    central_donor_share: float = 0.70
    second_need_share: float = 0.20
    # A donor asked to go beyond their travel radius (a waiting need's suggestion, a round's proposal)
    # agrees with probability (radius / distance) ** this (a gravity model's distance decay).
    decline_exponent: float = 2.0
    # `matching-relay`: a collection point at the centroid of each central ward (as the ward offices
    # of 2021 took in goods), whose couriers carry this many units a day (a van's round) to needs up
    # to relay_reach_km from the point.
    relay_units_per_point: int = 100
    relay_reach_km: float = 60.0


# -- the city ---------------------------------------------------------------------------------


@dataclass
class Ward:
    code: str
    name: str
    urban: bool
    rings: list[list[tuple[float, float]]]  # outer ring first, then holes
    area_km2: float
    centroid: tuple[float, float]
    population: float = 0.0

    def contains(self, lon: float, lat: float) -> bool:
        inside = False
        for ring in self.rings:  # even-odd over all rings, so holes count out
            inside ^= _in_ring(ring, lon, lat)
        return inside

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.rings[0]]
        ys = [p[1] for p in self.rings[0]]
        return min(xs), min(ys), max(xs), max(ys)


def _in_ring(ring: list[tuple[float, float]], x: float, y: float) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _ring_area_km2(ring: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Area (km², local equirectangular: wards are small) and centroid of a ring."""
    lat0 = sum(p[1] for p in ring) / len(ring)
    kx, ky = 111.195 * math.cos(math.radians(lat0)), 111.195
    twice, cx, cy = 0.0, 0.0, 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        twice += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if twice == 0:
        return 0.0, ring[0][0], ring[0][1]
    return abs(twice) / 2 * kx * ky, cx / (3 * twice), cy / (3 * twice)


def ward_from_feature(feature: dict[str, Any]) -> Ward:
    props, geometry = feature["properties"], feature["geometry"]
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    # The largest polygon's rings (the Hà Nội file has only Polygons; a MultiPolygon keeps its main part).
    rings = max(([[(float(x), float(y)) for x, y in ring] for ring in poly] for poly in polygons),
                key=lambda rs: _ring_area_km2(rs[0])[0])  # fmt: skip
    outer, cx, cy = _ring_area_km2(rings[0])
    area = outer - sum(_ring_area_km2(hole)[0] for hole in rings[1:])
    urban = props.get("fullName", "").startswith("Phường")
    return Ward(props["code"], props["name"], urban, rings, area, (cx, cy))


def load_wards(path: Path = WARDS_FILE) -> list[Ward]:
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    wards = [ward_from_feature(f) for f in features if f["properties"].get("level") == "ward"]
    for ward in wards:
        ward.population = ward.area_km2 * DENSITY_PER_KM2["urban" if ward.urban else "rural"]
    return sorted(wards, key=lambda w: w.code)


def central_wards(wards: list[Ward], area_share: float) -> set[str]:
    """The wards nearest the centre (by centroid) that together make `area_share` of the city's area."""
    total = sum(w.area_km2 for w in wards)
    chosen: set[str] = set()
    covered = 0.0
    for ward in sorted(wards, key=lambda w: (haversine_m(*CENTRE, *w.centroid), w.code)):
        if covered >= area_share * total:
            break
        chosen.add(ward.code)
        covered += ward.area_km2
    return chosen


# -- who needs, who gives -------------------------------------------------------------------


@dataclass
class SimNeed:
    id: int
    owner_id: int
    ward: str
    category: str
    urgency: str
    quantity: int
    lon: float
    lat: float
    cell_lon: float
    cell_lat: float
    posted_s: float  # seconds since the day's start (negative: posted before it)
    created_at: datetime
    quantity_pledged: int = 0
    first_pledge_s: float | None = None
    waiting_reach_m: float = 0.0

    @property
    def status(self) -> str:
        return "OPEN" if self.quantity_pledged == 0 else "PARTLY_PLEDGED" if self.still_needed > 0 else "PLEDGED"

    @property
    def still_needed(self) -> int:
        return self.quantity - self.quantity_pledged


@dataclass
class SimOffer:
    id: int
    donor_id: int
    ward: str
    category: str
    quantity: int
    radius_meters: float
    lon: float
    lat: float
    cell_lon: float
    cell_lat: float
    arrive_s: float
    until_s: float
    quantity_pledged: int = 0
    pledges: int = 0
    looked_s: float | None = None

    @property
    def can_give(self) -> int:
        return self.quantity - self.quantity_pledged


@dataclass
class City:
    wards: list[Ward]
    central: set[str]
    needs: list[SimNeed]
    offers: list[SimOffer]
    config: Config
    _donor_poor: list[str] | None = None

    @property
    def donor_poor(self) -> list[str]:
        """The donor-poor decile of wards, fixed by the city before any policy runs (donor_poor_wards)."""
        if self._donor_poor is None:
            self._donor_poor = donor_poor_wards(self)
        return self._donor_poor


DONOR_POOR_KM = 10.0


def donor_poor_wards(city: City) -> list[str]:
    """The tenth of wards (ceil, by count, of those with needs) with the fewest donor units offered
    within DONOR_POOR_KM of the ward's centroid per unit needed in the ward, fewest first (ties by
    code). Fixed by the city itself, the same for every policy and never chosen after the fact."""
    needed: dict[str, int] = {}
    for need in city.needs:
        needed[need.ward] = needed.get(need.ward, 0) + need.quantity
    supply = {}
    for ward in city.wards:
        if needed.get(ward.code, 0) > 0:
            near = sum(o.quantity for o in city.offers
                       if haversine_m(*ward.centroid, o.lon, o.lat) <= DONOR_POOR_KM * 1000.0)  # fmt: skip
            supply[ward.code] = near / needed[ward.code]
    ranked = sorted(supply, key=lambda w: (supply[w], w))
    return ranked[: max(1, math.ceil(len(ranked) / 10))]


def pooled_ratio(
    wards: list[str], needs_by_ward: dict[str, int], helped_by_ward: dict[str, int]
) -> tuple[float, float]:
    """(share of needs helped in these wards, pooled, over the city-wide share; that pooled share)."""
    total = sum(needs_by_ward.values())
    city = sum(helped_by_ward.get(w, 0) for w in needs_by_ward) / total if total else 0.0
    needs = sum(needs_by_ward.get(w, 0) for w in wards)
    share = sum(helped_by_ward.get(w, 0) for w in wards) / needs if needs else 0.0
    return (share / city if city > 0 else 0.0), share


def _pick(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights)[0]


def _point_in(rng: random.Random, ward: Ward) -> tuple[float, float]:
    west, south, east, north = ward.bbox
    while True:
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if ward.contains(lon, lat):
            return lon, lat


def _ward_picker(rng: random.Random, wards: list[Ward]) -> Callable[[], Ward]:
    cumulative, total = [], 0.0
    for ward in wards:
        total += ward.population
        cumulative.append(total)
    return lambda: wards[min(len(wards) - 1, bisect.bisect_left(cumulative, rng.random() * total))]


def build_city(config: Config, wards: list[Ward] | None = None) -> City:
    rng = random.Random(config.seed)
    wards = wards if wards is not None else load_wards()
    central = central_wards(wards, config.central_area_share)
    by_population = _ward_picker(rng, wards)
    needs: list[SimNeed] = []
    owner = 0
    while len(needs) < config.needs:
        owner += 1
        ward = by_population()
        count = 2 if rng.random() < config.second_need_share else 1
        categories = rng.sample([c for c, _ in CATEGORIES], count) if count > 1 else [_pick(rng, CATEGORIES)]
        for category in categories[: config.needs - len(needs)]:
            lon, lat = _point_in(rng, ward)
            if rng.random() < config.backlog_share:
                posted = -rng.uniform(0, config.backlog_hours * HOUR)
            else:
                posted = rng.uniform(6 * HOUR, 22 * HOUR)
            cell_lon, cell_lat = snap_to_cell(lon, lat)
            needs.append(SimNeed(
                id=len(needs) + 1, owner_id=owner, ward=ward.code, category=category, urgency=_pick(rng, URGENCIES),
                quantity=_pick(rng, NEED_UNITS), lon=lon, lat=lat, cell_lon=cell_lon, cell_lat=cell_lat,
                posted_s=posted, created_at=DAY_START + timedelta(seconds=posted),
            ))  # fmt: skip
    inner = [w for w in wards if w.code in central]
    outer = [w for w in wards if w.code not in central]
    pick_inner, pick_outer = _ward_picker(rng, inner), _ward_picker(rng, outer)
    offers: list[SimOffer] = []
    for i in range(config.donors):
        ward = pick_inner() if rng.random() < config.central_donor_share else pick_outer()
        lon, lat = _point_in(rng, ward)
        cell_lon, cell_lat = snap_to_cell(lon, lat)
        arrive = rng.uniform(DONORS_FROM_S, DONORS_UNTIL_S)
        offers.append(SimOffer(
            id=i + 1, donor_id=1_000_000 + i, ward=ward.code, category=_pick(rng, CATEGORIES),
            quantity=_pick(rng, DONOR_UNITS), radius_meters=1000.0 * _pick(rng, RADII_KM), lon=lon, lat=lat,
            cell_lon=cell_lon, cell_lat=cell_lat, arrive_s=arrive, until_s=arrive + config.donor_stay_hours * HOUR,
        ))  # fmt: skip
    return City(wards, central, needs, offers, config)


# -- one day under one policy -------------------------------------------------------------------


@dataclass
class Day:
    """The state of one simulated day: what is open, who gave what, and the live match index."""

    city: City
    settings: Settings
    needs: dict[int, SimNeed]
    offers: list[SimOffer]
    index: MatchIndex = field(default_factory=MatchIndex)
    help_received: dict[int, int] = field(default_factory=dict)  # requester -> delivered pledges
    helped_by_ward: dict[str, int] = field(default_factory=dict)  # ward -> needs fully pledged so far
    posted_by_ward: dict[str, int] = field(default_factory=dict)  # ward -> needs posted so far
    proposed: set[tuple[int, int]] = field(default_factory=set)  # (offer, need) pairs a round proposed
    deliveries: list[tuple[float, int]] = field(default_factory=list)  # (when, requester), a heap by time
    now_s: float = 0.0
    seq: int = 0
    posted: int = 0  # needs (sorted by posting time) already in the index
    # A what-if of the report, not the service: rounds leave out the needs of wards helped more than
    # (1 + this) times the city's share so far (help withheld where donors are; None: never).
    withhold_above: float | None = None
    relay_left: dict[int, int] = field(default_factory=dict)  # collection point -> units its couriers can still carry
    relayed_units: int = 0

    @property
    def now(self) -> datetime:
        return DAY_START + timedelta(seconds=self.now_s)

    def _event(self, need: SimNeed, kind: EventKind, status: str) -> None:
        # The same event the outbox would carry (the public cell only), so the index is fed as in service.
        self.seq += 1
        self.index.apply(LiveEvent(
            seq=self.seq, kind=kind, need_id=need.id, offer_id=None, pledge_id=None, message_id=None,
            category=need.category, status=status, lon=need.cell_lon, lat=need.cell_lat, audience=(),
        ))  # fmt: skip

    def open_new_needs(self, ordered: list[SimNeed]) -> None:
        while self.posted < len(ordered) and ordered[self.posted].posted_s <= self.now_s:
            need = ordered[self.posted]
            self._event(need, EventKind.NEED_CREATED, "OPEN")
            self.posted_by_ward[need.ward] = self.posted_by_ward.get(need.ward, 0) + 1
            self.posted += 1

    def deliver_due(self) -> None:
        import heapq

        while self.deliveries and self.deliveries[0][0] <= self.now_s:
            _, owner = heapq.heappop(self.deliveries)
            self.help_received[owner] = self.help_received.get(owner, 0) + 1

    def is_open(self, need: SimNeed) -> bool:
        return need.posted_s <= self.now_s and need.still_needed > 0

    def may_pledge(self, offer: SimOffer) -> bool:
        return (
            offer.arrive_s <= self.now_s < offer.until_s
            and offer.can_give > 0
            and offer.pledges < self.settings.disclosure_limit_per_day
        )

    def pledge(self, offer: SimOffer, need: SimNeed, quantity: int | None = None) -> bool:
        """What the `pledge` mutation does to the two records (amount capped by both sides)."""
        import heapq

        if not (self.may_pledge(offer) and self.is_open(need)) or offer.category != need.category:
            return False
        amount = min(need.still_needed, offer.can_give, quantity if quantity is not None else offer.can_give)
        need.quantity_pledged += amount
        offer.quantity_pledged += amount
        offer.pledges += 1
        if need.first_pledge_s is None:
            need.first_pledge_s = self.now_s
        heapq.heappush(self.deliveries, (self.now_s + self.city.config.delivery_hours * HOUR, need.owner_id))
        if need.still_needed == 0:
            self.helped_by_ward[need.ward] = self.helped_by_ward.get(need.ward, 0) + 1
            self._event(need, EventKind.NEED_UPDATED, "PLEDGED")
        else:
            self._event(need, EventKind.NEED_UPDATED, "PARTLY_PLEDGED")
        return True

    def agrees(self, offer: SimOffer, need: SimNeed) -> bool:
        """Whether the donor goes to this need: always within their travel radius (cell to cell, as
        the service measures it); beyond it with probability (radius / distance) ** decline_exponent.
        The draw is fixed per (seed, offer, need), so a donor asked twice answers the same, and
        every policy meets the same donors."""
        distance = haversine_m(offer.cell_lon, offer.cell_lat, need.cell_lon, need.cell_lat)
        if distance <= offer.radius_meters:
            return True
        key = f"{self.city.config.seed}:{offer.id}:{need.id}".encode()
        draw = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64
        return draw < (offer.radius_meters / distance) ** self.city.config.decline_exponent

    def agrees_to_go(self, offer: SimOffer, lon: float, lat: float) -> bool:
        """A trip to a collection point: within the radius, always (the round proposes no other)."""
        return haversine_m(offer.cell_lon, offer.cell_lat, lon, lat) <= offer.radius_meters * (1 + 1e-9)

    def candidates(self, offer: SimOffer, radius_m: float) -> list[SimNeed]:
        return [
            self.needs[i] for i in self.index.needs_within(offer.category, offer.cell_lon, offer.cell_lat, radius_m)
        ]


Policy = Callable[[Day, list[SimOffer]], None]


def _donors_looking(day: Day, every_s: float) -> list[SimOffer]:
    """Donors present who can still give and whose turn to look again has come (arrival order)."""
    looking = []
    for offer in day.offers:
        if day.may_pledge(offer) and (offer.looked_s is None or day.now_s - offer.looked_s >= every_s - 1e-6):
            offer.looked_s = day.now_s
            looking.append(offer)
    return looking


def baseline(day: Day, looking: list[SimOffer]) -> None:
    """First-come nearest: each donor, in arrival order, pledges down the list of needs nearest first."""
    for offer in looking:
        found = day.candidates(offer, offer.radius_meters)
        by_distance = sorted(
            found, key=lambda n: (haversine_m(offer.cell_lon, offer.cell_lat, n.cell_lon, n.cell_lat), n.id)
        )
        for need in by_distance:
            if not day.may_pledge(offer):
                break
            day.pledge(offer, need)


def _pledge_down(day: Day, offer: SimOffer, ranked: Iterable[Any]) -> None:
    for suggestion in ranked:
        if not day.may_pledge(offer):
            break
        # A waiting need is suggested beyond the donor's radius: the donor may not go that far.
        if day.agrees(offer, suggestion.need):
            day.pledge(offer, suggestion.need)


def suggestions(day: Day, looking: list[SimOffer]) -> None:
    """aidmap's suggestedNeeds: the service's own scoring and ranking over the needs in reach."""
    now = day.now
    for offer in looking:
        found = day.candidates(offer, offer.radius_meters)
        ranked = _ranked(
            [_suggestion(n, offer, day.help_received.get(n.owner_id, 0), now) for n in found], SUGGESTIONS_FIRST
        )
        _pledge_down(day, offer, ranked)


def _beneficiary(need: SimNeed) -> str:
    # Every simulated need is posted by its own requester's account (nobody files on anyone's behalf).
    return f"account:{need.owner_id}"


def growing_reach(day: Day, looking: list[SimOffer]) -> None:
    """Suggestions where a need that waited unpledged reaches donors farther than their radius: the
    resolver's own `_suggestion` with the service's cap, the need's reach as the waiting job sets it."""
    from aidmap.fairness.reach import extra_km, max_reach_km, settings_reach

    reach = settings_reach(day.settings)
    grow = {k: reach[k] for k in ("after_seconds", "km_per_hour", "step_km")}
    max_reach_m = 1000.0 * reach["max_km"]
    now = day.now
    for offer in looking:
        found = day.candidates(offer, 1000.0 * max_reach_km(offer.radius_meters / 1000.0, max_km=reach["max_km"]))
        scored = []
        for need in found:
            # What aidmap/jobs/waiting.py writes to needs.waiting_reach_m (it runs every minute; here every step).
            need.waiting_reach_m = 1000.0 * extra_km(day.now_s - need.posted_s, need.quantity_pledged > 0, **grow)
            scored.append(
                _suggestion(need, offer, day.help_received.get(need.owner_id, 0), now, max_reach_m=max_reach_m)
            )
        _pledge_down(day, offer, _ranked(scored, SUGGESTIONS_FIRST))


def relay_points(city: City) -> list[tuple[int, float, float]]:
    """`matching-relay`'s collection points: (id, lon, lat), one at the centroid of each central ward."""
    central = sorted((w for w in city.wards if w.code in city.central), key=lambda w: w.code)
    return [(k + 1, w.centroid[0], w.centroid[1]) for k, w in enumerate(central)]


def _round(day: Day, *, by_ward: bool, relays: bool = False) -> None:
    """One matching round over all donors present, as aidmap/resolvers/proposals.py runs it: open needs
    (what is still needed), offers with something left, pairs already proposed left out, the help each
    beneficiary received, and (by_ward) each ward's deficit from the needs posted there and those fully
    pledged, through the service's own aidmap.fairness.areas.area_deficits and its settings."""
    from aidmap.fairness.areas import area_deficits, settings_area
    from aidmap.fairness.matching import NeedSlot, OfferSlot, RelaySlot, propose
    from aidmap.fairness.reach import settings_reach

    if int(day.now_s) % int(day.city.config.round_every_minutes * 60) != 0:
        return
    open_needs = [n for n in day.needs.values() if day.is_open(n)]
    if day.withhold_above is not None and day.posted_by_ward:
        city_share = sum(day.helped_by_ward.values()) / sum(day.posted_by_ward.values())
        over = {w for w, posted in day.posted_by_ward.items()
                if day.helped_by_ward.get(w, 0) / posted > (1 + day.withhold_above) * city_share}  # fmt: skip
        open_needs = [n for n in open_needs if n.ward not in over]
    present = [o for o in day.offers if day.may_pledge(o)]
    if not open_needs or not present:
        return
    slots = [
        NeedSlot(need_id=n.id, beneficiary=_beneficiary(n), lon=n.cell_lon, lat=n.cell_lat, quantity_open=n.still_needed,
                 category=n.category, urgency=n.urgency, waited_seconds=day.now_s - n.posted_s,
                 pledged=n.quantity_pledged > 0, owner=n.owner_id, area=n.ward)
        for n in open_needs
    ]  # fmt: skip
    offers = {o.id: o for o in present}
    offer_slots = [
        OfferSlot(offer_id=o.id, lon=o.cell_lon, lat=o.cell_lat, radius_km=o.radius_meters / 1000.0,
                  quantity=o.can_give, category=o.category, donor=o.donor_id)
        for o in present
    ]  # fmt: skip
    helped = {_beneficiary(n): day.help_received[n.owner_id] for n in open_needs if n.owner_id in day.help_received}
    area = settings_area(day.settings) if by_ward else {"area_weight": 0.0, "area_reach_km": 0.0, "beyond_decay": 0.0}
    # The day is shorter than the service's window (AIDMAP_FAIRNESS_AREA_DAYS): every need posted so far counts.
    deficits = area_deficits(day.posted_by_ward, day.helped_by_ward) if by_ward else None
    points = {p: (lon, lat) for p, lon, lat in relay_points(day.city)} if relays else {}
    if relays and not day.relay_left:
        day.relay_left = {p: day.city.config.relay_units_per_point for p in points}
    relay_slots = [
        RelaySlot(point_id=p, lon=lon, lat=lat, reach_km=day.city.config.relay_reach_km, capacity=day.relay_left[p])
        for p, (lon, lat) in points.items()
    ]  # fmt: skip
    proposals = propose(
        slots, offer_slots, fairness_weight=day.settings.matching_fairness_weight, helped_counts=helped,
        reach=settings_reach(day.settings), exclude=day.proposed, area_deficits=deficits, relays=relay_slots, **area,
    )  # fmt: skip
    # Donors answer what is proposed, best first (the round's own order of weight); one beyond their
    # radius may be declined (Day.agrees). Either way the pair is not proposed again, as in service.
    for proposal in sorted(proposals, key=lambda p: (-p.weight, p.offer_id, p.need_id)):
        offer, need = offers[proposal.offer_id], day.needs[proposal.need_id]
        day.proposed.add((offer.id, need.id))
        if proposal.via is not None:
            # Through a collection point within the donor's radius: the donor's trip is to the point.
            lon, lat = points[proposal.via]
            units = min(proposal.quantity, day.relay_left[proposal.via])
            before = offer.quantity_pledged
            if units > 0 and day.agrees_to_go(offer, lon, lat) and day.pledge(offer, need, units):
                day.relay_left[proposal.via] -= offer.quantity_pledged - before
                day.relayed_units += offer.quantity_pledged - before
        elif day.agrees(offer, need):
            day.pledge(offer, need, proposal.quantity)


def matching_households(day: Day, looking: list[SimOffer]) -> None:
    """Matching rounds weighing households only (help received per beneficiary): the round before
    ward deficits (AIDMAP_MATCHING_AREA_WEIGHT=0)."""
    _round(day, by_ward=False)


def matching(day: Day, looking: list[SimOffer]) -> None:
    """Matching rounds as the service runs them by default: households and their wards' deficits."""
    _round(day, by_ward=True)


def matching_relay(day: Day, looking: list[SimOffer]) -> None:
    """`matching` with collection points: a need beyond a donor's radius can be served through a
    point within it, whose couriers carry it on (Config.relay_units_per_point, relay_reach_km)."""
    _round(day, by_ward=True, relays=True)


POLICIES: dict[str, Policy] = {
    "baseline": baseline, "suggestions": suggestions, "growing-reach": growing_reach,
    "matching-households": matching_households, "matching": matching, "matching-relay": matching_relay,
}  # fmt: skip
NEEDS_FAIRNESS = "requires aidmap.fairness (branch `fair`: aidmap/fairness/reach.py and matching.py)"


# -- the run and its figures --------------------------------------------------------------------


@dataclass
class Outcome:
    policy: str
    needs: int
    helped: int
    pledged_any: int
    median_first_pledge_min: float | None
    fairness_ratio: float
    worst_decile_share: float
    donor_poor_ratio: float
    donor_poor_share: float
    city_share: float
    worst_wards: list[str]
    share_by_ward: dict[str, float]
    seconds: float
    units_given: int
    error: str | None = None
    # Donor units left unused at 24:00, of donors in the central wards and elsewhere; units needed
    # outside the central wards and those of them pledged (where the day's capacity went).
    unused_central_units: int = 0
    unused_outer_units: int = 0
    outer_units_needed: int = 0
    outer_units_pledged: int = 0
    relayed_units: int = 0  # pledged through collection points (matching-relay)

    def as_row(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k != "share_by_ward"}
        return row


def fairness_ratio(
    needs_by_ward: dict[str, int], helped_by_ward: dict[str, int]
) -> tuple[float, float, float, list[str]]:
    """(ratio, worst decile's share, city-wide share, the worst decile's wards).

    The worst-served decile: wards with at least one need, ordered by their share of needs helped
    (then by code, so ties are stable), the first ceil(10%) of them; their needs and helped needs are
    pooled. The ratio is that pooled share over the city-wide share (1.0 when nothing at all was helped
    is meaningless, so it is 0.0 then)."""
    wards = sorted((w for w, n in needs_by_ward.items() if n > 0),
                   key=lambda w: (helped_by_ward.get(w, 0) / needs_by_ward[w], w))  # fmt: skip
    if not wards:
        return 0.0, 0.0, 0.0, []
    worst = wards[: max(1, math.ceil(len(wards) / 10))]
    total_needs = sum(needs_by_ward[w] for w in wards)
    total_helped = sum(helped_by_ward.get(w, 0) for w in wards)
    city = total_helped / total_needs
    worst_share = sum(helped_by_ward.get(w, 0) for w in worst) / sum(needs_by_ward[w] for w in worst)
    return (worst_share / city if city > 0 else 0.0), worst_share, city, worst


def even_allocation_ratio(city: City, share: float, draws: int = 200) -> tuple[float, float]:
    """The ratios a perfectly even allocation would show: every need helped with the same probability
    (`share`), independently; (the issue's fairness ratio, the donor-poor decile's ratio), medians of
    `draws` seeded draws. The first is below 1 only because the worst decile of small wards is picked
    after the fact (chance alone makes some wards look worse served); the second's decile is fixed
    before the draw, so it is about 1."""
    rng = random.Random(city.config.seed + 1)
    sizes: dict[str, int] = {}
    for need in city.needs:
        sizes[need.ward] = sizes.get(need.ward, 0) + 1
    ratios, poor = [], []
    for _ in range(draws):
        helped = {w: sum(rng.random() < share for _ in range(n)) for w, n in sizes.items()}
        ratios.append(fairness_ratio(sizes, helped)[0])
        poor.append(pooled_ratio(city.donor_poor, sizes, helped)[0])
    return statistics.median(ratios), statistics.median(poor)


def simulate(city: City, policy: str, settings: Settings | None = None, withhold_above: float | None = None) -> Outcome:
    """One day of the city under one policy, on fresh copies of its needs and offers."""
    started = time.perf_counter()
    settings = settings or Settings()
    config = city.config
    needs = [replace(n) for n in city.needs]
    offers = sorted((replace(o) for o in city.offers), key=lambda o: (o.arrive_s, o.id))
    day = Day(
        city=city, settings=settings, needs={n.id: n for n in needs}, offers=offers, withhold_above=withhold_above
    )
    ordered = sorted(needs, key=lambda n: (n.posted_s, n.id))
    step = config.step_minutes * 60.0
    error = None
    try:
        act = POLICIES[policy]
        look_every = config.look_every_minutes * 60.0
        for k in range(int(24 * HOUR / step)):
            day.now_s = k * step
            day.open_new_needs(ordered)
            day.deliver_due()
            act(day, _donors_looking(day, look_every))
    except ModuleNotFoundError as missing:
        if not (missing.name or "").startswith("aidmap.fairness"):
            raise
        error = NEEDS_FAIRNESS
    needs_by_ward: dict[str, int] = {}
    for need in needs:
        needs_by_ward[need.ward] = needs_by_ward.get(need.ward, 0) + 1
    helped_by_ward = {} if error else day.helped_by_ward
    ratio, worst_share, city_share, worst = fairness_ratio(needs_by_ward, helped_by_ward)
    poor_ratio, poor_share = pooled_ratio(city.donor_poor, needs_by_ward, helped_by_ward)
    # Needs posted before the day are counted from 06:00, when its first donors come (none came before).
    waits = [(n.first_pledge_s - max(DONORS_FROM_S, n.posted_s)) / 60 for n in needs if n.first_pledge_s is not None]
    return Outcome(
        policy=policy, needs=len(needs), helped=sum(helped_by_ward.values()),
        pledged_any=len(waits), median_first_pledge_min=statistics.median(waits) if waits else None,
        fairness_ratio=ratio, worst_decile_share=worst_share, city_share=city_share, worst_wards=worst,
        donor_poor_ratio=poor_ratio, donor_poor_share=poor_share,
        share_by_ward={w: helped_by_ward.get(w, 0) / n for w, n in needs_by_ward.items()},
        seconds=time.perf_counter() - started, units_given=sum(o.quantity_pledged for o in offers), error=error,
        unused_central_units=sum(o.can_give for o in offers if o.ward in city.central),
        unused_outer_units=sum(o.can_give for o in offers if o.ward not in city.central),
        outer_units_needed=sum(n.quantity for n in needs if n.ward not in city.central),
        outer_units_pledged=sum(n.quantity_pledged for n in needs if n.ward not in city.central),
        relayed_units=day.relayed_units,
    )  # fmt: skip


def sensitivity_runs(city: City, settings: Settings) -> list[tuple[str, Outcome]]:
    """`matching` with the donors' or the service's limits lifted, to show what bounds the ratio."""
    keen = replace(city, config=replace(city.config, decline_exponent=0.0))
    ceiling = replace(settings, waiting_after_hours=1.0, waiting_reach_km_per_hour=10.0, waiting_reach_max_km=60.0,
                      matching_area_reach_km=60.0, matching_area_weight=3.0)  # fmt: skip
    undamped = replace(ceiling, matching_beyond_radius_decay=0.0)
    heavier = replace(settings, matching_area_weight=2 * settings.matching_area_weight)
    expected = replace(settings, matching_beyond_radius_decay=city.config.decline_exponent)
    sooner = replace(settings, waiting_after_hours=3.0, waiting_reach_km_per_hour=1.0)
    return [
        (f"AIDMAP_MATCHING_AREA_WEIGHT={heavier.matching_area_weight:g} (a setting; twice the one above)",
         simulate(city, "matching", heavier)),
        ("donors accept every proposal, at any distance", simulate(keen, "matching", settings)),
        ("and needs reach 60 km (after 1 h waiting, or by ward deficit), ward weight 3",
         simulate(keen, "matching", ceiling)),
        ("and the round does not damp pairs beyond a donor's radius (AIDMAP_MATCHING_BEYOND_RADIUS_DECAY=0)",
         simulate(keen, "matching", undamped)),
        (f"AIDMAP_MATCHING_BEYOND_RADIUS_DECAY={city.config.decline_exponent:g} (a setting: the round weighs a far "
         "pair by the donors' own odds of agreeing, its expected value)",
         simulate(city, "matching", expected)),
        ("AIDMAP_WAITING_AFTER_HOURS=3, AIDMAP_WAITING_REACH_KM_PER_HOUR=1 (settings: waiting needs reach out sooner)",
         simulate(city, "matching", sooner)),
        ("help withheld: rounds leave out the needs of wards helped more than 1.2 × the city's share so far "
         "(not a product policy: it refuses help where donors are)",
         simulate(city, "matching", settings, withhold_above=0.2)),
    ]  # fmt: skip


RELAY_SWEEP = (0, 25, 50, 200)  # units a day per collection point, besides Config.relay_units_per_point


def relay_runs(city: City, settings: Settings) -> list[tuple[int, Outcome]]:
    """`matching-relay` with other courier capacities: what the ratio costs in relay capacity."""
    sizes = sorted({*RELAY_SWEEP, city.config.relay_units_per_point})
    return [
        (
            size,
            simulate(
                replace(city, config=replace(city.config, relay_units_per_point=size)), "matching-relay", settings
            ),
        )
        for size in sizes
    ]


def run(config: Config, policies: Iterable[str], settings: Settings | None = None) -> tuple[City, list[Outcome]]:
    city = build_city(config)
    return city, [simulate(city, policy, settings) for policy in policies]


def verdict(outcomes: list[Outcome]) -> str:
    base = next((o for o in outcomes if o.policy == "baseline"), None)
    ours = [o for o in outcomes if o.policy != "baseline" and o.error is None]
    if base is None or not ours:
        return "No verdict: the baseline and at least one of aidmap's policies must run."
    allowed = [o for o in ours if o.helped >= 0.9 * base.helped]
    if not allowed:
        return "Goal **not met**: every aidmap policy helped more than 10% fewer needs than the baseline."
    best = max(allowed, key=lambda o: (o.fairness_ratio, o.helped))
    met = best.fairness_ratio >= 0.8
    return (
        f"aidmap's best policy within 10% of the baseline's needs helped: `{best.policy}`, fairness ratio "
        f"{best.fairness_ratio:.2f} against the baseline's {base.fairness_ratio:.2f}, "
        f"{best.helped:,} needs helped against {base.helped:,} ({(best.helped / base.helped - 1) * 100:+.1f}%). "
        f"Goal (ratio ≥ 0.8, at most 10% fewer helped): **{'met' if met else 'not met'}**."
    )


def report(
    city: City,
    outcomes: list[Outcome],
    images: list[str],
    elapsed: float,
    settings: Settings,
    sensitivity: list[tuple[str, Outcome]] = (),  # type: ignore[assignment]
    relays: list[tuple[int, Outcome]] = (),  # type: ignore[assignment]
) -> str:
    config = city.config
    central_area = sum(w.area_km2 for w in city.wards if w.code in city.central)
    total_area = sum(w.area_km2 for w in city.wards)
    names = {w.code: w.name for w in city.wards}
    units_needed = sum(n.quantity for n in city.needs)
    units_offered = sum(o.quantity for o in city.offers)
    lines = [
        "# Fair allocation in a simulated day of Hà Nội (`bench/fairness.py`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, one seed ({config.seed}), {elapsed:.0f} s for all policies "
        f"on this shared {__import__('os').cpu_count()}-core machine. {config.needs:,} needs ({units_needed:,} units) "
        f"in {len(city.wards)} real wards, spread by a population model (area × 10,000/km² per phường, 1,500/km² "
        f"per xã; the ward file has no population); {config.donors:,} donors ({units_offered:,} units), "
        f"{config.central_donor_share:.0%} of them in the {len(city.central)} wards nearest Hoàn Kiếm that make "
        f"{central_area / total_area:.0%} of the area ({central_area:,.0f} of {total_area:,.0f} km²). "
        "The day runs 00:00-24:00 in 10-minute steps; design and definitions in the module's docstring.",
        "",
        "| policy | needs helped (fully pledged) | vs baseline | needs with a pledge | median time to first pledge | "
        "worst decile of wards helped | city-wide helped | **fairness ratio** | donor-poor decile helped | "
        "donor-poor ratio | simulated in |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = next((o for o in outcomes if o.policy == "baseline" and o.error is None), None)
    for o in outcomes:
        if o.error:
            lines.append(f"| `{o.policy}` | not run: {o.error} | | | | | | | | | |")
            continue
        versus = f"{(o.helped / base.helped - 1) * 100:+.1f}%" if base and base.helped else ""
        median = f"{o.median_first_pledge_min:.0f} min" if o.median_first_pledge_min is not None else "n/a"
        lines.append(
            f"| `{o.policy}` | {o.helped:,} ({o.helped / o.needs:.1%}) | {versus} | {o.pledged_any:,} | {median} | "
            f"{o.worst_decile_share:.1%} | {o.city_share:.1%} | **{o.fairness_ratio:.2f}** | "
            f"{o.donor_poor_share:.1%} | {o.donor_poor_ratio:.2f} | {o.seconds:.1f} s |"
        )
    if base:
        chance, chance_poor = even_allocation_ratio(city, base.city_share)
        lines += [
            "",
            f"Chance alone: with these ward sizes a perfectly even allocation (every need helped with the baseline's "
            f"city-wide probability, {base.city_share:.1%}) shows a fairness ratio of "
            f"{chance:.2f} (median of 200 draws): the worst decile is picked "
            "after the fact, so 1.0 is out of reach even for a perfectly fair policy.",
            "",
            f"The donor-poor ratio is a second measure, not the issue's: the same pooled share over the city-wide "
            f"share, but for a decile of wards fixed by the city before any policy runs, the {len(city.donor_poor)} "
            f"wards with the fewest donor units offered within {DONOR_POOR_KM:.0f} km of their centroid per unit "
            f"needed ({', '.join(names[w] for w in city.donor_poor)}). Nothing is picked after the fact, so an even "
            f"allocation shows {chance_poor:.2f} and any shortfall is the policy's.",
        ]
    lines += ["", verdict(outcomes), ""]
    best = next((o for o in outcomes if o.policy == "matching" and o.error is None), None)
    if best:
        central_units = sum(o.quantity for o in city.offers if o.ward in city.central)
        lines += [
            f"Where `matching`'s capacity went: donors in the {len(city.central)} central wards left "
            f"{best.unused_central_units:,} of their {central_units:,} units unused (nothing open in their reach, "
            f"or a longer trip declined), donors elsewhere {best.unused_outer_units:,} of "
            f"{units_offered - central_units:,}; outside the central wards {best.outer_units_pledged:,} of the "
            f"{best.outer_units_needed:,} units needed were pledged "
            f"({best.outer_units_pledged / max(1, best.outer_units_needed):.0%})."
            + (
                " Outside the centre the donors' capacity is used up: the worst-served wards are short of donors "
                "within reach, not of a better ranking."
                if best.unused_outer_units < 0.05 * (units_offered - central_units)
                else ""
            ),
            "",
        ]
    relayed = next((o for o in outcomes if o.policy == "matching-relay" and o.error is None), None)
    if relayed:
        points = len(relay_points(city))
        lines += [
            f"`matching-relay` is `matching` with {points} collection points, one at the centroid of each central "
            f"ward (the ward offices that took in goods in 2021), whose couriers carry {config.relay_units_per_point} "
            f"units a day each (a van's round; {points * config.relay_units_per_point:,} in all) up to "
            f"{config.relay_reach_km:g} km: a need beyond a donor's radius is proposed through a point within it, "
            "so the donor's trip stays short (they always agree to it) and the point's manager carries it on "
            f"(aidmap/resolvers/collection_points.py). {relayed.relayed_units:,} of its {relayed.units_given:,} "
            "units given went through a point. Its median time to first pledge is longer, "
            f"{relayed.median_first_pledge_min or 0:.0f} min: it pledges to more of the needs far from donors, "
            "which wait for a round to send them through a point; the couriers' own trip is not simulated "
            f"(a relayed pledge counts as delivered {config.delivery_hours:g} hours later, like any other). "
            "The points and their capacity are the city's to provide; what the ratio costs in courier capacity, "
            "same city and seed:",
            "",
            "| units a day per point | in all | relayed | needs helped | vs baseline | worst decile helped | "
            "city-wide | fairness ratio | donor-poor ratio |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for size, o in relays:
            versus = f"{(o.helped / base.helped - 1) * 100:+.1f}%" if base and base.helped else ""
            lines.append(
                f"| {size} | {size * points:,} | {o.relayed_units:,} | {o.helped:,} | {versus} | "
                f"{o.worst_decile_share:.1%} | {o.city_share:.1%} | {o.fairness_ratio:.2f} | {o.donor_poor_ratio:.2f} |"
            )
        lines.append("")
    if sensitivity:
        lines += [
            "What bounds the ratio: `matching` again, same city and seed, with one setting or what the donors do "
            "changed (not counted in the verdict):",
            "",
            "| variant | needs helped | vs baseline | units given (of offered) | worst decile helped | city-wide | "
            "fairness ratio | donor-poor ratio |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for label, o in sensitivity:
            versus = f"{(o.helped / base.helped - 1) * 100:+.1f}%" if base and base.helped else ""
            lines.append(
                f"| {label} | {o.helped:,} | {versus} | {o.units_given:,} ({o.units_given / units_offered:.0%}) | "
                f"{o.worst_decile_share:.1%} | {o.city_share:.1%} | {o.fairness_ratio:.2f} | {o.donor_poor_ratio:.2f} |"
            )
        lines.append("")
    for o in outcomes:
        if not o.error:
            worst = ", ".join(f"{names[w]} {o.share_by_ward[w]:.0%}" for w in o.worst_wards)
            lines.append(f"- `{o.policy}`, worst-served decile: {worst}.")
    lines += [
        "",
        f"Settings used (the service's defaults unless set in the environment): disclosure limit "
        f"{settings.disclosure_limit_per_day} needs per donor per day; waiting reach after "
        f"{getattr(settings, 'waiting_after_hours', '?')} h, {getattr(settings, 'waiting_reach_km_per_hour', '?')} km/h "
        f"in steps of {getattr(settings, 'waiting_reach_step_km', '?')} km, at most "
        f"{getattr(settings, 'waiting_reach_max_km', '?')} km (growing-reach and matching); matching rounds every "
        f"{config.round_every_minutes} min (the service's default is off), fairness weight "
        f"{getattr(settings, 'matching_fairness_weight', '?')}; ward deficits (`matching`) weighed "
        f"{getattr(settings, 'matching_area_weight', '?')}, reaching up to "
        f"{getattr(settings, 'matching_area_reach_km', '?')} km farther, pairs beyond a donor's radius damped by "
        f"(radius/distance)^{getattr(settings, 'matching_beyond_radius_decay', '?')}. Donors asked beyond their "
        f"radius agree with probability (radius/distance)^{config.decline_exponent:g}.",
        "",
        *(f"![{image}]({image})" for image in images),
        "",
    ]
    return "\n".join(lines)


def plot(city: City, outcomes: list[Outcome], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    shown = [o for o in outcomes if not o.error]
    cols = 2 if len(shown) > 1 else 1
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols + 1.2, 6.0 * rows), squeeze=False, layout="constrained")
    cmap = plt.get_cmap("RdYlGn")
    lat0 = math.radians(21.0)
    for ax, o in zip(axes.flat, shown, strict=False):
        polys = [w.rings[0] for w in city.wards]
        colours = [o.share_by_ward.get(w.code, 0.0) for w in city.wards]
        coll = PolyCollection(polys, array=colours, cmap=cmap, edgecolors="#555555", linewidths=0.3)
        coll.set_clim(0.0, 1.0)
        ax.add_collection(coll)
        worst = set(o.worst_wards)
        ax.add_collection(PolyCollection([w.rings[0] for w in city.wards if w.code in worst],
                                         facecolors="none", edgecolors="black", linewidths=1.6))  # fmt: skip
        ax.add_collection(PolyCollection([w.rings[0] for w in city.wards if w.code in city.central],
                                         facecolors="none", edgecolors="#1f4e9e", linewidths=1.1, linestyles=":"))  # fmt: skip
        ax.autoscale_view()
        ax.set_aspect(1 / math.cos(lat0))
        ax.axis("off")
        ax.set_title(f"{o.policy}: {o.helped / o.needs:.0%} helped, fairness ratio {o.fairness_ratio:.2f}", fontsize=11)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    fig.colorbar(plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=cmap), ax=axes, shrink=0.6,
                 label="share of the ward's needs helped (fully pledged)")  # fmt: skip
    fig.suptitle(
        f"One simulated day of Hà Nội, seed {city.config.seed}: {city.config.needs:,} needs, {city.config.donors:,} donors\n"
        "thick black: the worst-served decile of wards; dotted blue: the central wards holding 70% of donors",
        fontsize=11,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=Config.needs)
    parser.add_argument("--donors", type=int, default=Config.donors)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--policies", nargs="+", default=list(ALL_POLICIES), choices=list(ALL_POLICIES))
    parser.add_argument("--out", type=Path, default=RESULTS / "fairness.md")
    parser.add_argument("--no-plot", action="store_true", help="no PNG (and no matplotlib needed)")
    parser.add_argument("--no-sensitivity", action="store_true", help="no runs with the limits lifted")
    args = parser.parse_args(argv)
    config = Config(needs=args.needs, donors=args.donors, seed=args.seed)
    settings = Settings.from_env()
    started = time.perf_counter()
    city, outcomes = run(config, args.policies, settings)
    elapsed = time.perf_counter() - started
    images: list[str] = []
    if not args.no_plot:
        image = args.out.parent / "fairness-wards.png"
        plot(city, outcomes, image)
        images.append(image.name)
    sensitivity = [] if args.no_sensitivity or "matching" not in args.policies else sensitivity_runs(city, settings)
    relays = [] if args.no_sensitivity or "matching-relay" not in args.policies else relay_runs(city, settings)
    text = report(city, outcomes, images, elapsed, settings, sensitivity, relays)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    (args.out.with_suffix(".json")).write_text(
        json.dumps(
            {
                "config": config.__dict__,
                "outcomes": [o.as_row() for o in outcomes],
                "sensitivity": [{"variant": label, **o.as_row()} for label, o in sensitivity],
                "relays": [{"units_per_point": size, **o.as_row()} for size, o in relays],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(text)
    return 0


ALL_POLICIES = tuple(POLICIES)

if __name__ == "__main__":
    raise SystemExit(main())
