"""Matching rounds: propose pledges for open offers (aidmap/fairness/matching.py), then the donor
accepts (a real pledge, through resolvers/pledges.create and all its rules) or declines.

A round reads every active offer with something left and no proposal waiting for its donor, and
every open need (public: OPEN or PARTLY_PLEDGED), each as its public cell, quantity still open
(less what waiting proposals hold) and beneficiary; the help each beneficiary received comes from
the same count as suggestions' fairness part. Pairs already proposed (answered or not) and needs
the donor already pledged to are not proposed again. Each need's ward weighs in by its deficit
(aidmap/fairness/areas.py): the needs posted in the ward over the last `area_days` and how many
of them were fully pledged or delivered, against the same share over all wards. One round at a time over all processes (a
transaction-level advisory lock); proposals lapse after AIDMAP_MATCHING_PROPOSAL_HOURS. Open collection
points with units left today are relays (aidmap/fairness/matching.py): a proposal through one names
it, and accepting it makes a relayed pledge (resolvers/collection_points.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.db.sql import status_in, status_is
from aidmap.events.outbox import emit
from aidmap.fairness.areas import area_deficits
from aidmap.fairness.matching import NeedSlot, OfferSlot, propose
from aidmap.i18n import msg
from aidmap.models import (
    CollectionPoint,
    EventKind,
    MatchProposal,
    Need,
    Offer,
    OfferStatus,
    Pledge,
    PledgeStatus,
    ProposalStatus,
)
from aidmap.models.need import ACTIVE_STATUSES, OPEN_STATUSES, NeedStatus
from aidmap.problems import Code, CountedProblems, Problems
from aidmap.resolvers import collection_points, pledges
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.suggestions import help_received
from aidmap.resolvers.validation import utcnow

_ROUND_LOCK = 0x41494431  # "AID1"

_OFFERS = text(
    f"""
    SELECT o.id, o.donor_id, o.category, o.radius_meters, o.quantity - o.quantity_pledged AS left,
           ST_X(geometry(o.cell)) AS lon, ST_Y(geometry(o.cell)) AS lat
    FROM offers o
    WHERE {status_is(OfferStatus.ACTIVE, column="o.status")} AND o.available_until > now() AND o.quantity > o.quantity_pledged
      AND NOT EXISTS (SELECT 1 FROM match_proposals p WHERE p.offer_id = o.id AND {status_is(ProposalStatus.PROPOSED, column="p.status")})
    ORDER BY o.id <= :after, o.id
    LIMIT :budget
    """
)
_NEEDS = text(
    f"""
    SELECT n.id, n.owner_id, n.category, n.urgency, n.status, n.waiting_reach_m, n.beneficiary_key,
           n.ward_code, n.quantity - n.quantity_pledged
             - coalesce((SELECT sum(p.quantity) FROM match_proposals p
                         WHERE p.need_id = n.id AND {status_is(ProposalStatus.PROPOSED, column="p.status")}), 0) AS open,
           extract(epoch FROM now() - n.created_at) AS waited,
           ST_X(geometry(n.cell)) AS lon, ST_Y(geometry(n.cell)) AS lat
    FROM needs n
    WHERE {status_in(OPEN_STATUSES, column="n.status")} AND n.expires_at > now() AND n.category = ANY(:categories)
    ORDER BY n.id
    """
)
# Per ward, the needs posted in the window that were public at some point, and those fully pledged or
# delivered. Cancelled needs are left out (the requester withdrew, help or not); expired ones count as
# not helped; needs never public (pending, under review, rejected) are not the donors' to serve.
_HELPED = (NeedStatus.PLEDGED, NeedStatus.FULFILLED)
_ONCE_PUBLIC = (*ACTIVE_STATUSES, NeedStatus.FULFILLED, NeedStatus.EXPIRED)
_AREA_HELP = text(
    f"""
    SELECT n.ward_code AS area, count(*) AS needs,
           count(*) FILTER (WHERE {status_in(_HELPED, column="n.status")}) AS helped
    FROM needs n
    WHERE n.ward_code IS NOT NULL AND n.created_at > now() - make_interval(secs => :window)
      AND {status_in(_ONCE_PUBLIC, column="n.status")}
    GROUP BY n.ward_code
    """
)
_EXCLUDED = text(
    f"""
    SELECT offer_id, need_id FROM match_proposals WHERE offer_id = ANY(:offers)
    UNION SELECT o.id, p.need_id FROM pledges p JOIN offers o ON o.donor_id = p.donor_id
    WHERE {status_is(PledgeStatus.CANCELLED, column="p.status", negate=True)} AND o.id = ANY(:offers)
    """
)


@dataclass(frozen=True)
class RoundReport:
    offers: int
    needs: int
    proposals: int
    solve_seconds: float
    last_offer_id: int = 0  # where the next round's budget starts (run_round's after_offer_id)


async def run_round(
    *,
    sessions: async_sessionmaker[AsyncSession],
    fairness_weight: float,
    reach: dict[str, float] | None,
    proposal_ttl: timedelta,
    max_offers: int = 2000,
    after_offer_id: int = 0,
    area: dict[str, float] | None = None,
    area_days: float = 7.0,
) -> RoundReport | None:
    """One matching round; None when another process is running one.

    A round looks at `max_offers` offers at most, round-robin by id: those after `after_offer_id`
    (the last round's report.last_offer_id) first, then from the start, so with more open offers
    than the budget every one still gets a turn and old ones that match nothing cannot crowd out
    new ones. The solve runs in a thread: the event loop keeps serving meanwhile (numpy, scipy and
    the GIL's switch interval leave it free; bench/matching_loop.py).

    `area` is aidmap.fairness.areas.settings_area(settings) (None: wards do not weigh in); ward
    deficits are counted over the last `area_days` days."""
    async with sessions() as session, session.begin():
        if not (await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _ROUND_LOCK})).scalar():
            return None
        await _lapse(session)
        offer_rows = (await session.execute(_OFFERS, {"after": after_offer_id, "budget": max_offers})).all()
        if not offer_rows:
            return RoundReport(0, 0, 0, 0.0, last_offer_id=after_offer_id)
        last_offer_id = offer_rows[-1].id
        offer_rows.sort(key=lambda r: r.id)  # the solve sees offers in id order whatever the turn
        categories = sorted({r.category for r in offer_rows})
        need_rows = [r for r in (await session.execute(_NEEDS, {"categories": categories})).all() if r.open > 0]
        helped = await help_received(session=session, beneficiaries={r.beneficiary_key for r in need_rows})
        deficits = await ward_deficits(session, area_days) if area and area.get("area_weight", 0) > 0 else None
        offer_ids = [r.id for r in offer_rows]
        excluded = {(a, b) for a, b in (await session.execute(_EXCLUDED, {"offers": offer_ids})).all()}
        needs = [
            NeedSlot(
                need_id=r.id, beneficiary=r.beneficiary_key, lon=r.lon, lat=r.lat, quantity_open=int(r.open),
                category=r.category, urgency=r.urgency, waited_seconds=float(r.waited),
                pledged=r.status != "OPEN", owner=r.owner_id, area=r.ward_code,
            )
            for r in need_rows
        ]  # fmt: skip
        offers = [
            OfferSlot(offer_id=r.id, lon=r.lon, lat=r.lat, radius_km=r.radius_meters / 1000.0, quantity=int(r.left),
                      category=r.category, donor=r.donor_id)
            for r in offer_rows
        ]  # fmt: skip
        relays = await collection_points.open_relays(session)
        started = time.perf_counter()
        found = await asyncio.to_thread(
            propose, needs, offers, fairness_weight=fairness_weight, helped_counts=helped, reach=reach,
            exclude=excluded, area_deficits=deficits, relays=relays, **(area or {}),
        )  # fmt: skip
        solve = time.perf_counter() - started
        donors = {r.id: r.donor_id for r in offer_rows}
        expires = utcnow() + proposal_ttl
        need_models: dict[int, Any] = {}
        for p in found:
            row = MatchProposal(offer_id=p.offer_id, need_id=p.need_id, donor_id=donors[p.offer_id],
                                quantity=p.quantity, score=round(p.weight, 4), expires_at=expires,
                                collection_point_id=p.via)  # fmt: skip
            session.add(row)
            await session.flush()
            need = need_models.get(p.need_id) or await session.get(Need, p.need_id)
            need_models[p.need_id] = need
            await emit(session=session, kind=EventKind.MATCH_PROPOSED, need=need, proposal_id=row.id,
                       audience={row.donor_id})  # fmt: skip
        return RoundReport(len(offers), len(needs), len(found), solve, last_offer_id=last_offer_id)


async def ward_deficits(session: AsyncSession, days: float) -> dict[str, float]:
    """Each ward's deficit (aidmap.fairness.areas.area_deficits) over the needs of the last `days` days."""
    rows = (await session.execute(_AREA_HELP, {"window": days * 86400.0})).all()
    return area_deficits({r.area: int(r.needs) for r in rows}, {r.area: int(r.helped) for r in rows})


async def _lapse(session: AsyncSession) -> None:
    await session.execute(
        update(MatchProposal)
        .where(MatchProposal.status == ProposalStatus.PROPOSED.value, MatchProposal.expires_at <= utcnow())
        .values(status=ProposalStatus.LAPSED.value, answered_at=utcnow())
    )


async def _own_waiting(session: AsyncSession, viewer: Viewer, proposal_id: int) -> MatchProposal:
    row = (
        await session.execute(select(MatchProposal).where(MatchProposal.id == proposal_id).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.donor_id != viewer.account_id:
        raise Problems.one("proposalId", msg("No proposal to you has this id."), Code.NOT_FOUND)
    if row.status != ProposalStatus.PROPOSED.value or row.expires_at <= utcnow():
        raise Problems.one("proposalId", msg("This proposal was answered or has lapsed."), Code.INVALID_STATE)
    return row


async def accept(
    *,
    session: AsyncSession,
    viewer: Viewer,
    proposal_id: int,
    max_active: int | None,
    disclosure_limit: int | None,
    accept_at_once: bool,
) -> tuple[MatchProposal, Pledge]:
    """The donor accepts: a pledge from the offer to the need, made by the pledge code path (quotas,
    the disclosure limit, what is still open, the offer's own quantity), for what is still open."""
    row = await _own_waiting(session, viewer, proposal_id)
    need = await session.get(Need, row.need_id)
    offer = await session.get(Offer, row.offer_id)
    assert need is not None and offer is not None
    quantity = max(1, min(row.quantity, need.quantity - need.quantity_pledged, offer.quantity - offer.quantity_pledged))
    if row.collection_point_id is not None:
        # What the point can still carry today, if less. Closed since the round, or full today: the
        # proposal lapses (committed, so the offer is free for the next round) and says why.
        point = await session.get(CollectionPoint, row.collection_point_id)
        left = (await collection_points.units_left(session, [point]))[point.id] if point is not None else 0
        if point is None or not point.active or left <= 0:
            row.status, row.answered_at = ProposalStatus.LAPSED.value, utcnow()
            await session.flush()
            raise CountedProblems.one(
                "proposalId", msg("The collection point of this proposal is closed or full today: it has lapsed."),
                Code.INVALID_STATE,
            )  # fmt: skip
        quantity = min(quantity, left)
    # Answered before the pledge (a refused pledge rolls this back with it): the round's view of a
    # collection point's units (units_left, less_proposed) no longer counts it twice.
    row.status, row.answered_at = ProposalStatus.ACCEPTED.value, utcnow()
    await session.flush()
    pledge = await pledges.create(
        session=session, viewer=viewer, need_id=row.need_id, quantity=quantity, offer_id=row.offer_id,
        max_active=max_active, disclosure_limit=disclosure_limit, accept_at_once=accept_at_once,
        collection_point_id=row.collection_point_id,
    )  # fmt: skip
    row.pledge_id = pledge.id
    await session.flush()
    return row, pledge


async def decline(*, session: AsyncSession, viewer: Viewer, proposal_id: int) -> MatchProposal:
    row = await _own_waiting(session, viewer, proposal_id)
    row.status, row.answered_at = ProposalStatus.DECLINED.value, utcnow()
    await session.flush()
    return row


async def mine(*, session: AsyncSession, viewer: Viewer) -> list[MatchProposal]:
    """The donor's proposals still waiting for an answer, newest first."""
    rows = await session.execute(
        select(MatchProposal)
        .where(
            MatchProposal.donor_id == viewer.account_id,
            MatchProposal.status == ProposalStatus.PROPOSED.value,
            MatchProposal.expires_at > utcnow(),
        )
        .order_by(MatchProposal.id.desc())
        .limit(100)
    )
    return list(rows.scalars())


async def get(*, session: AsyncSession, proposal_id: int) -> MatchProposal | None:
    return await session.get(MatchProposal, proposal_id)
