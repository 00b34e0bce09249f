"""One event, every `needsNearby` subscriber of the process, in one pass: the live batch.

Before, each matching subscriber's task was woken for each event, ran its stream, built its own
need view and executor and sent through Starlette's websocket: ~0.4 ms of CPU per delivery, most
of it per-task overhead, about 0.9 s for one event at 10,000 subscribers. Here the fan-out hands
the event and its matching lean-path subscriptions (schema/fast/live_socket.py) to one task, which
reads the need once, then for each subscriber decides what they may see (the projection,
models/projection.py), encodes one message per visibility class (event, document, variables,
visible, is-mine) and writes each subscriber's copy (their operation id and distance filled in)
straight to their socket (schema/fast/ws_frames.py).

The privacy rule: only subscribers whose projection carries no private field are served here.
Anyone who may see the exact point or phone (the requester, whoever filed it, verifiers, active
donors, the partner app it came through) gets the event pushed to their own stream, executed for
them alone and their read logged, exactly as before. So a frame made here holds only what every
viewer of its class sees, and a class never mixes viewers who would be shown different things.

Order and "nothing lost": events are taken one at a time, in the order published. A subscriber is
written to only when its own stream is idle (waiting, nothing queued: everything earlier has been
sent); otherwise, and whenever anything here cannot serve it (a private projection, an error, a
socket paused by flow control), the event is pushed to its queue like any other, and its stream
sends it, in order, with the usual slow-subscriber limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql.execution import execute_subscription_event
from graphql.pyutils import is_awaitable

from aidmap import models
from aidmap.events.fanout import LiveEvent, Subscription
from aidmap.events.snapshots import NeedSnapshot, Snapshots
from aidmap.schema.fast.sharing import MessageTemplate, SelectionPlan, SharedResults
from aidmap.schema.types import public_distance

if TYPE_CHECKING:
    from collections.abc import Callable

    from aidmap.schema.context import Context
    from aidmap.schema.inputs import GeoPointInput

log = logging.getLogger(__name__)


@dataclass(eq=False)
class DirectDelivery:
    """What the batch needs to send one lean `needsNearby` operation its events without its task."""

    ctx: Context
    near: GeoPointInput
    executor: Any  # the operation's execution context; each event's is built from it, as in live_socket
    operation: Any  # strawberry's Operation (completed: send nothing more)
    operation_id: bytes  # its id, as JSON
    send_text: Callable[[bytes], bool]  # schema/fast/ws_frames.py
    cache: SharedResults
    plan: SelectionPlan
    fixed: tuple[Any, ...]  # the share key's part fixed for the operation (document, variables used)


class LiveBatches:
    """The fan-out's batch sink (FanOut.batch): one task delivering events in the order published."""

    def __init__(self, snapshots: Snapshots) -> None:
        self._snapshots = snapshots
        self._pending: deque[tuple[LiveEvent, list[Subscription], asyncio.Future[NeedSnapshot | None]]] = deque()
        self._task: asyncio.Task[None] | None = None
        self.direct_sends = 0  # messages written here (for tests and bench/fanout.py)
        self.pushed = 0  # events handed back to a subscriber's own stream

    def submit(self, event: LiveEvent, subs: list[Subscription]) -> None:
        assert event.need_id is not None  # only needsNearby operations are direct
        # The need is read while earlier events are still being written.
        snapshot = asyncio.ensure_future(self._snapshots.need(event.seq, event.need_id))
        self._pending.append((event, subs, snapshot))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="aidmap-live-batch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while self._pending:
            event, subs, snapshot = self._pending[0]
            await self._deliver(event, subs, snapshot)
            self._pending.popleft()

    def _push(self, sub: Subscription, event: LiveEvent) -> None:
        if not sub.closed:
            self.pushed += 1
            sub.push(event)

    async def _deliver(
        self, event: LiveEvent, subs: list[Subscription], loading: asyncio.Future[NeedSnapshot | None]
    ) -> None:
        try:
            snapshot = await loading
        except Exception:
            log.warning("live batch: could not read need %s; each subscriber reads it itself", event.need_id)
            for sub in subs:
                self._push(sub, event)
            return
        for sub in subs:
            if not sub.idle:
                self._push(sub, event)
                continue
            try:
                sent = await self._send(sub, event, snapshot)
            except Exception:
                log.exception("live batch: event %d goes the ordinary way", event.seq)
                sent = False
            if not sent:
                self._push(sub, event)

    async def _send(self, sub: Subscription, event: LiveEvent, snapshot: NeedSnapshot | None) -> bool:
        """True when the subscriber got the event here, or there was nothing to send them."""
        if snapshot is None:
            return True  # the need is gone: the stream would skip it too
        direct: DirectDelivery = sub.direct
        if direct.operation.completed:
            return False
        who = direct.ctx.principal
        projection = snapshot.project(who)
        if not projection.visible and event.kind is not models.EventKind.NEED_HIDDEN:
            return True  # hidden from them: the stream sends nothing either (need_event_for)
        if projection.private:
            return False  # their own execution, their read logged: never a shared frame
        row = snapshot.row
        key = (event.seq, projection.visible, who.account_id == row.owner_id, *direct.fixed)
        frames = direct.cache.frames
        if key in frames:
            template = frames[key]
        else:
            template = frames[key] = await self._template(direct, event, snapshot)
        if template is None or not sub.idle:
            return False
        distance = public_distance(direct.near.lon, direct.near.lat, row.cell_lon, row.cell_lat)
        if not direct.send_text(template.fill(direct.operation_id, orjson.dumps(distance))):
            return False
        self.direct_sends += 1
        return True

    @staticmethod
    async def _template(direct: DirectDelivery, event: LiveEvent, snapshot: NeedSnapshot) -> MessageTemplate | None:
        """The class's message, from the same stream item and executor the operation's own path would use."""
        from aidmap.schema.subscription import need_event_for

        payload = need_event_for(direct.ctx, direct.near, event, snapshot)
        if payload is None:
            return None
        result = execute_subscription_event(direct.executor.build_per_event_executor(payload))
        if is_awaitable(result):
            result = await result
        if result.errors:
            return None
        return MessageTemplate.of(direct.plan, result.data)
