"""Collection points: an admin opens one (a ward office, a charity's depot) with its manager, how far
its couriers deliver and how many units they carry a day; donors pledge through it ("relayed"): they
drop the goods at the point, within their own travel radius, and the manager carries them on.

Browsing and matching leave help where donors live because a donor's trip is short; a relay keeps
the trip short and carries the rest (bench/fairness.py, `matching-relay`). The privacy rule holds:
whether a point reaches a need is decided from the need's public cell, and the need's address and
phone go to the manager (the carrier: models.pledge.disclosed_to), never to the relaying donor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.nearby import origin_point
from aidmap.db.sql import status_is
from aidmap.fairness.matching import RelaySlot
from aidmap.i18n import msg
from aidmap.models import CollectionPoint, Need, Offer, Pledge, PledgeStatus, ProposalStatus, Role
from aidmap.problems import Code, Problems
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.validation import Checker, utcnow

MAX_REACH_M = 100_000.0  # a courier's day trip; more than any city's radius
MAX_UNITS_PER_DAY = 100_000
NEAR_LIMIT = 100  # points answered by one `collectionPoints` search
CARRIED_LIMIT = 100  # relayed pledges answered by one `myRelays`


def _start_of_day(now: datetime) -> datetime:
    # Units are counted per UTC day: one boundary for every process and every reader.
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def create(
    *,
    session: AsyncSession,
    viewer: Viewer,
    name: str,
    address: str,
    lat: float,
    lon: float,
    reach_meters: float,
    units_per_day: int,
    manager_id: int,
) -> CollectionPoint:
    """Admins only: open a collection point run by `manager_id`'s account."""
    if Role.ADMIN.value not in viewer.roles:
        raise Problems.one(None, msg("Only an admin can open a collection point."), Code.FORBIDDEN)
    check = Checker()
    name = check.text("name", name, max_len=120) or ""
    address = check.text("address", address, max_len=300) or ""
    check.point("location", lat, lon)
    check.radius("reachMeters", reach_meters, maximum=MAX_REACH_M)
    check.positive_int("unitsPerDay", units_per_day, maximum=MAX_UNITS_PER_DAY)
    if check.problems:
        raise Problems(check.problems)
    await _check_account(session, manager_id)
    point = CollectionPoint(
        name=name, address=address, location=origin_point(lon=lon, lat=lat),
        reach_meters=reach_meters, units_per_day=units_per_day, manager_id=manager_id,
    )  # fmt: skip
    session.add(point)
    await session.flush()
    await session.refresh(point)
    return point


async def update(
    *,
    session: AsyncSession,
    viewer: Viewer,
    point_id: int,
    name: str | None = None,
    address: str | None = None,
    reach_meters: float | None = None,
    units_per_day: int | None = None,
    manager_id: int | None = None,
    active: bool | None = None,
) -> CollectionPoint:
    """Admins only: change a point; fields left out keep their value. Closing it (active false) stops new
    relays and proposals through it; those on their way stay with its manager. A new manager takes
    over the relays not yet marked delivered: they become their carrier (address, phone, chat,
    notifications), and the old manager is no longer shown them from then on."""
    if Role.ADMIN.value not in viewer.roles:
        raise Problems.one(None, msg("Only an admin can change a collection point."), Code.FORBIDDEN)
    point = (
        await session.execute(select(CollectionPoint).where(CollectionPoint.id == point_id).with_for_update())
    ).scalar_one_or_none()
    if point is None:
        raise Problems.one("collectionPointId", msg("No collection point has this id."), Code.NOT_FOUND)
    check = Checker()
    if name is not None:
        name = check.text("name", name, max_len=120)
    if address is not None:
        address = check.text("address", address, max_len=300)
    if reach_meters is not None:
        check.radius("reachMeters", reach_meters, maximum=MAX_REACH_M)
    if units_per_day is not None:
        check.positive_int("unitsPerDay", units_per_day, maximum=MAX_UNITS_PER_DAY)
    if check.problems:
        raise Problems(check.problems)
    if manager_id is not None and manager_id != point.manager_id:
        await _check_account(session, manager_id)
        # The relays still to carry; one the old manager says they delivered stays theirs (the new one
        # never carried it and has no need of its address).
        await session.execute(
            sql_update(Pledge)
            .where(
                Pledge.collection_point_id == point.id,
                Pledge.status == PledgeStatus.PLEDGED.value,
                Pledge.marked_delivered_at.is_(None),
            )
            .values(carrier_id=manager_id)
        )
        point.manager_id = manager_id
    for attribute, value in (("name", name), ("address", address), ("reach_meters", reach_meters),
                             ("units_per_day", units_per_day), ("active", active)):  # fmt: skip
        if value is not None:
            setattr(point, attribute, value)
    await session.flush()
    await session.refresh(point)  # with its place (deferred) loaded for the answer
    return point


async def _check_account(session: AsyncSession, account_id: int) -> None:
    exists = (await session.execute(text("SELECT 1 FROM accounts WHERE id = :id"), {"id": account_id})).first()
    if exists is None:
        raise Problems.one("managerId", msg("No account has this id."), Code.NOT_FOUND)


