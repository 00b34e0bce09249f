"""Moves instant-help requests on to the next donors when nobody accepted in time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.jobs.periodic import PeriodicJob
from aidmap.resolvers.help import escalate_due


def help_cascade_job(
    *, sessions: async_sessionmaker[AsyncSession], timeout_s: float, max_reach_m: float = 0.0
) -> PeriodicJob:
    timeout = timedelta(seconds=timeout_s)
    # Check a few times per timeout, so a round lasts about the timeout, not up to twice it.
    interval = max(0.05, min(1.0, timeout_s / 4))
    return PeriodicJob(
        name="aidmap-help-cascade",
        step=lambda: escalate_due(sessions=sessions, timeout=timeout, max_reach_m=max_reach_m),
        interval_s=interval,
    )
