"""Root Subscription (graphql-transport-ws on /graphql): nearby needs and offers, my activity.

Each subscription registers with the process's fan-out first, then replays what the
client missed (events after its `after` cursor) from the outbox, then streams live
events, skipping any the replay already sent: nothing lost, nothing doubled.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from enum import Enum

import strawberry
from strawberry.types import Info

from aidmap import models
from aidmap.db.cursors import event_cursor, parse_event_cursor
from aidmap.events.fanout import AreaFilter, LiveEvent, SlowSubscriber, Topic
from aidmap.events.fanout import Subscription as FanOutSubscription
from aidmap.events.snapshots import NeedSnapshot
from aidmap.events.store import REPLAY_LIMIT, activity_events_after, area_events_after
from aidmap.fairness.reach import max_reach_m
from aidmap.i18n import msg
from aidmap.models.need import OPEN_STATUSES
from aidmap.problems import Code, UserInputError
from aidmap.resolvers import help as help_requests
from aidmap.resolvers import messages, needs, pledges, proposals
from aidmap.resolvers.validation import check_search_area
from aidmap.schema.context import Context
from aidmap.schema.inputs import GeoPointInput
from aidmap.schema.types import (
    HelpRequest,
    MatchProposal,
    Message,
    Need,
    NeedCategory,
    Offer,
    Pledge,
    need_views,
    public_distance,
)

log = logging.getLogger(__name__)

# Close code for a subscriber whose queue overflowed (4000-4999 are the application's).
SLOW_SUBSCRIBER_CLOSE = 4008


@strawberry.enum
class ChangeKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    CLOSED = "CLOSED"
    # A need that has waited with nothing pledged now reaches this circle (aidmap/fairness/reach.py).
    WAITING = "WAITING"


ActivityKind = strawberry.enum(models.EventKind, name="ActivityKind")


@strawberry.type
class NeedEvent:
    cursor: str
    kind: ChangeKind
    need: Need
    distance_meters: float
    # What makes two subscribers' payloads the same apart from distance (schema/fast/sharing.py).
    share_key: strawberry.Private[tuple[object, ...]]


@strawberry.type
class OfferEvent:
    cursor: str
    kind: ChangeKind
    offer: Offer
    distance_meters: float
    share_key: strawberry.Private[tuple[object, ...]]


@strawberry.type
class ActivityEvent:
    cursor: str
    kind: ActivityKind  # type: ignore[valid-type]
    need: Need | None
    pledge: Pledge | None
    message: Message | None
    help_request: HelpRequest | None
    proposal: MatchProposal | None = strawberry.field(
        default=None, description="With MATCH_PROPOSED: the pledge a matching round proposes to me."
    )


_OPEN_STATUSES = tuple(s.value for s in OPEN_STATUSES)


def _change_kind(event: LiveEvent, open_statuses: tuple[str, ...]) -> ChangeKind:
    if event.kind in (models.EventKind.NEED_CREATED, models.EventKind.OFFER_CREATED):
        return ChangeKind.CREATED
    if event.kind is models.EventKind.NEED_WAITING:
        return ChangeKind.WAITING if event.status in open_statuses else ChangeKind.UPDATED
    if event.kind is models.EventKind.NEED_VERIFIED:
        # Verified (or kept after review): new to the public, whatever its status was to those in charge.
        return ChangeKind.CREATED if event.status in open_statuses else ChangeKind.UPDATED
    return ChangeKind.UPDATED if event.status in open_statuses else ChangeKind.CLOSED


async def _events(
    ctx: Context, sub: FanOutSubscription, replay: Callable[[int], Awaitable[list[LiveEvent]]], after: str | None
) -> AsyncGenerator[LiveEvent, None]:
    """Replay after the cursor, then live events; unsubscribes when the client goes away."""
    fanout = ctx.fanout
    try:
        last = 0
        if after is not None:
            last = parse_event_cursor(after)
            while True:
                missed = await replay(last)
                for event in missed:
                    yield event
                    last = event.seq
                if len(missed) < REPLAY_LIMIT:
                    break
        while True:
            event = await sub.next()
            if event.seq > last:
                last = event.seq
                yield event
    except SlowSubscriber:
        log.info("closing a subscriber that fell %d events behind", sub.limit)
        await ctx.close_websocket(SLOW_SUBSCRIBER_CLOSE, "Subscriber too slow: reconnect with your last cursor")
    finally:
        fanout.unsubscribe(sub)


def _area(
    near: GeoPointInput,
    radius_meters: float,
    categories: list[NeedCategory] | None,  # type: ignore[valid-type]
    max_reach_m: float = 0.0,
) -> AreaFilter:
    check_search_area(lat=near.lat, lon=near.lon, radius_m=radius_meters)
    return AreaFilter(
        lon=near.lon,
        lat=near.lat,
        radius_m=radius_meters,
        categories=frozenset(models.NeedCategory(c).value for c in categories or ()),
        max_reach_m=max_reach_m,
    )


async def need_events(
    ctx: Context,
    near: GeoPointInput,
    radius_meters: float,
    categories: list[NeedCategory] | None,  # type: ignore[valid-type]
    after: str | None,
    *,
    direct: object = None,
) -> AsyncGenerator[NeedEvent, None]:
    """The needsNearby stream (also run directly by the lean websocket path, schema/fast/live_socket.py,
    which may pass `direct`: then live events it can send without this stream are not yielded here).
    A partner key's scopes are checked before any stream starts (schema/limits.py, OperationChecks)."""
    # Waiting needs reach the circle from farther away (kind WAITING, then their later changes).
    area = _area(near, radius_meters, categories, max_reach_m(ctx.settings))
    sub = ctx.fanout.subscribe_area(Topic.NEEDS, area, direct=direct)
    async for event in _events(ctx, sub, lambda seq: area_events_after(ctx.reader, Topic.NEEDS, area, seq), after):
        assert event.need_id is not None
        snapshot = await ctx.snapshots.need(event.seq, event.need_id)
        if snapshot is None:
            continue
        need_event = need_event_for(ctx, near, event, snapshot)
        if need_event is not None:
            yield need_event


