"""One listener per process: LISTEN for new events, read them in sequence order, hand them to the fan-out.

NOTIFY only says "look"; the outbox is the truth. The listener reads every event after
the last sequence it handled, so a missed notification, a dropped connection or a
database restart costs latency, never an event: after a reconnect it catches up from
where it was, and polls every `poll_interval` seconds in case a NOTIFY went missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg_pool import PoolTimeout

from aidmap.db.reader import Reader, conninfo_from_url
from aidmap.events.fanout import FanOut
from aidmap.events.outbox import CHANNEL
from aidmap.events.store import events_after

log = logging.getLogger(__name__)


class Listener:
    def __init__(self, *, url: str, reader: Reader, fanout: FanOut, poll_interval: float = 1.0) -> None:
        self._conninfo = conninfo_from_url(url)
        self._reader = reader
        self._fanout = fanout
        self._poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._wakes: list[asyncio.Event] = []

    def wake_on_events(self) -> asyncio.Event:
        """An event set whenever new outbox events were read (for a job to start on them, not poll)."""
        wake = asyncio.Event()
        self._wakes.append(wake)
        return wake

    async def start(self) -> None:
        """Stream events after the fan-out's last_seq (set by the caller: older ones are replayed on demand)."""
        self._task = asyncio.create_task(self._run(), name="aidmap-event-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def catch_up(self) -> None:
        """Publish every committed event after the last one handled, in order."""
        while True:
            batch = await events_after(self._reader, self._fanout.last_seq)
            for event in batch:
                self._fanout.publish(event)
            if batch:
                for wake in self._wakes:
                    wake.set()
            if len(batch) < 1000:
                return

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    backoff = 0.1
                    await self.catch_up()
                    while True:
                        # Wake on a notification, or after poll_interval anyway (the fallback).
                        async for _ in conn.notifies(timeout=self._poll_interval, stop_after=1):
                            pass
                        await self.catch_up()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, PoolTimeout) as error:
                self.connected.clear()
                self.reconnects += 1
                log.warning("event listener lost the database (%s); reconnecting in %.1fs", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                self.connected.clear()
                log.exception("event listener failed; restarting")
                await asyncio.sleep(1.0)