_UNITS_USED = text(
    f"""
    SELECT c.id,
           coalesce((SELECT sum(p.quantity) FROM pledges p
                     WHERE p.collection_point_id = c.id AND p.created_at >= :day
                       AND {status_is(PledgeStatus.CANCELLED, column="p.status", negate=True)}), 0) AS pledged,
           coalesce((SELECT sum(m.quantity) FROM match_proposals m
                     WHERE m.collection_point_id = c.id AND m.expires_at > now()
                       AND {status_is(ProposalStatus.PROPOSED, column="m.status")}), 0) AS proposed
    FROM collection_points c WHERE c.id = ANY(:ids)
    """
)


async def units_left(
    session: AsyncSession, points: list[CollectionPoint], *, less_proposed: bool = False
) -> dict[int, int]:
    """What each point's couriers can still carry today: units per day less today's relayed pledges (not
    cancelled). With less_proposed (a matching round's view), less what proposals through it still
    waiting hold too (made today or before: accepted today, they take today's units), so rounds do
    not propose more than it can carry. A pledge is never refused
    for a proposal: a donor who leaves one unanswered holds nothing that others could have used."""
    if not points:
        return {}
    rows = await session.execute(_UNITS_USED, {"ids": [p.id for p in points], "day": _start_of_day(utcnow())})
    used = {r.id: int(r.pledged) + (int(r.proposed) if less_proposed else 0) for r in rows}
    return {p.id: max(0, p.units_per_day - used.get(p.id, 0)) for p in points}


async def near(*, session: AsyncSession, lat: float, lon: float, radius_m: float) -> list[CollectionPoint]:
    """Open points within radius_m of a place, nearest first (their places are public)."""
    origin = origin_point(lon=lon, lat=lat)
    query = (
        select(CollectionPoint)
        .where(CollectionPoint.active, func.ST_DWithin(CollectionPoint.location, origin, radius_m))
        .order_by(func.ST_Distance(CollectionPoint.location, origin), CollectionPoint.id)
        .limit(NEAR_LIMIT)
    )
    return list((await session.execute(query)).scalars())


async def get_many(*, session: AsyncSession, ids: list[int]) -> dict[int, CollectionPoint]:
    rows = await session.execute(select(CollectionPoint).where(CollectionPoint.id.in_(ids)))
    return {p.id: p for p in rows.scalars()}


async def open_relays(session: AsyncSession) -> list[RelaySlot]:
    """Every open point with units left today, for a matching round (aidmap.fairness.matching.RelaySlot)."""
    points = list((await session.execute(select(CollectionPoint).where(CollectionPoint.active))).scalars())
    left = await units_left(session, points, less_proposed=True)
    return [
        RelaySlot(point_id=p.id, lon=p.lon, lat=p.lat, reach_km=p.reach_meters / 1000.0, capacity=left[p.id])
        for p in points
        if left[p.id] > 0
    ]


# On the sphere (use_spheroid false), as the matching round measures (haversine): a pair it proposes
# passes here, and the boundary is the same for both.
_REACHES = text(
    """
    SELECT ST_DWithin(o.cell, c.location, o.radius_meters, false) AS donor_in_reach,
           ST_DWithin(n.cell, c.location, c.reach_meters, false) AS need_in_reach
    FROM collection_points c, offers o, needs n
    WHERE c.id = :point AND o.id = :offer AND n.id = :need
    """
)


async def check_relay(
    *, session: AsyncSession, point_id: int, offer: Offer | None, need: Need, quantity: int
) -> CollectionPoint:
    """Whether this pledge may go through the point: open, within the offer's travel radius (the
    donor's public cell to the point), reaching the need (its public cell, never its exact point: the
    answer must not depend on where the person lives within the cell), and with `quantity` units left
    today. Locks the point's row until commit, so two relays at once cannot both take its last units."""
    point = (
        await session.execute(select(CollectionPoint).where(CollectionPoint.id == point_id).with_for_update())
    ).scalar_one_or_none()
    if point is None or not point.active:
        raise Problems.one("collectionPointId", msg("No open collection point has this id."), Code.NOT_FOUND)
    if offer is None:
        raise Problems.one(
            "offerId", msg("A pledge through a collection point comes from one of your offers."), Code.REQUIRED
        )
    reaches = (await session.execute(_REACHES, {"point": point.id, "offer": offer.id, "need": need.id})).one()
    if not reaches.donor_in_reach:
        raise Problems.one(
            "collectionPointId", msg("This collection point is beyond your offer's travel radius."), Code.OUT_OF_RANGE
        )
    if not reaches.need_in_reach:
        raise Problems.one(
            "collectionPointId", msg("This collection point does not deliver as far as this need."), Code.OUT_OF_RANGE
        )
    left = (await units_left(session, [point]))[point.id]
    if quantity > left:
        raise Problems.one(
            "quantity",
            msg("This collection point can carry only {n} more units today.", n=left),
            Code.QUOTA_EXCEEDED,
        )
    return point


async def carried_by(*, session: AsyncSession, viewer: Viewer, limit: int = CARRIED_LIMIT) -> list[Pledge]:
    """The relayed pledges the viewer carries (as a point's manager) that are not delivered yet,
    oldest first: the manager's round of deliveries."""
    rows = await session.execute(
        select(Pledge)
        .where(Pledge.carrier_id == viewer.account_id, Pledge.status == PledgeStatus.PLEDGED.value)
        .order_by(Pledge.created_at, Pledge.id)
        .limit(limit)
    )
    return list(rows.scalars())
