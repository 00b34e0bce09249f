"""Offers: post, edit, withdraw, search nearby, list my own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.locks import lock_until_commit
from aidmap.db.nearby import Page, Rows, category_filter, nearest_rows, origin_point
from aidmap.db.paging import newest_first
from aidmap.db.reader import located_columns
from aidmap.db.replica import Reads
from aidmap.db.sql import status_is
from aidmap.events.outbox import emit
from aidmap.i18n import msg
from aidmap.models import EventKind, NeedCategory, Offer, OfferStatus
from aidmap.models.need_fields import MAX_DETAILS, MAX_TITLE, MAX_UNIT
from aidmap.problems import Code, Problems
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.validation import DEFAULT_OFFER_TTL, Checker, utcnow


@dataclass
class OfferFields:
    """Fields of an offer as a client sends them; None means 'not given'."""

    category: NeedCategory | None = None
    title: str | None = None
    details: str | None = None
    quantity: int | None = None
    unit: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_meters: float | None = None
    available_until: datetime | None = None


def _checked(fields: OfferFields, *, creating: bool) -> dict[str, object]:
    check = Checker()
    values: dict[str, object] = {}
    if creating or fields.title is not None:
        values["title"] = check.text("title", fields.title, max_len=MAX_TITLE)
    if fields.details is not None:
        values["details"] = check.text("details", fields.details, max_len=MAX_DETAILS, required=False)
    if creating or fields.quantity is not None:
        values["quantity"] = check.positive_int("quantity", fields.quantity)
    if creating or fields.unit is not None:
        values["unit"] = check.text("unit", fields.unit, max_len=MAX_UNIT)
    if creating or fields.lat is not None:
        before = len(check.problems)
        check.point(
            "location",
            fields.lat if fields.lat is not None else float("nan"),
            fields.lon if fields.lon is not None else float("nan"),
        )
        if len(check.problems) == before:
            values["location"] = origin_point(lon=fields.lon, lat=fields.lat)
    if creating or fields.radius_meters is not None:
        before = len(check.problems)
        check.radius("radiusMeters", fields.radius_meters if fields.radius_meters is not None else 0.0)
        if len(check.problems) == before:
            values["radius_meters"] = fields.radius_meters
    if creating or fields.available_until is not None:
        values["available_until"] = check.future_time(
            "availableUntil", fields.available_until, default=DEFAULT_OFFER_TTL, now=utcnow()
        )
    if fields.category is not None:
        values["category"] = fields.category.value
    if check.problems:
        raise Problems(check.problems)
    return values


async def get_many(*, session: AsyncSession, offer_ids: list[int]) -> list[Offer]:
    """Offers by id, in no particular order."""
    return list((await session.execute(select(Offer).where(Offer.id.in_(offer_ids)))).scalars())


async def _owned_for_update(*, session: AsyncSession, viewer: Viewer, offer_id: int) -> Offer:
    offer = (await session.execute(select(Offer).where(Offer.id == offer_id).with_for_update())).scalar_one_or_none()
    if offer is None or offer.donor_id != viewer.account_id:
        raise Problems.one("offerId", msg("No offer of yours has this id."), Code.NOT_FOUND)
    return offer


_LIVE_FOR_DONOR = f"""
SELECT count(*) FROM offers WHERE donor_id = :me AND {status_is(OfferStatus.ACTIVE)} AND available_until > now()
"""


async def _check_quota(*, session: AsyncSession, viewer: Viewer, limit: int) -> None:
    """At most `limit` live offers per donor: each one is work for every matching round."""
    # Two concurrent posts (or aliased fields of one request, each its own transaction) must not both pass.
    key = f"quota:offers:{viewer.account_id}"
    await lock_until_commit(session, key)
    count = (await session.execute(text(_LIVE_FOR_DONOR), {"me": viewer.account_id})).scalar()
    if count is not None and count >= limit:
        raise Problems.one(
            None,
            msg("At most {n} live offers per donor; withdraw one or let one run out first.", n=limit),
            Code.QUOTA_EXCEEDED,
        )


async def create(*, session: AsyncSession, viewer: Viewer, fields: OfferFields, max_open: int = 10) -> Offer:
    offer = Offer(donor_id=viewer.account_id, **_checked(fields, creating=True))
    await _check_quota(session=session, viewer=viewer, limit=max_open)
    session.add(offer)
    await session.flush()
    await session.refresh(offer)
    await emit(session=session, kind=EventKind.OFFER_CREATED, offer=offer)
    return offer


async def update(*, session: AsyncSession, viewer: Viewer, offer_id: int, fields: OfferFields) -> Offer:
    values = _checked(fields, creating=False)
    offer = await _owned_for_update(session=session, viewer=viewer, offer_id=offer_id)
    if offer.status not in (OfferStatus.ACTIVE, OfferStatus.EXHAUSTED):
        raise Problems.one(
            "offerId", msg("A {status} offer cannot be changed.", status=offer.status.lower()), Code.INVALID_STATE
        )
    quantity = values.get("quantity", offer.quantity)
    if isinstance(quantity, int) and quantity < offer.quantity_pledged:
        raise Problems.one(
            "quantity",
            msg("{n} are already pledged; quantity cannot go below that.", n=offer.quantity_pledged),
            Code.OUT_OF_RANGE,
        )
    seen_before = _public_state(offer)
    for key, value in values.items():
        setattr(offer, key, value)
    offer.status = (OfferStatus.EXHAUSTED if offer.quantity_pledged >= offer.quantity else OfferStatus.ACTIVE).value
    await session.flush()
    await session.refresh(offer)  # the cell, computed by the database from the new point
    if _public_state(offer) != seen_before:
        # An exact point moved within its cell (or the same values sent again) is not told: an event
        # for it would tell everyone watching the area that the donor's exact point moved.
        offer.updated_at = utcnow()
        await session.flush()
        await session.refresh(offer)
        await emit(session=session, kind=EventKind.OFFER_UPDATED, offer=offer)
    return offer


# What anyone may see of an offer (schema/types.py, Offer), its cell last.
_PUBLIC_NAMES = ("category", "title", "details", "quantity", "quantity_pledged", "unit", "radius_meters",
                 "available_until", "status")  # fmt: skip


def _public_state(offer: Offer) -> tuple[object, ...]:
    return (*(getattr(offer, name) for name in _PUBLIC_NAMES), (offer.cell_lat, offer.cell_lon))


async def withdraw(*, session: AsyncSession, viewer: Viewer, offer_id: int) -> Offer:
    """Withdraw the offer; pledges already made from it stand."""
    offer = await _owned_for_update(session=session, viewer=viewer, offer_id=offer_id)
    if offer.status not in (OfferStatus.ACTIVE, OfferStatus.EXHAUSTED):
        raise Problems.one(
            "offerId", msg("A {status} offer cannot be withdrawn.", status=offer.status.lower()), Code.INVALID_STATE
        )
    offer.status, offer.updated_at = OfferStatus.WITHDRAWN.value, utcnow()
    await session.flush()
    await session.refresh(offer)
    await emit(session=session, kind=EventKind.OFFER_WITHDRAWN, offer=offer)
    return offer


def _search_filter(categories: list[NeedCategory] | None) -> tuple[tuple[str, ...], dict[str, object]]:
    # The literal status matches the partial index predicate, so the planner can use it.
    where = [status_is(OfferStatus.ACTIVE), "available_until > now()"]
    params: dict[str, object] = {}
    category_filter(categories, where, params)
    return tuple(where), params


async def search(
    *,
    reader: Reads,
    lat: float,
    lon: float,
    radius_m: float,
    categories: list[NeedCategory] | None,
    first: int,
    after: str | None,
) -> Page[Offer]:
    """Active offers within the circle, nearest first."""
    found = await search_rows(
        reader=reader, lat=lat, lon=lon, radius_m=radius_m, categories=categories, first=first, after=after,
        columns=located_columns(Offer.__table__),
    )  # fmt: skip
    return found.page()


async def search_rows(
    *,
    reader: Reads,
    lat: float,
    lon: float,
    radius_m: float,
    categories: list[NeedCategory] | None,
    first: int,
    after: str | None,
    columns: str,
) -> Rows:
    """search()'s page as rows of only these columns (schema/fast/compiled.py)."""
    where, params = _search_filter(categories)
    return await nearest_rows(
        reader=reader, model=Offer, lon=lon, lat=lat, radius_m=radius_m, where=where, params=params, first=first,
        after=after, columns=columns,
    )  # fmt: skip


async def mine(*, session: AsyncSession, viewer: Viewer, first: int, after: str | None) -> Page[Offer]:
    """The viewer's offers, newest first."""
    where = Offer.donor_id == viewer.account_id
    return await newest_first(session=session, model=Offer, where=where, first=first, after=after)
