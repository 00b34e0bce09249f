"""In-process fan-out: each event goes to the subscribers it concerns, through bounded queues.

Area subscriptions (needs or offers near a point) sit in an R-tree of their circles'
boxes: an event's point (its public cell) finds the few candidate circles, then the distance
decides. Activity subscriptions are found by account id.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aidmap.fairness.reach import capped
from aidmap.geo.distance import haversine_m
from aidmap.geo.index import BoxIndex, circle_box
from aidmap.models import EventKind

DEFAULT_QUEUE_LIMIT = 256

NEED_KINDS = frozenset(
    {
        EventKind.NEED_CREATED, EventKind.NEED_UPDATED, EventKind.NEED_CANCELLED, EventKind.NEED_EXPIRED,
        EventKind.NEED_RENEWED, EventKind.NEED_VERIFIED, EventKind.NEED_REJECTED, EventKind.NEED_HIDDEN,
        EventKind.PLEDGE_CREATED, EventKind.PLEDGE_CANCELLED, EventKind.PLEDGE_DELIVERED, EventKind.NEED_WAITING,
    }
)  # fmt: skip
OFFER_KINDS = frozenset({EventKind.OFFER_CREATED, EventKind.OFFER_UPDATED, EventKind.OFFER_WITHDRAWN})


class Topic(StrEnum):
    NEEDS = "needs"
    OFFERS = "offers"


@dataclass(frozen=True)
class LiveEvent:
    seq: int
    kind: EventKind
    need_id: int | None
    offer_id: int | None
    pledge_id: int | None
    message_id: int | None
    category: str | None
    status: str | None
    lon: float | None
    lat: float | None
    audience: tuple[int, ...]
    # An offer's radius; for a need, how much farther than a circle's radius it reaches (its waiting
    # reach), and for NEED_WAITING what it reached before (reach_from_m).
    radius_m: float | None = None
    help_request_id: int | None = None
    reach_from_m: float | None = None
    proposal_id: int | None = None

    def topic(self) -> Topic | None:
        if self.lon is None or self.lat is None:
            return None
        if self.need_id is not None and self.kind in NEED_KINDS:
            return Topic.NEEDS
        if self.offer_id is not None and self.kind in OFFER_KINDS:
            return Topic.OFFERS
        return None


class SlowSubscriber(Exception):
    """The subscriber's queue overflowed: it must reconnect with its last cursor."""


@dataclass(eq=False)
class Subscription:
    ident: int
    limit: int
    queue: deque[LiveEvent] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    # Set by a consumer that can be sent an event without being woken (schema/fast/live_batch.py): such
    # subscriptions go to the fan-out's batch sink, which writes to them or pushes, in event order.
    direct: Any = None
    # True while the consumer waits in next() with nothing queued: everything before was handled.
    waiting: bool = False
    closed: bool = False

    @property
    def idle(self) -> bool:
        """Nothing queued or in hand: an event written to it now comes after all earlier ones."""
        return self.waiting and not self.queue and not self.overflowed and not self.closed

    def push(self, event: LiveEvent) -> None:
        if len(self.queue) >= self.limit:
            # Never grow without bound: drop the subscriber, who can resume from its cursor.
            self.overflowed = True
        else:
            self.queue.append(event)
        self.ready.set()

    async def next(self) -> LiveEvent:
        while not self.queue:
            if self.overflowed:
                raise SlowSubscriber
            self.ready.clear()
            self.waiting = True
            try:
                await self.ready.wait()
            finally:
                self.waiting = False
        if self.overflowed:
            raise SlowSubscriber
        return self.queue.popleft()


