"""The fan-out routes each event to the subscribers it concerns, and drops slow ones instead of growing."""

from __future__ import annotations

import asyncio

import pytest

from aidmap.events.fanout import AreaFilter, FanOut, LiveEvent, SlowSubscriber, Subscription, Topic
from aidmap.models import EventKind

HANOI = (105.8542, 21.0285)


def _event(seq: int, kind: EventKind = EventKind.NEED_CREATED, *, lon: float = HANOI[0], lat: float = HANOI[1],
           category: str = "FOOD", audience: tuple[int, ...] = ()) -> LiveEvent:  # fmt: skip
    is_offer = kind.name.startswith("OFFER")
    return LiveEvent(
        seq=seq, kind=kind, need_id=None if is_offer else seq, offer_id=seq if is_offer else None, pledge_id=None,
        message_id=None, category=category, status="OPEN", lon=lon, lat=lat, audience=audience,
    )  # fmt: skip


def test_area_subscribers_get_events_in_their_circle_and_categories() -> None:
    fanout = FanOut()
    food = fanout.subscribe_area(Topic.NEEDS, AreaFilter(*HANOI, radius_m=1000, categories=frozenset({"FOOD"})))
    anything = fanout.subscribe_area(Topic.NEEDS, AreaFilter(*HANOI, radius_m=1000, categories=frozenset()))
    offers = fanout.subscribe_area(Topic.OFFERS, AreaFilter(*HANOI, radius_m=1000, categories=frozenset()))

    fanout.publish(_event(1))
    fanout.publish(_event(2, category="MEDICINE"))
    fanout.publish(_event(3, lat=HANOI[1] + 0.0095))  # ~1.06 km north: inside the box, outside the circle
    fanout.publish(_event(4, EventKind.OFFER_CREATED))
    fanout.publish(_event(5, EventKind.MESSAGE_SENT))  # private: never routed by place

    assert [e.seq for e in food.queue] == [1]
    assert [e.seq for e in anything.queue] == [1, 2]
    assert [e.seq for e in offers.queue] == [4]
    assert fanout.last_seq == 5


def test_activity_goes_to_the_audience_only_and_unsubscribe_stops_it() -> None:
    fanout = FanOut()
    alice, bob = fanout.subscribe_activity(1), fanout.subscribe_activity(2)
    fanout.publish(_event(1, EventKind.PLEDGE_CREATED, audience=(1,)))
    fanout.unsubscribe(alice)
    fanout.publish(_event(2, EventKind.MESSAGE_SENT, audience=(1, 2)))
    assert [e.seq for e in alice.queue] == [1]
    assert [e.seq for e in bob.queue] == [2]
    assert fanout.subscriber_count == 1


def test_a_subscriber_that_falls_behind_is_dropped_not_buffered_forever() -> None:
    fanout = FanOut(queue_limit=3)
    sub = fanout.subscribe_activity(1)
    for seq in range(1, 10):
        fanout.publish(_event(seq, EventKind.PLEDGE_CREATED, audience=(1,)))

    assert len(sub.queue) == 3
    with pytest.raises(SlowSubscriber):
        asyncio.run(sub.next())


def test_next_waits_for_the_next_event() -> None:
    async def scenario() -> int:
        fanout = FanOut()
        sub = fanout.subscribe_activity(7)
        waiter = asyncio.create_task(sub.next())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        fanout.publish(_event(42, EventKind.PLEDGE_CREATED, audience=(7,)))
        return (await waiter).seq

    assert asyncio.run(scenario()) == 42


def test_a_waiting_need_reaches_circles_beyond_their_radius_and_waiting_goes_to_the_newly_reached() -> None:
    fanout = FanOut()
    km = 1 / 111.2  # a km of latitude

    def circle(north_km: float, max_reach_m: float = 25_000) -> Subscription:
        area = AreaFilter(
            HANOI[0], HANOI[1] + north_km * km, radius_m=3000, categories=frozenset(), max_reach_m=max_reach_m
        )
        return fanout.subscribe_area(Topic.NEEDS, area)

    near, ring, reached_later, beyond, off = circle(1), circle(5), circle(7.5), circle(12), circle(5, max_reach_m=0)
    base = _event(1)
    waiting = [
        LiveEvent(**{**vars(base), "seq": 2, "kind": EventKind.NEED_WAITING, "radius_m": 3000.0}),
        LiveEvent(**{**vars(base), "seq": 3, "kind": EventKind.NEED_WAITING, "radius_m": 5000.0, "reach_from_m": 3000.0}),
        LiveEvent(**{**vars(base), "seq": 4, "kind": EventKind.PLEDGE_CREATED, "radius_m": 5000.0}),
    ]  # fmt: skip
    for event in (base, *waiting):
        fanout.publish(event)
    # 1 km: in its radius all along (never WAITING); 5 km: reached at 3 + 3 km; 7.5 km: at 3 + 5 km;
    # 12 km: never; a circle whose server has no waiting reach (max 0) only within its radius.
    assert [e.seq for e in near.queue] == [1, 4]
    assert [e.seq for e in ring.queue] == [2, 4]
    assert [e.seq for e in reached_later.queue] == [3, 4]
    assert [e.seq for e in beyond.queue] == []
    assert [e.seq for e in off.queue] == []
