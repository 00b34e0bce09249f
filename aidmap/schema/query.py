"""Root Query: search nearby, the viewer's own lists, and Relay node look-ups."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from strawberry.types import Info

from aidmap import models
from aidmap.fairness.reach import max_reach_m
from aidmap.geo.privacy import round_distance
from aidmap.i18n import msg
from aidmap.problems import Code, Problems, UserInputError
from aidmap.resolvers import (
    accounts,
    areas,
    collection_points,
    messages,
    needs,
    offers,
    pledges,
    proposals,
    suggestions,
    verification,
)
from aidmap.resolvers import help as help_requests
from aidmap.resolvers.validation import check_search_area
from aidmap.schema.context import Context
from aidmap.schema.ids import from_global_id, pk_of
from aidmap.schema.inputs import GeoPointInput
from aidmap.schema.notifications import NotificationQuery
from aidmap.schema.types import (
    Account,
    AdminArea,
    AreaLevel,
    AreaOutline,
    AreaStats,
    Availability,
    CollectionPoint,
    HelpRequest,
    MatchProposal,
    Message,
    MyNeedConnection,
    MyNeedEdge,
    MyOfferConnection,
    MyOfferEdge,
    NeedCategory,
    NeedConnection,
    NeedCount,
    NeedEdge,
    NeedOrder,
    NeedStatus,
    NeedSuggestion,
    Node,
    Offer,
    OfferConnection,
    OfferEdge,
    OfferSuggestion,
    PageInfo,
    Pledge,
    PledgeConnection,
    PledgeEdge,
    ScoreParts,
    Urgency,
    need_views,
    visible_need_views,
)
from aidmap.schema.webhooks import WebhookQuery

MAX_NODES = 100


def _page_info(page: object) -> PageInfo:
    hits = page.hits  # type: ignore[attr-defined]
    return PageInfo(has_next_page=page.has_next, end_cursor=hits[-1].cursor if hits else None)  # type: ignore[attr-defined]


async def _need_connection(ctx: Context, page: Any) -> MyNeedConnection:
    """A page of needs in list order (mine, a verifier's queue) as a connection."""
    views = await need_views(ctx, [hit.row for hit in page.hits])
    edges = [MyNeedEdge(cursor=hit.cursor, node=view) for hit, view in zip(page.hits, views, strict=True)]
    return MyNeedConnection(edges=edges, page_info=_page_info(page))


def _selects(selections: list[Any], name: str) -> bool:
    """Whether a field of this name is selected anywhere below (through fragments too; one under
    @skip counts, which only costs the work the field would have needed)."""
    return any(getattr(s, "name", None) == name or _selects(getattr(s, "selections", []), name) for s in selections)


def _signed_in(info: Info[Context, None]) -> accounts.Viewer:
    if info.context.viewer is None:
        raise UserInputError("authorization", msg("Sign in to see this."), Code.UNAUTHENTICATED)
    return info.context.viewer


async def _resolve_nodes(ctx: Context, global_ids: list[str]) -> list[Node | None]:
    """Nodes in the order asked; None for unknown ids and for pledges the viewer may not see."""
    parsed = [from_global_id(g, "ids") for g in global_ids]
    loaders = ctx.loaders

    async def one(type_name: str, pk: int) -> Node | None:
        if type_name == "Need":
            row = await loaders.needs.load(pk)
            return (await visible_need_views(ctx, [row]))[0] if row else None
        if type_name == "Offer":
            offer = await loaders.offers.load(pk)
            return Offer.from_model(offer, ctx) if offer else None
        if type_name == "Account":
            account = await ctx.visible_account(pk)  # one statement for all the Account ids asked
            return Account.from_model(account) if account is not None else None
        if type_name == "Message":
            message = readable["Message"].get(pk)
            return Message.from_model(message, ctx) if message is not None else None
        if type_name == "HelpRequest":
            request = readable["HelpRequest"].get(pk)
            return HelpRequest.from_model(request) if request is not None else None
        pledge = readable["Pledge"].get(pk)
        return Pledge.from_model(pledge) if pledge is not None else None

    # Pledges, messages and help requests the viewer may read, each kind in one statement, first.
    wanted = {kind: [pk for t, pk in parsed if t == kind] for kind in ("Pledge", "Message", "HelpRequest")}
    readable: dict[str, dict[int, Any]] = {kind: {} for kind in wanted}
    if any(wanted.values()) and ctx.viewer is not None:
        async with ctx.reads() as session:
            viewer = ctx.viewer
            readable["Pledge"] = await pledges.readable_many(
                session=session, viewer=viewer, pledge_ids=wanted["Pledge"]
            )
            readable["Message"] = await messages.readable_many(
                session=session, viewer=viewer, message_ids=wanted["Message"]
            )
            readable["HelpRequest"] = await help_requests.readable_many(
                session=session, viewer=viewer, request_ids=wanted["HelpRequest"]
            )

    # Gathered, so the loaders batch all ids of one type into one statement.
    return list(await asyncio.gather(*(one(t, pk) for t, pk in parsed)))


@strawberry.type
class Query(WebhookQuery, NotificationQuery):
    @strawberry.field(
        description="Needs within radiusMeters (at most 50 km) of a point, nearest first, or most urgent first "
        "with orderBy: URGENCY (then nearest). Distances are the public cell's."
    )
    async def needs(
        self,
        info: Info[Context, None],
        near: GeoPointInput,
        radius_meters: float,
        first: int,
        categories: list[NeedCategory] | None = None,  # type: ignore[valid-type]
        statuses: list[NeedStatus] | None = None,  # type: ignore[valid-type]
        after: str | None = None,
        urgencies: list[Urgency] | None = None,  # type: ignore[valid-type]
        order_by: NeedOrder = models.NeedOrder.DISTANCE,  # type: ignore[valid-type,assignment]
    ) -> NeedConnection:
        ctx = info.context
        page = await needs.search(
            reader=ctx.hot_reader,
            lat=near.lat,
            lon=near.lon,
            radius_m=radius_meters,
            categories=[models.NeedCategory(c) for c in categories] if categories else None,
            statuses=[models.NeedStatus(s) for s in statuses] if statuses else None,
            first=first,
            after=after,
            urgencies=[models.Urgency(u) for u in urgencies] if urgencies else None,
            order_by=models.NeedOrder(order_by),
        )
        views = await need_views(ctx, [hit.row for hit in page.hits])
        edges = [
            NeedEdge(
                cursor=hit.cursor,
                node=view,
                distance_meters=round_distance(hit.distance_m),
            )
            for hit, view in zip(page.hits, views, strict=True)
        ]
        return NeedConnection(edges=edges, page_info=_page_info(page))

    @strawberry.field(description="Active offers within radiusMeters (at most 50 km) of a point, nearest first.")
    async def offers(
        self,
        info: Info[Context, None],
        near: GeoPointInput,
        radius_meters: float,
        first: int,
        categories: list[NeedCategory] | None = None,  # type: ignore[valid-type]
        after: str | None = None,
    ) -> OfferConnection:
        ctx = info.context
        page = await offers.search(
            reader=ctx.hot_reader,
            lat=near.lat,
            lon=near.lon,
            radius_m=radius_meters,
            categories=[models.NeedCategory(c) for c in categories] if categories else None,
            first=first,
            after=after,
        )
        edges = [
            OfferEdge(
                cursor=hit.cursor, node=Offer.from_model(hit.row, ctx), distance_meters=round_distance(hit.distance_m)
            )
            for hit in page.hits
        ]
        return OfferConnection(edges=edges, page_info=_page_info(page))

    @strawberry.field(description="The signed-in account, or null.")
    async def me(self, info: Info[Context, None]) -> Account | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        account = await info.context.loaders.accounts.load(viewer.account_id)
        return Account.from_model(account) if account else None

    @strawberry.field(
        description="Needs I posted, newest first; with filedForOthers: true, the needs I filed for someone else "
        "(a hotline operator, a relative), claimed or not."
    )
    async def my_needs(
        self, info: Info[Context, None], first: int = 20, after: str | None = None, filed_for_others: bool = False
    ) -> MyNeedConnection:
        viewer = _signed_in(info)
        async with info.context.reads() as session:
            if filed_for_others:
                page = await needs.filed_for_others(session=session, viewer=viewer, first=first, after=after)
            else:
                page = await needs.mine(session=session, viewer=viewer, first=first, after=after)
        return await _need_connection(info.context, page)

    @strawberry.field(description="Whether, where and for what I can be asked for instant help (null: never set).")
    async def my_availability(self, info: Info[Context, None]) -> Availability | None:
        viewer = _signed_in(info)
        async with info.context.reads() as session:
            row = await session.get(models.DonorAvailability, viewer.account_id)
        return Availability.from_model(row) if row is not None else None

    @strawberry.field(
        description="Instant-help requests I am asked in their current round and nobody has accepted yet, newest "
        "first (what HELP_ASKED announced, still there after a reload). The need shows only its cell until I accept."
    )
    async def my_help_asks(self, info: Info[Context, None]) -> list[HelpRequest]:
        viewer = _signed_in(info)
        async with info.context.reads() as session:
            rows = await help_requests.asked_of(session=session, viewer=viewer)
        return [HelpRequest.from_model(r) for r in rows]

    @strawberry.field(
        description="Verifiers and admins: needs waiting for verification or review in my areas, oldest first."
    )
    async def verification_queue(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> MyNeedConnection:
        viewer = _signed_in(info)
        if verification.queue_filter(viewer) is None:
            raise UserInputError(
                "authorization", msg("Only verifiers and admins have a verification queue."), Code.FORBIDDEN
            )
        async with info.context.reads() as session:
            page = await verification.queue(session=session, viewer=viewer, first=first, after=after)
        return await _need_connection(info.context, page)

    @strawberry.field(description="Wards (or provinces) within radiusMeters (at most 50 km) of a point, with outlines.")
    async def areas(
        self,
        info: Info[Context, None],
        near: GeoPointInput,
        radius_meters: float,
        level: AreaLevel = AreaLevel.WARD,  # type: ignore[assignment]
    ) -> list[AreaOutline]:
        check_search_area(lat=near.lat, lon=near.lon, radius_m=radius_meters)
        with_outline = _selects(info.selected_fields, "geojson")
        async with info.context.reads() as session:
            found = await areas.outlines(
                session=session, lat=near.lat, lon=near.lon, radius_m=radius_meters,
                level=models.AreaLevel(level).value, with_outline=with_outline,
            )  # fmt: skip
        return [
            AreaOutline(
                area=AdminArea(code=r.code, name=r.name, name_en=r.name_en, full_name=r.full_name, level=r.level),
                geojson=r.outline if with_outline else "",  # "" only when not selected
            )
            for r in found
        ]

    @strawberry.field(description="Needs of an area by category and status, people helped, time to first pledge.")
    async def area_stats(self, info: Info[Context, None], area_code: str) -> AreaStats:
        viewer = _signed_in(info)
        try:
            async with info.context.reads() as session:
                area, found = await areas.stats(session=session, viewer=viewer, code=area_code)
        except Problems as failure:
            problem = failure.problems[0]
            raise UserInputError("areaCode", problem.message, problem.code) from None
        return AreaStats(
            area=AdminArea.from_model(area),
            counts=[
                NeedCount(category=models.NeedCategory(c), status=models.NeedStatus(s), count=n)
                for c, s, n in found.counts
            ],
            people_helped=found.people_helped,
            median_seconds_to_first_pledge=found.median_seconds_to_first_pledge,
        )

    @strawberry.field(description="Offers I posted, newest first.")
    async def my_offers(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> MyOfferConnection:
        viewer = _signed_in(info)
        async with info.context.reads() as session:
            page = await offers.mine(session=session, viewer=viewer, first=first, after=after)
        edges = [MyOfferEdge(cursor=hit.cursor, node=Offer.from_model(hit.row, info.context)) for hit in page.hits]
        return MyOfferConnection(edges=edges, page_info=_page_info(page))

    @strawberry.field(description="Pledges I made, newest first.")
    async def my_pledges(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> PledgeConnection:
        viewer = _signed_in(info)
        async with info.context.reads() as session:
            page = await pledges.mine(session=session, viewer=viewer, first=first, after=after)
        edges = [PledgeEdge(cursor=hit.cursor, node=Pledge.from_model(hit.row)) for hit in page.hits]
        return PledgeConnection(edges=edges, page_info=_page_info(page))

    @strawberry.field(
        description="Open collection points within radiusMeters of a place, nearest first (at most 100): where a "
        "donor may drop what they pledge (pledge's collectionPointId) for the point's couriers to carry on."
    )
    async def collection_points(
        self, info: Info[Context, None], near: GeoPointInput, radius_meters: float
    ) -> list[CollectionPoint]:
        check_search_area(lat=near.lat, lon=near.lon, radius_m=radius_meters)
        async with info.context.reads() as session:
            found = await collection_points.near(session=session, lat=near.lat, lon=near.lon, radius_m=radius_meters)
            left = await collection_points.units_left(session, found)
        return [CollectionPoint.from_model(p, units_left=left[p.id]) for p in found]

    @strawberry.field(
        description="The relayed pledges I carry as a collection point's manager, not yet delivered, oldest first "
        "(at most 100): each need's exact location and phone are mine to see once the pledge is accepted."
    )
    async def my_relays(self, info: Info[Context, None]) -> list[Pledge]:
        viewer = _signed_in(info)
        async with info.context.reads() as session:
            rows = await collection_points.carried_by(session=session, viewer=viewer)
        return [Pledge.from_model(r) for r in rows]

    @strawberry.field(description="Pledges matching rounds propose to me that wait for my answer, newest first.")
    async def my_proposals(self, info: Info[Context, None]) -> list[MatchProposal]:
        viewer = _signed_in(info)
        async with info.context.reads() as session:
            rows = await proposals.mine(session=session, viewer=viewer)
        return [MatchProposal.from_model(r) for r in rows]

    @strawberry.field(description="The messages of a pledge, oldest first; only its donor and requester may read them.")
    async def messages(self, info: Info[Context, None], pledge_id: strawberry.ID) -> list[Message]:
        viewer = _signed_in(info)
        pk = pk_of(pledge_id, "Pledge", "pledgeId")
        found = None
        if pk is not None:
            async with info.context.reads() as session:
                found = await messages.for_pledge(session=session, viewer=viewer, pledge_id=pk)
        if found is None:
            # The same answer for a missing pledge and someone else's: ids reveal nothing.
            raise UserInputError("pledgeId", msg("No pledge of yours has this id."), Code.NOT_FOUND)
        return [Message.from_model(m, info.context) for m in found]

    @strawberry.field(description="Offers whose donor can reach my need, best first, with the parts of each score.")
    async def suggested_offers(
        self, info: Info[Context, None], need_id: strawberry.ID, first: int = 10
    ) -> list[OfferSuggestion]:
        viewer = _signed_in(info)
        pk = pk_of(need_id, "Need", "needId")
        if pk is None:
            raise UserInputError("needId", msg("No need of yours has this id."), Code.NOT_FOUND)
        ctx = info.context
        async with ctx.reads() as session:
            found = await suggestions.offers_for_need(
                session=session, index=ctx.match_index, viewer=viewer, need_id=pk, first=first,
                max_reach_m=max_reach_m(ctx.settings),
            )  # fmt: skip
        return [
            OfferSuggestion(
                offer=Offer.from_model(s.offer, ctx),
                distance_meters=round_distance(s.distance_m),
                score=round(s.parts.total, 4),
                parts=ScoreParts(**vars(s.parts)),
            )
            for s in found
        ]

    @strawberry.field(description="Open needs my offer can reach, best first, with the parts of each score.")
    async def suggested_needs(
        self, info: Info[Context, None], offer_id: strawberry.ID, first: int = 10
    ) -> list[NeedSuggestion]:
        viewer = _signed_in(info)
        pk = pk_of(offer_id, "Offer", "offerId")
        if pk is None:
            raise UserInputError("offerId", msg("No offer of yours has this id."), Code.NOT_FOUND)
        ctx = info.context
        async with ctx.reads() as session:
            found = await suggestions.needs_for_offer(
                session=session, reader=ctx.hot_reader, index=ctx.match_index, viewer=viewer, offer_id=pk, first=first,
                max_reach_m=max_reach_m(ctx.settings),
            )  # fmt: skip
        views = await need_views(ctx, [s.need for s in found])
        return [
            NeedSuggestion(
                need=view,
                # Cell to cell, like the score: a donor could otherwise place offers to triangulate.
                distance_meters=round_distance(s.distance_m),
                score=round(s.parts.total, 4),
                parts=ScoreParts(**vars(s.parts)),
            )
            for s, view in zip(found, views, strict=True)
        ]

    @strawberry.field(description="Any object by its global ID, or null.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return (await _resolve_nodes(info.context, [id]))[0]

    @strawberry.field(description=f"Objects by global ID (at most {MAX_NODES}), null where unknown.")
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise UserInputError("ids", msg("At most {n} ids per request.", n=MAX_NODES), Code.OUT_OF_RANGE)
        return await _resolve_nodes(info.context, list(ids))
