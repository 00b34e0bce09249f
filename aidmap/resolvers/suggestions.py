"""Suggestions: offers that can reach a need, needs an offer can reach, ranked by geo/score.py.

Candidates come from the live match index (R-tree); every candidate is re-read from
PostGIS and re-checked there, so a stale index entry can cost a miss, never a wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.reader import located_columns
from aidmap.db.replica import Reads
from aidmap.events.match_index import MatchIndex
from aidmap.fairness.reach import capped
from aidmap.geo.distance import haversine_m
from aidmap.geo.score import WAITING_FULL_HOURS, WEIGHTS, ScoreParts, score
from aidmap.i18n import msg
from aidmap.models import Need, NeedStatus, Offer, OfferStatus, Pledge, PledgeStatus
from aidmap.models.need import OPEN_STATUSES
from aidmap.problems import Code, UserInputError
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.validation import MAX_RADIUS_M, utcnow

FAIRNESS_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Suggestion:
    need: Any  # a Need, or a row of its columns from the hot-read pool (same attribute names)
    offer: Offer
    distance_m: float
    parts: ScoreParts


async def help_received(*, session: AsyncSession, beneficiaries: set[str]) -> dict[str, int]:
    """Delivered pledges per beneficiary (`needs.beneficiary_key`: the claimed account, else the
    person's phone, else the need) in the last 30 days. Per beneficiary, not per owner account: a
    hotline operator owns every need it files, and one delivery to one household must not make
    every other household it serves look helped."""
    if not beneficiaries:
        return {}
    rows = await session.execute(
        select(Need.beneficiary_key, func.count())
        .join(Pledge, Pledge.need_id == Need.id)
        .where(
            Need.beneficiary_key.in_(beneficiaries),
            Pledge.status == PledgeStatus.DELIVERED.value,
            Pledge.delivered_at > utcnow() - FAIRNESS_WINDOW,
        )
        .group_by(Need.beneficiary_key)
    )
    return {key: count for key, count in rows.all()}


def waiting_reach_m(need: Any, max_reach_m: float) -> float:
    """How much farther than a donor's radius the need reaches: what the waiting job announced, while
    nothing is pledged (aidmap/fairness/reach.py; public facts only: its age and its status)."""
    if max_reach_m <= 0 or need.status != NeedStatus.OPEN.value:
        return 0.0
    return float(need.waiting_reach_m or 0.0)


def _suggestion(
    need: Need, offer: Offer, help_received: int, now: datetime | None = None, max_reach_m: float = 0.0
) -> Suggestion | None:
    # Cell to cell: the donor may not know the need's point nor the requester the offer's, and the
    # distance part, the score, the rank and the cut-off at the radius are all shown to them.
    distance = haversine_m(offer.cell_lon, offer.cell_lat, need.cell_lon, need.cell_lat)
    # A waiting need is suggested beyond the donor's radius, up to its reach (its distance part is 0 there).
    if distance > capped(offer.radius_meters, waiting_reach_m(need, max_reach_m), max_km=max_reach_m):
        return None
    now = now or utcnow()
    parts = score(
        distance_m=distance,
        radius_m=offer.radius_meters,
        urgency=need.urgency,
        waiting_hours=(now - need.created_at).total_seconds() / 3600,
        still_needed=need.quantity - need.quantity_pledged,
        can_give=offer.quantity - offer.quantity_pledged,
        help_received=help_received,
    )
    return Suggestion(need=need, offer=offer, distance_m=distance, parts=parts)


def _ranked(suggestions: list[Suggestion | None], first: int) -> list[Suggestion]:
    found = [s for s in suggestions if s is not None]
    # Cells make equal distances common: the id breaks ties, so the answer does not depend on read order.
    return sorted(found, key=_rank_key)[:first]


def _rank_key(s: Suggestion) -> tuple[float, float, int, int]:
    return (-s.parts.total, s.distance_m, s.need.id, s.offer.id)


def _check_first(first: int) -> None:
    if not 1 <= first <= 50:
        raise UserInputError("first", msg("{field} must be between 1 and {n}.", field="first", n=50), Code.OUT_OF_RANGE)


async def offers_for_need(
    *, session: AsyncSession, index: MatchIndex, viewer: Viewer, need_id: int, first: int, max_reach_m: float = 0.0
) -> list[Suggestion]:
    """Active offers of the need's category whose donor can reach it (for the need's requester); a
    waiting need also reaches offers farther than their radius (max_reach_m: the cap, 0 for none)."""
    _check_first(first)
    need = await session.get(Need, need_id)
    if need is None or need.owner_id != viewer.account_id:
        raise UserInputError("needId", msg("No need of yours has this id."), Code.NOT_FOUND)
    candidates = index.offers_reaching(need.category, need.cell_lon, need.cell_lat)
    extra = waiting_reach_m(need, max_reach_m)
    if extra > 0:
        candidates += index.offers_reached_by(
            need.category, need.cell_lon, need.cell_lat, extra, max_reach_m=max_reach_m
        )
    if not candidates or need.status not in OPEN_STATUSES:
        return []
    offers = (
        await session.execute(
            select(Offer).where(
                Offer.id.in_(candidates),
                Offer.status == OfferStatus.ACTIVE.value,
                Offer.category == need.category,
                Offer.available_until > utcnow(),
                Offer.donor_id != viewer.account_id,
            )
        )
    ).scalars()
    key = need.beneficiary_key
    received = (await help_received(session=session, beneficiaries={key})).get(key, 0)
    return _ranked([_suggestion(need, offer, received, max_reach_m=max_reach_m) for offer in offers], first)


FIRST_RING_M = 500.0
# Candidates through the hot-read pool: ~10x cheaper per row than loading ORM objects, and a
# ring in a dense city can hold thousands.
_CANDIDATES_SQL = (
    f"SELECT {located_columns(Need.__table__)} FROM needs "
    "WHERE id = ANY(%(ids)s::bigint[]) AND status = ANY(%(statuses)s::text[]) AND category = %(category)s::text "
    "AND owner_id <> %(viewer)s::bigint"
)
DISTANCE_WEIGHT = WEIGHTS["distance"]
MIN_RING_M = 50.0
# The first ring shrinks until it holds about this many candidates per suggestion asked for.
CANDIDATES_PER_SUGGESTION = 20
# Waiting needs from beyond the donor's radius read at most (nearest first).
WAITING_CANDIDATES = 2000


def best_possible(distance_m: float, radius_m: float) -> float:
    """The highest score a need at least distance_m away could have (every other part at its best)."""
    return score(
        distance_m=distance_m, radius_m=radius_m, urgency="CRITICAL", waiting_hours=WAITING_FULL_HOURS,
        still_needed=1, can_give=1, help_received=0,
    ).total  # fmt: skip


async def _rank_in(
    *,
    session: AsyncSession,
    needs: list[Any],
    offer: Offer,
    ranked: list[Suggestion],
    first: int,
    now: datetime,
    max_reach_m: float = 0.0,
) -> list[Suggestion]:
    """`ranked` with these needs ranked in. The fairness part needs a query over each requester's
    history; it is asked only for needs that could still rank, best first: scored as if never
    helped (fairness 1, their highest), a need below the last one kept cannot rank at all."""
    hopeful = sorted(
        (s for s in (_suggestion(n, offer, 0, now, max_reach_m) for n in needs) if s is not None),
        key=_rank_key,
    )
    done = 0
    while done < len(hopeful) and not (len(ranked) == first and ranked[-1].parts.total > hopeful[done].parts.total):
        batch = hopeful[done : done + 4 * first]
        received = await help_received(session=session, beneficiaries={s.need.beneficiary_key for s in batch})
        ranked = _ranked(
            [
                *ranked,
                *(_suggestion(s.need, offer, received.get(s.need.beneficiary_key, 0), now, max_reach_m) for s in batch),
            ],
            first,
        )
        done += len(batch)
    return ranked


async def needs_for_offer(
    *,
    session: AsyncSession,
    reader: Reads,
    index: MatchIndex,
    viewer: Viewer,
    offer_id: int,
    first: int,
    max_reach_m: float = 0.0,
) -> list[Suggestion]:
    """Open needs of the offer's category within the donor's radius (for the offer's donor), best first.

    Needs are read in growing rings around the offer (500 m, 1 km, 2 km...; the first ring is smaller
    where needs are denser), and the search stops
    once the `first`-th best so far beats anything a farther need could score. In a dense city a
    10 km offer holds tens of thousands of needs (reading them all took ~1 s at 100k needs); the
    best ten are nearly always in the first ring or two. The answer is the same as ranking them all.

    Then waiting needs beyond the radius whose reach covers the offer (max_reach_m: the cap of that
    reach, 0 for none), unless the `first`-th best already beats what one of them could score (its
    distance part is 0); at most WAITING_CANDIDATES of them, nearest first.
    """
    _check_first(first)
    offer = await session.get(Offer, offer_id)
    if offer is None or offer.donor_id != viewer.account_id:
        raise UserInputError("offerId", msg("No offer of yours has this id."), Code.NOT_FOUND)
    radius = min(offer.radius_meters, MAX_RADIUS_M)
    now = utcnow()  # one clock for the whole ranking, so scores compare exactly
    seen: set[int] = set()
    ranked = await _rings(session=session, reader=reader, index=index, viewer=viewer, offer=offer, first=first,
                          radius=radius, now=now, seen=seen, max_reach_m=max_reach_m)  # fmt: skip
    if max_reach_m <= offer.radius_meters or (
        len(ranked) == first and ranked[-1].parts.total > best_possible(radius, radius)
    ):
        return ranked
    waiting = index.waiting_needs_within(
        offer.category, offer.cell_lon, offer.cell_lat, offer.radius_meters, max_reach_m=max_reach_m
    )
    waiting = [i for i in waiting if i not in seen]
    if not waiting:
        return ranked
    if len(waiting) > WAITING_CANDIDATES:
        # Bounded: the nearest (cell to cell, ties by id), like every public order.
        points = {i: index.need_point(i) for i in waiting}
        waiting = sorted(waiting, key=lambda i: (haversine_m(offer.cell_lon, offer.cell_lat, *points[i]), i))[
            :WAITING_CANDIDATES
        ]
    needs = await reader.fetch(
        _CANDIDATES_SQL,
        {"ids": waiting, "statuses": [NeedStatus.OPEN.value], "category": offer.category, "viewer": viewer.account_id},
    )
    return await _rank_in(
        session=session, needs=needs, offer=offer, ranked=ranked, first=first, now=now, max_reach_m=max_reach_m
    )


async def _rings(
    *,
    session: AsyncSession,
    reader: Reads,
    index: MatchIndex,
    viewer: Viewer,
    offer: Offer,
    first: int,
    radius: float,
    now: datetime,
    seen: set[int],
    max_reach_m: float,
) -> list[Suggestion]:
    """The best `first` needs within the offer's radius, read in growing rings (see needs_for_offer)."""
    ranked: list[Suggestion] = []
    ring = min(radius, FIRST_RING_M)
    while (
        ring > MIN_RING_M
        and index.count_needs_near(offer.category, offer.cell_lon, offer.cell_lat, ring)
        > CANDIDATES_PER_SUGGESTION * first
    ):
        ring /= 2
    while True:
        candidates = [
            i for i in index.needs_within(offer.category, offer.cell_lon, offer.cell_lat, ring) if i not in seen
        ]
        seen.update(candidates)
        if candidates:
            needs = await reader.fetch(
                _CANDIDATES_SQL,
                {"ids": candidates, "statuses": [s.value for s in OPEN_STATUSES], "category": offer.category,
                 "viewer": viewer.account_id},
            )  # fmt: skip
            ranked = await _rank_in(
                session=session, needs=needs, offer=offer, ranked=ranked, first=first, now=now, max_reach_m=max_reach_m
            )
        if ring >= radius:
            return ranked
        limit = radius
        if len(ranked) == first:
            # A need farther than this scores below the last one kept, whatever its other parts.
            worst_kept = ranked[-1].parts.total
            limit = min(radius, radius * (1 - (worst_kept - best_possible(radius, radius)) / DISTANCE_WEIGHT))
        if limit <= ring:
            return ranked
        ring = min(limit, ring * 2)