def need_event_for(ctx: Context, near: GeoPointInput, event: LiveEvent, snapshot: NeedSnapshot) -> NeedEvent | None:
    """What this subscriber is sent for the event (None: nothing, the need is hidden from them)."""
    who = ctx.principal
    projection = snapshot.project(who)
    if not projection.visible and event.kind is not models.EventKind.NEED_HIDDEN:
        return None  # pending verification, under review or rejected: not for this subscriber
    viewer_id = who.account_id
    private = projection.private
    view = Need.from_projection(projection, is_mine=viewer_id == snapshot.row.owner_id, via=models.ReadChannel.LIVE)
    row = snapshot.row
    distance = public_distance(near.lon, near.lat, row.cell_lon, row.cell_lat)
    return NeedEvent(
        cursor=event_cursor(event.seq),
        kind=_change_kind(event, _OPEN_STATUSES),
        need=view,
        distance_meters=distance,
        # Whoever may see private fields gets an execution of their own, so their read is logged and
        # never shared: a partner key acting for nobody has no account id, so the key names it too.
        share_key=(event.seq, "need", (viewer_id, who.partner_id) if private else None, view.is_mine),
    )


async def offer_events(
    ctx: Context,
    near: GeoPointInput,
    radius_meters: float,
    categories: list[NeedCategory] | None,  # type: ignore[valid-type]
    after: str | None,
) -> AsyncGenerator[OfferEvent, None]:
    """The offersNearby stream."""
    area = _area(near, radius_meters, categories)
    sub = ctx.fanout.subscribe_area(Topic.OFFERS, area)
    async for event in _events(ctx, sub, lambda seq: area_events_after(ctx.reader, Topic.OFFERS, area, seq), after):
        assert event.offer_id is not None
        offer = await ctx.snapshots.offer(event.seq, event.offer_id)
        if offer is None:
            continue
        mine = ctx.viewer is not None and ctx.viewer.account_id == offer.donor_id
        yield OfferEvent(
            cursor=event_cursor(event.seq),
            kind=_change_kind(event, (models.OfferStatus.ACTIVE.value,)),
            offer=Offer.from_model(offer, ctx),
            distance_meters=public_distance(near.lon, near.lat, offer.cell_lon, offer.cell_lat),
            share_key=(event.seq, "offer", mine),
        )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Needs in the circle that were created, changed, or left the open states; WAITING when a "
        "need that waited with nothing pledged comes to reach the circle from farther away."
    )
    async def needs_nearby(
        self,
        info: Info[Context, None],
        near: GeoPointInput,
        radius_meters: float,
        categories: list[NeedCategory] | None = None,  # type: ignore[valid-type]
        after: str | None = None,
    ) -> AsyncGenerator[NeedEvent, None]:
        async for event in need_events(info.context, near, radius_meters, categories, after):
            yield event

    @strawberry.subscription(description="Offers in the circle that were created, changed, or withdrawn.")
    async def offers_nearby(
        self,
        info: Info[Context, None],
        near: GeoPointInput,
        radius_meters: float,
        categories: list[NeedCategory] | None = None,  # type: ignore[valid-type]
        after: str | None = None,
    ) -> AsyncGenerator[OfferEvent, None]:
        async for event in offer_events(info.context, near, radius_meters, categories, after):
            yield event

    @strawberry.subscription(description="Pledges on my needs, changes to my pledges, messages, prompts.")
    async def my_activity(
        self, info: Info[Context, None], after: str | None = None
    ) -> AsyncGenerator[ActivityEvent, None]:
        ctx = info.context
        viewer = ctx.viewer
        if viewer is None:
            raise UserInputError(
                "authorization",
                msg("Sign in (connection_init authorization) to follow your activity."),
                Code.UNAUTHENTICATED,
            )
        sub = ctx.fanout.subscribe_activity(viewer.account_id)
        replay = lambda seq: activity_events_after(ctx.reader, viewer.account_id, seq)  # noqa: E731
        hidden = ctx.partner is not None and not ctx.partner.allows(models.Scope.PRIVATE_READ)
        async for event in _events(ctx, sub, replay, after):
            if hidden and event.kind is models.EventKind.NEED_PRIVATE_UPDATED:
                continue  # a key without private:read is not told that what it cannot see changed
            async with ctx.reads() as session:
                need_rows = await needs.get_many(session=session, need_ids=[event.need_id]) if event.need_id else []
                pledge_rows = (
                    await pledges.get_many(session=session, pledge_ids=[event.pledge_id]) if event.pledge_id else []
                )
                message = await messages.get(session=session, message_id=event.message_id) if event.message_id else None
                help_request = (
                    await help_requests.get(session=session, help_request_id=event.help_request_id)
                    if event.help_request_id
                    else None
                )
                proposal = (
                    await proposals.get(session=session, proposal_id=event.proposal_id) if event.proposal_id else None
                )
            yield ActivityEvent(
                cursor=event_cursor(event.seq),
                kind=event.kind,
                need=(await need_views(ctx, need_rows))[0] if need_rows else None,
                pledge=Pledge.from_model(pledge_rows[0]) if pledge_rows else None,
                message=Message.from_model(message, ctx) if message else None,
                help_request=HelpRequest.from_model(help_request) if help_request else None,
                proposal=MatchProposal.from_model(proposal) if proposal else None,
            )
