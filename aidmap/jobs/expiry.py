"""Needs past their expiry become EXPIRED; a day before, the requester is asked "still need help?".

Safe to run in every process at once: rows are claimed with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.db.sql import status_in
from aidmap.events.outbox import emit
from aidmap.jobs.periodic import PeriodicJob
from aidmap.models import EventKind, Need, NeedClaimCode, NeedStatus, SignInBackoff
from aidmap.models.need import OPEN_STATUSES
from aidmap.resolvers import idempotency
from aidmap.resolvers.needs import following_donors
from aidmap.resolvers.validation import utcnow

PROMPT_BEFORE = timedelta(hours=24)
BATCH = 200
_OPEN = text(status_in(OPEN_STATUSES, column="needs.status"))


async def expire_due(*, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Expire open needs whose time has passed; returns how many. A fully pledged need waits for delivery."""
    async with sessions() as session, session.begin():
        due = (
            await session.execute(
                select(Need)
                .where(_OPEN, Need.expires_at <= utcnow())
                .order_by(Need.expires_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        count = 0
        for need in due:
            donors = await following_donors(session=session, need_id=need.id)
            need.status, need.updated_at = NeedStatus.EXPIRED.value, utcnow()
            await session.flush()
            await emit(session=session, kind=EventKind.NEED_EXPIRED, need=need, audience={need.owner_id, *donors})
            count += 1
        return count


async def prompt_expiring(*, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Ask requesters whose open needs expire within a day whether they still need help."""
    async with sessions() as session, session.begin():
        now = utcnow()
        soon = (
            await session.execute(
                select(Need)
                .where(
                    _OPEN,
                    Need.expires_at > now,
                    Need.expires_at <= now + PROMPT_BEFORE,
                    Need.expiry_prompted_at.is_(None),
                )
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        count = 0
        for need in soon:
            need.expiry_prompted_at = now
            await session.flush()
            await emit(session=session, kind=EventKind.NEED_EXPIRING, need=need, audience={need.owner_id})
            count += 1
        return count


async def run_expiry(*, sessions: async_sessionmaker[AsyncSession]) -> None:
    """One pass of the expiry job: expire what is due, then ask about what is due soon."""
    while await expire_due(sessions=sessions) == BATCH:
        pass
    while await prompt_expiring(sessions=sessions) == BATCH:
        pass
    # Idempotency keys are kept 48 hours (at least the 24 clients are promised).
    async with sessions() as session, session.begin():
        await idempotency.forget_old(session=session)
        # Sign-in back-off quiet for a day (forgotten long since, no lock left), and claim codes past their expiry.
        await session.execute(
            delete(SignInBackoff).where(
                SignInBackoff.last_failure_at < func.now() - timedelta(days=1),
                or_(SignInBackoff.locked_until.is_(None), SignInBackoff.locked_until < func.now()),
            )
        )
        await session.execute(delete(NeedClaimCode).where(NeedClaimCode.expires_at < func.now()))


def expiry_job(*, sessions: async_sessionmaker[AsyncSession], interval_s: float) -> PeriodicJob:
    return PeriodicJob(name="aidmap-expiry", step=lambda: run_expiry(sessions=sessions), interval_s=interval_s)
