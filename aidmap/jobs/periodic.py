"""Background work: a task that runs one step every interval until stopped (a failed step is logged
and retried next time), and the same with one task per lane for delivery queues."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)

# The shortest time between two steps of a job woken by events.
WAKE_GAP_S = 0.25


class PeriodicJob:
    def __init__(
        self,
        *,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval_s: float,
        on_error: Callable[[Exception], object] | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        """`on_error`, when given, is told of a failed step (inside the except block, so it may log
        the traceback) instead of the log lines below. `wake`, when given, runs the step as soon as it
        is set (new events: the listener sets it), at most every WAKE_GAP_S; `interval_s` is then only
        the fallback for work that comes due by the clock (retries, the end of quiet hours)."""
        self._name = name
        self._step = step
        self._interval = interval_s
        self._on_error = on_error
        self._wake = wake
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _pause(self) -> None:
        if self._wake is None:
            await asyncio.sleep(self._interval)
            return
        # A burst of events wakes the step a few times a second, not once per event.
        gap = min(WAKE_GAP_S, self._interval)
        await asyncio.sleep(gap)
        # asyncio.timeout, not wait_for: on 3.11 wait_for returns the inner result when a cancel
        # arrives just as the wake is set, the cancel is lost, and stop() waits for ever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(self._interval - gap, 0.0)):
                await self._wake.wait()
        self._wake.clear()  # before the step: what is set while it runs wakes the next one

    async def _run(self) -> None:
        while True:
            # Wait first: a process that just started has nothing urgent, and its clients get the first word.
            await self._pause()
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._on_error is not None:
                    self._on_error(error)
                    continue
                from aidmap.schema import database_unavailable  # noqa: PLC0415 (jobs load before the schema)

                if database_unavailable(error):
                    # An outage, not a bug: one line, not a traceback every interval until it is back.
                    log.warning("%s: database unavailable; trying again in %.1fs", self._name, self._interval)
                else:
                    log.exception("%s failed; trying again in %.1fs", self._name, self._interval)


class LaneJob(PeriodicJob):
    """A periodic job that delivers queues ("lanes": a webhook endpoint, a person's notifications)
    each in a task of its own: every tick prepares (queues new work), claims the lanes that are due
    and not already running here, and starts one task per lane, so a slow lane holds only its own
    task while the next ticks go on serving the others. Stopping cancels the lanes' tasks too."""

    def __init__(
        self,
        *,
        name: str,
        lane_name: Callable[[Any], str],
        prepare: Callable[[], Awaitable[object]],
        claim: Callable[[set[Any]], Awaitable[Iterable[Any]]],
        deliver: Callable[[Any], Coroutine[Any, Any, object]],
        failed: str,
        interval_s: float,
        on_stop: Callable[[], Awaitable[object]] | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        super().__init__(name=name, step=self._tick, interval_s=interval_s, wake=wake)
        self._lane_name, self._prepare, self._claim, self._deliver = lane_name, prepare, claim, deliver
        self._failed, self._on_stop = failed, on_stop
        self._running: dict[Any, asyncio.Task[object]] = {}

    async def _tick(self) -> None:
        await self._prepare()
        for lane in await self._claim(set(self._running)):
            task = asyncio.create_task(self._deliver(lane), name=self._lane_name(lane))
            self._running[lane] = task
            task.add_done_callback(functools.partial(self._finished, lane))

    def _finished(self, lane: Any, task: asyncio.Task[object]) -> None:
        self._running.pop(lane, None)
        if not task.cancelled() and task.exception() is not None:
            log.error(self._failed, lane, exc_info=task.exception())

    async def stop(self) -> None:
        await super().stop()
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        if self._on_stop is not None:
            await self._on_stop()