@dataclass(frozen=True)
class AreaFilter:
    lon: float
    lat: float
    radius_m: float
    categories: frozenset[str]
    # The cap of a waiting need's reach (AIDMAP_WAITING_REACH_MAX_KM, in metres; 0: needs reach no
    # farther than the circle).
    max_reach_m: float = 0.0

    def reach(self, extra_m: float | None) -> float:
        """How far from the centre a need with this waiting reach is seen (aidmap/fairness/reach.py)."""
        return capped(self.radius_m, extra_m or 0.0, max_km=self.max_reach_m)

    def matches(self, event: LiveEvent) -> bool:
        if self.categories and event.category not in self.categories:
            return False
        assert event.lon is not None and event.lat is not None
        distance = haversine_m(self.lon, self.lat, event.lon, event.lat)
        if event.offer_id is not None or event.need_id is None:
            return distance <= self.radius_m
        # Cell to cell, and the reach follows public facts (age, nothing pledged): who receives the
        # event depends on the need's public record alone.
        if event.kind is EventKind.NEED_WAITING:
            # Only the circles its reach has just grown over (the others have seen it already).
            return self.reach(event.reach_from_m) < distance <= self.reach(event.radius_m)
        return distance <= self.reach(event.radius_m)


class FanOut:
    def __init__(self, *, queue_limit: int = DEFAULT_QUEUE_LIMIT) -> None:
        self.queue_limit = queue_limit
        self.last_seq = 0
        self._ids = itertools.count(1)
        self._areas: dict[Topic, BoxIndex] = {topic: BoxIndex() for topic in Topic}
        self._area_subs: dict[int, tuple[Topic, AreaFilter, Subscription]] = {}
        self._activity: dict[int, set[Subscription]] = {}
        self._activity_owner: dict[int, int] = {}
        # In-process state kept current by the stream (the live match index), called before subscribers.
        self.sinks: list[Callable[[LiveEvent], None]] = []
        # Takes each event with its matching subscriptions that have `direct` set (schema/fast/live_batch.py);
        # without one, they are pushed like the others.
        self.batch: Callable[[LiveEvent, list[Subscription]], None] | None = None

    def open_subscriptions(self) -> int:
        return len(self._area_subs) + len(self._activity_owner)

    def subscribe_area(self, topic: Topic, area: AreaFilter, *, direct: Any = None) -> Subscription:
        sub = Subscription(ident=next(self._ids), limit=self.queue_limit, direct=direct)
        self._area_subs[sub.ident] = (topic, area, sub)
        self._areas[topic].insert(sub.ident, circle_box(area.lon, area.lat, area.radius_m))
        return sub

    def subscribe_activity(self, account_id: int) -> Subscription:
        sub = Subscription(ident=next(self._ids), limit=self.queue_limit)
        self._activity.setdefault(account_id, set()).add(sub)
        self._activity_owner[sub.ident] = account_id
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        area = self._area_subs.pop(sub.ident, None)
        if area is not None:
            self._areas[area[0]].delete(sub.ident)
        account_id = self._activity_owner.pop(sub.ident, None)
        if account_id is not None:
            subs = self._activity.get(account_id, set())
            subs.discard(sub)
            if not subs:
                self._activity.pop(account_id, None)

    @property
    def subscriber_count(self) -> int:
        return len(self._area_subs) + len(self._activity_owner)

    def publish(self, event: LiveEvent) -> None:
        """Hand an event to every subscriber it concerns (events arrive in sequence order)."""
        self.last_seq = max(self.last_seq, event.seq)
        for sink in self.sinks:
            sink(event)
        topic = event.topic()
        if topic is not None:
            assert event.lon is not None and event.lat is not None
            batch = []
            extra = event.radius_m if topic is Topic.NEEDS else None
            # A waiting need reaches circles whose box is up to `extra` away.
            found = (
                self._areas[topic].within(circle_box(event.lon, event.lat, extra))
                if extra
                else self._areas[topic].containing(event.lon, event.lat)
            )
            for ident in found:
                _, area, sub = self._area_subs[ident]
                if area.matches(event):
                    if sub.direct is not None and self.batch is not None:
                        batch.append(sub)
                    else:
                        sub.push(event)
            if batch:
                self.batch(event, batch)  # type: ignore[misc]
        for account_id in event.audience:
            for sub in self._activity.get(account_id, ()):
                sub.push(event)
