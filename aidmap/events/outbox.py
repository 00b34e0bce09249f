"""The one place that writes events: a row in the same transaction as the change, then NOTIFY.

A transaction-level advisory lock is taken before the sequence number is drawn and held
until commit, so events commit in sequence order: a listener that has seen seq N can
never later find a committed N-1 (with plain bigserial, concurrent transactions can
commit out of order and a reader would skip the late one).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.models import Event, EventKind, Need, Offer

CHANNEL = "aidmap_events"
_OUTBOX_LOCK = 0x41494430  # "AID0": any constant shared by all writers


async def emit(
    *,
    session: AsyncSession,
    kind: EventKind,
    need: Need | None = None,
    offer: Offer | None = None,
    pledge_id: int | None = None,
    message_id: int | None = None,
    help_request_id: int | None = None,
    proposal_id: int | None = None,
    reach_from_m: float | None = None,
    audience: Iterable[int] = (),
) -> int:
    """Write one event for a change made in this session's transaction; returns its sequence number."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _OUTBOX_LOCK})
    subject = need if need is not None else offer
    # Events carry the public cell, never the exact point: the fan-out, the live match index and
    # webhook circles decide on it, so who receives an event depends on the cell alone.
    location = reach = None
    if need is not None:
        location = select(Need.cell).where(Need.id == need.id).scalar_subquery()
        reach = select(func.nullif(Need.waiting_reach_m, 0.0)).where(Need.id == need.id).scalar_subquery()
    elif offer is not None:
        location = select(Offer.cell).where(Offer.id == offer.id).scalar_subquery()
    seq: int = (
        await session.execute(
            insert(Event)
            .values(
                kind=kind.value,
                need_id=need.id if need is not None else None,
                offer_id=offer.id if offer is not None else None,
                pledge_id=pledge_id,
                message_id=message_id,
                help_request_id=help_request_id,
                category=subject.category if subject is not None else None,
                status=subject.status if subject is not None else None,
                location=location,
                # A need's event carries its waiting reach (aidmap/fairness/reach.py): the circles it
                # reaches, beyond their own radius, hear of it too (events/fanout.py, AreaFilter).
                radius_meters=reach if need is not None else offer.radius_meters if offer is not None else None,
                reach_from_meters=reach_from_m,
                proposal_id=proposal_id,
                audience=sorted(set(audience)),
            )
            .returning(Event.seq)
        )
    ).scalar_one()
    # Delivered to listeners only if and when the transaction commits.
    await session.execute(text("SELECT pg_notify(:channel, :seq)"), {"channel": CHANNEL, "seq": str(seq)})
    return seq
