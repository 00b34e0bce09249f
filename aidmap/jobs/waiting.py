"""Waiting needs reach further: announce each step of a waiting need's reach (aidmap/fairness/reach.py).

Every interval, open needs with nothing pledged that have waited past AIDMAP_WAITING_AFTER_HOURS
get their reach recomputed; when it has grown by a step, `needs.waiting_reach_m` is updated and a
NEED_WAITING event goes out: `needsNearby` circles it has just grown over get it (`kind: WAITING`),
the live match index starts proposing it to offers farther away (suggestions), and instant help asks
donors that far. Safe in every process at once: rows are claimed with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.events.outbox import emit
from aidmap.fairness.reach import extra_km
from aidmap.jobs.periodic import PeriodicJob
from aidmap.models import EventKind, Need, NeedStatus
from aidmap.resolvers.validation import utcnow

BATCH = 500


def announced_reach_m(created_at: datetime, now: datetime, reach: dict[str, float]) -> float:
    """The waiting reach (metres beyond a donor's radius) a need with nothing pledged has earned."""
    extra = extra_km((now - created_at).total_seconds(), False, after_seconds=reach["after_seconds"],
                     km_per_hour=reach["km_per_hour"], step_km=reach.get("step_km", 0.0))  # fmt: skip
    return min(extra, reach["max_km"]) * 1000.0


def _earned_sql(now: datetime, reach: dict[str, float]) -> ColumnElement[float]:
    """announced_reach_m in SQL (within float noise; the Python one is the rule)."""
    extra = (
        reach["km_per_hour"] * (func.extract("epoch", literal(now) - Need.created_at) - reach["after_seconds"]) / 3600.0
    )
    step = reach.get("step_km", 0.0)
    if step > 0:
        extra = func.floor(extra / step + 1e-9) * step
    return func.least(extra, reach["max_km"]) * 1000.0


async def announce_waiting(
    *, sessions: async_sessionmaker[AsyncSession], reach: dict[str, float], now: datetime | None = None
) -> int:
    """Grow the reach of waiting needs by whole steps; returns how many grew (a NEED_WAITING event each)."""
    if reach["km_per_hour"] <= 0 or reach["max_km"] <= 0:
        return 0
    now = now or utcnow()
    async with sessions() as session, session.begin():
        due = (
            await session.execute(
                select(Need)
                .where(
                    Need.status == NeedStatus.OPEN.value,
                    Need.quantity_pledged == 0,
                    Need.created_at <= now - timedelta(seconds=reach["after_seconds"]),
                    Need.waiting_reach_m < reach["max_km"] * 1000.0,
                    # Only needs whose reach has grown by a step since it was last announced (the Python
                    # below decides; this keeps the batch from filling with needs that have not grown).
                    _earned_sql(now, reach) > Need.waiting_reach_m,
                )
                .order_by(Need.created_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        grown = 0
        for need in due:
            earned = announced_reach_m(need.created_at, now, reach)
            if earned <= need.waiting_reach_m:
                continue
            before = need.waiting_reach_m
            need.waiting_reach_m = earned
            await session.flush()
            await emit(session=session, kind=EventKind.NEED_WAITING, need=need, reach_from_m=before or None)
            grown += 1
        return grown


def waiting_job(
    *, sessions: async_sessionmaker[AsyncSession], reach: dict[str, float], interval_s: float
) -> PeriodicJob:
    return PeriodicJob(
        name="aidmap-waiting", step=lambda: announce_waiting(sessions=sessions, reach=reach), interval_s=interval_s
    )
