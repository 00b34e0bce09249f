"""Moves instant-help requests on to the next donors when nobody accepted in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.resolvers.help import escalate_due

log = logging.getLogger(__name__)


class HelpCascadeJob:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], timeout_s: float) -> None:
        self._sessions = sessions
        self._timeout = timedelta(seconds=timeout_s)
        # Check a few times per timeout, so a round lasts about the timeout, not up to twice it.
        self._interval = max(0.05, min(1.0, timeout_s / 4))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="aidmap-help-cascade")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await escalate_due(sessions=self._sessions, timeout=self._timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("help cascade run failed; trying again")
            await asyncio.sleep(self._interval)
