"""Matching rounds (optional: AIDMAP_MATCHING_ROUND_MINUTES, 0 = off): aidmap/resolvers/proposals.py."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.fairness.areas import settings_area
from aidmap.fairness.reach import settings_reach
from aidmap.jobs.periodic import PeriodicJob
from aidmap.resolvers.proposals import run_round
from aidmap.settings import Settings

log = logging.getLogger(__name__)


def matching_job(*, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> PeriodicJob | None:
    if settings.matching_round_minutes <= 0:
        return None
    reach = settings_reach(settings) if settings.waiting_reach_km_per_hour > 0 else None
    # This process's place in the round-robin over offers (run_round); a restart begins again at the oldest.
    cursor = 0

    async def step() -> None:
        nonlocal cursor
        report = await run_round(
            sessions=sessions,
            fairness_weight=settings.matching_fairness_weight,
            reach=reach,
            proposal_ttl=timedelta(hours=settings.matching_proposal_hours),
            max_offers=settings.matching_max_offers,
            after_offer_id=cursor,
            area=settings_area(settings),
            area_days=settings.fairness_area_days,
        )
        if report is not None:
            cursor = report.last_offer_id
            log.info(
                "matching round: %d offers, %d needs, %d proposals, solved in %.3fs",
                report.offers, report.needs, report.proposals, report.solve_seconds,
            )  # fmt: skip

    return PeriodicJob(name="aidmap-matching", step=step, interval_s=settings.matching_round_minutes * 60.0)
