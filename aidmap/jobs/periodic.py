"""A task that runs one step every interval until stopped; a failed step is logged and retried next time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PeriodicJob:
    def __init__(self, *, name: str, step: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self._name = name
        self._step = step
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            # Wait first: a process that just started has nothing urgent, and its clients get the first word.
            await asyncio.sleep(self._interval)
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                from aidmap.schema import database_unavailable  # noqa: PLC0415 (jobs load before the schema)

                if database_unavailable(error):
                    # An outage, not a bug: one line, not a traceback every interval until it is back.
                    log.warning("%s: database unavailable; trying again in %.1fs", self._name, self._interval)
                else:
                    log.exception("%s failed; trying again in %.1fs", self._name, self._interval)
