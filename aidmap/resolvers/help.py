"""Instant help: offer an urgent need to the 3 nearest available donors; if none accepts in time, the next 3.

The first donor to accept gets a pledge for what is still needed. Each step is an event:
the asked donors and the requester follow it on `myActivity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.db.nearby import origin_point
from aidmap.db.sql import status_in, status_is
from aidmap.events.outbox import emit
from aidmap.i18n import msg
from aidmap.models import (
    DonorAvailability,
    EventKind,
    HelpAsk,
    HelpRequest,
    HelpRequestStatus,
    Need,
    NeedCategory,
    Pledge,
)
from aidmap.models.need import OPEN_STATUSES, NeedStatus
from aidmap.problems import Code, Problems
from aidmap.resolvers import pledges
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.validation import Checker, utcnow

DONORS_PER_ROUND = 3
URGENT = ("HIGH", "CRITICAL")

# Cell to cell: donors see whether and in which round they are asked, so who is asked must not
# depend on the need's exact point (nor on the donors' own). A waiting need (nothing pledged, its
# reach announced by the waiting job) reaches donors farther than their radius, up to the cap: the
# SQL twin of aidmap.fairness.reach.capped.
_NEXT_DONORS = text(
    f"""
    SELECT a.account_id FROM donor_availability a, needs n
    WHERE n.id = :need_id AND a.available AND a.account_id <> n.owner_id
      AND (cardinality(a.categories) = 0 OR n.category = ANY(a.categories))
      AND ST_DWithin(a.cell, n.cell, CASE
        WHEN {status_is(NeedStatus.OPEN, column="n.status")} AND n.waiting_reach_m > 0
        THEN greatest(a.radius_meters, least(CAST(:max_reach AS float8), a.radius_meters + n.waiting_reach_m))
        ELSE a.radius_meters END)
      AND NOT EXISTS (SELECT 1 FROM help_asks h WHERE h.help_request_id = :request_id AND h.donor_id = a.account_id)
    ORDER BY a.cell <-> n.cell, a.account_id
    LIMIT :limit
    """
)


async def set_availability(
    *,
    session: AsyncSession,
    viewer: Viewer,
    available: bool,
    categories: Sequence[NeedCategory],
    lat: float | None,
    lon: float | None,
    radius_m: float | None,
) -> DonorAvailability:
    """Mark the donor available (where, how far, for what) or not."""
    check = Checker()
    if available:
        if lat is None or lon is None:
            check.add("near", msg("Say where you are to be asked for instant help."), Code.REQUIRED)
        else:
            check.point("near", lat, lon)
        check.radius("radiusMeters", radius_m if radius_m is not None else 0.0)
    if check.problems:
        raise Problems(check.problems)
    values = {
        "account_id": viewer.account_id,
        "available": available,
        "categories": sorted({c.value for c in categories}),
        "location": origin_point(lon=lon, lat=lat) if lat is not None and lon is not None else None,
        "radius_meters": radius_m,
        "updated_at": utcnow(),
    }
    statement = pg_insert(DonorAvailability).values(**values)
    update = {k: statement.excluded[k] for k in values if k != "account_id"}
    if not available:
        update = {"available": statement.excluded.available, "updated_at": statement.excluded.updated_at}
    await session.execute(statement.on_conflict_do_update(index_elements=["account_id"], set_=update))
    row = await session.get(DonorAvailability, viewer.account_id, populate_existing=True)
    assert row is not None
    return row


async def _ask_next_round(
    *, session: AsyncSession, request: HelpRequest, need: Need, max_reach_m: float = 0.0
) -> list[int]:
    """Ask the next nearest available donors not yet asked; returns who was asked."""
    rows = await session.execute(
        _NEXT_DONORS,
        {"need_id": need.id, "request_id": request.id, "limit": DONORS_PER_ROUND, "max_reach": max_reach_m},
    )
    donors = [r[0] for r in rows]
    if not donors:
        return []
    request.round += 1
    request.round_started_at = utcnow()
    for donor in donors:
        session.add(HelpAsk(help_request_id=request.id, donor_id=donor, round=request.round))
    await session.flush()
    for donor in donors:
        await emit(session=session, kind=EventKind.HELP_ASKED, need=need, help_request_id=request.id, audience={donor})
    return donors


async def _exhaust(*, session: AsyncSession, request: HelpRequest, need: Need) -> None:
    request.status = HelpRequestStatus.EXHAUSTED.value
    await session.flush()
    await emit(
        session=session, kind=EventKind.HELP_EXHAUSTED, need=need, help_request_id=request.id, audience={need.owner_id}
    )


async def request_help(*, session: AsyncSession, viewer: Viewer, need_id: int, max_reach_m: float = 0.0) -> HelpRequest:
    need = (await session.execute(select(Need).where(Need.id == need_id).with_for_update())).scalar_one_or_none()
    if need is None or need.owner_id != viewer.account_id:
        raise Problems.one("needId", msg("No need of yours has this id."), Code.NOT_FOUND)
    if need.status not in OPEN_STATUSES:
        raise Problems.one("needId", msg("This need is no longer open."), Code.INVALID_STATE)
    if need.urgency not in URGENT and need.category != NeedCategory.MEDICAL_CONSULTATION:
        raise Problems.one(
            "needId", msg("Instant help is for urgent needs and medical consultations."), Code.INVALID_STATE
        )
    already = await session.execute(
        select(HelpRequest.id).where(HelpRequest.need_id == need.id, HelpRequest.status == HelpRequestStatus.OPEN.value)
    )
    if already.first() is not None:
        raise Problems.one("needId", msg("Help is already being asked for this need."), Code.INVALID_STATE)
    request = HelpRequest(need_id=need.id)
    session.add(request)
    await session.flush()
    await emit(
        session=session, kind=EventKind.HELP_REQUESTED, need=need, help_request_id=request.id, audience={need.owner_id}
    )
    if not await _ask_next_round(session=session, request=request, need=need, max_reach_m=max_reach_m):
        await _exhaust(session=session, request=request, need=need)
    await session.refresh(request)
    return request


async def accept(
    *,
    session: AsyncSession,
    viewer: Viewer,
    help_request_id: int,
    max_active: int | None = None,
    disclosure_limit: int | None = None,
) -> tuple[HelpRequest, Pledge]:
    """The first asked donor (of the current round) to accept gets a pledge for what is still needed,
    within the same limits as any pledge (active pledges, distinct needs a day without a delivery):
    an accepted ask discloses the need at once, so without them an account switched to available
    could collect addresses without end."""
    request = (
        await session.execute(select(HelpRequest).where(HelpRequest.id == help_request_id).with_for_update())
    ).scalar_one_or_none()
    ask = await session.get(HelpAsk, (help_request_id, viewer.account_id)) if request else None
    if request is None or ask is None:
        raise Problems.one("helpRequestId", msg("You were not asked to help with this."), Code.NOT_FOUND)
    if request.status != HelpRequestStatus.OPEN or ask.round != request.round:
        raise Problems.one(
            "helpRequestId", msg("This request was already answered or has moved on."), Code.INVALID_STATE
        )
    need = await session.get(Need, request.need_id)
    assert need is not None
    pledge = await pledges.create(
        session=session, viewer=viewer, need_id=need.id, quantity=need.quantity - need.quantity_pledged, offer_id=None,
        max_active=max_active, disclosure_limit=disclosure_limit,
    )  # fmt: skip
    request.status, request.accepted_by_id, request.pledge_id = (
        HelpRequestStatus.ACCEPTED.value,
        viewer.account_id,
        pledge.id,
    )
    await session.flush()
    asked = set(
        (await session.execute(select(HelpAsk.donor_id).where(HelpAsk.help_request_id == request.id))).scalars()
    )
    await emit(
        session=session, kind=EventKind.HELP_ACCEPTED, need=need, pledge_id=pledge.id, help_request_id=request.id,
        audience={need.owner_id, *asked},
    )  # fmt: skip
    await session.refresh(request)
    return request, pledge


async def escalate_due(
    *, sessions: async_sessionmaker[AsyncSession], timeout: timedelta, max_reach_m: float = 0.0
) -> int:
    """Move every request whose round timed out to the next donors (or mark it exhausted)."""
    async with sessions() as session, session.begin():
        due = (
            await session.execute(
                select(HelpRequest)
                .where(
                    HelpRequest.status == HelpRequestStatus.OPEN.value,
                    HelpRequest.round_started_at <= utcnow() - timeout,
                )
                .limit(100)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        count = 0
        for request in due:
            need = await session.get(Need, request.need_id)
            assert need is not None
            count += 1
            if need.status not in OPEN_STATUSES:
                request.status = HelpRequestStatus.CANCELLED.value
                continue
            if await _ask_next_round(session=session, request=request, need=need, max_reach_m=max_reach_m):
                await emit(
                    session=session,
                    kind=EventKind.HELP_ESCALATED,
                    need=need,
                    help_request_id=request.id,
                    audience={need.owner_id},
                )
            else:
                await _exhaust(session=session, request=request, need=need)
        return count


def _asked_now(donor_id: int) -> tuple[ColumnElement[bool], ...]:
    """A donor is asked now: an ask of theirs in the request's current round, the request open and its
    need open (a query joining HelpAsk, HelpRequest and Need)."""
    return (
        HelpAsk.donor_id == donor_id,
        HelpAsk.round == HelpRequest.round,
        HelpRequest.status == HelpRequestStatus.OPEN.value,
        text(status_in(OPEN_STATUSES, column="needs.status")),
    )


async def readable_many(
    *, session: AsyncSession, viewer: Viewer | None, request_ids: list[int]
) -> dict[int, HelpRequest]:
    """The instant-help requests among these ids the viewer may see, by id, in one statement: those on a
    need the viewer asked for or filed, the one the viewer accepted, and those the viewer is asked now
    (`_asked_now`, as `asked_of`: a donor asked once must not follow a need later reported, rejected
    or closed)."""
    if viewer is None or not request_ids:
        return {}
    me = viewer.account_id
    asked = select(HelpAsk.help_request_id).where(HelpAsk.help_request_id == HelpRequest.id, *_asked_now(me))
    query = (
        select(HelpRequest)
        .join(Need, Need.id == HelpRequest.need_id)
        .where(
            HelpRequest.id.in_(request_ids),
            (Need.owner_id == me) | (Need.filed_by_id == me) | (HelpRequest.accepted_by_id == me) | asked.exists(),
        )
    )
    return {request.id: request for request in (await session.execute(query)).scalars()}


async def asked_of(*, session: AsyncSession, viewer: Viewer, limit: int = 50) -> list[HelpRequest]:
    """The instant-help requests the viewer was asked in their current round that nobody answered yet,
    newest first: what a donor's page shows with "Accept" (after a reload too)."""
    query = (
        select(HelpRequest)
        .join(HelpAsk, HelpAsk.help_request_id == HelpRequest.id)
        .join(Need, Need.id == HelpRequest.need_id)
        .where(*_asked_now(viewer.account_id))
        .order_by(HelpRequest.round_started_at.desc(), HelpRequest.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def get(*, session: AsyncSession, help_request_id: int) -> HelpRequest | None:
    return await session.get(HelpRequest, help_request_id)
