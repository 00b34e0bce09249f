"""Distance-ordered keyset search shared by needs and offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from geoalchemy2 import Geography
from sqlalchemy import ColumnElement, Float, cast, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.resolvers.cursors import check_page_size, distance_cursor, parse_distance_cursor
from aidmap.resolvers.problems import UserInputError
from aidmap.resolvers.validation import Checker

T = TypeVar("T")


@dataclass(frozen=True)
class Hit(Generic[T]):
    row: T
    distance_m: float
    cursor: str


@dataclass(frozen=True)
class Page(Generic[T]):
    hits: list[Hit[T]]
    has_next: bool


def origin_point(*, lon: float, lat: float) -> ColumnElement[Any]:
    return cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)


def check_search_area(*, lat: float, lon: float, radius_m: float) -> None:
    """Raises UserInputError for an invalid centre or radius."""
    check = Checker()
    check.point("near", lat, lon)
    check.radius("radiusMeters", radius_m)
    if check.problems:
        problem = check.problems[0]
        raise UserInputError(problem.field or "near", problem.message, problem.code)


async def nearest(
    *,
    session: AsyncSession,
    model: Any,
    lon: float,
    lat: float,
    radius_m: float,
    where: list[ColumnElement[bool]],
    first: int,
    after: str | None,
) -> Page[Any]:
    """Rows of `model` within radius_m of the point, nearest first, keyset-paged by (distance, id)."""
    check_page_size(first)
    check_search_area(lat=lat, lon=lon, radius_m=radius_m)
    origin = origin_point(lon=lon, lat=lat)
    # `<->` on geography is the KNN operator the GiST index orders by (sphere distance, metres).
    distance = model.location.op("<->", return_type=Float)(origin)
    query = select(model, distance.label("distance")).where(*where, func.ST_DWithin(model.location, origin, radius_m))
    if after is not None:
        # Resume after the last row seen, measuring its distance again from this origin.
        last_id = parse_distance_cursor(after)
        last_distance = select(model.location.op("<->", return_type=Float)(origin)).where(model.id == last_id).scalar_subquery()
        query = query.where(tuple_(distance, model.id) > tuple_(last_distance, literal(last_id)))
    query = query.order_by(distance, model.id).limit(first + 1)
    rows = (await session.execute(query)).all()
    hits = [Hit(row=row[0], distance_m=row[1], cursor=distance_cursor(row[0].id)) for row in rows[:first]]
    return Page(hits=hits, has_next=len(rows) > first)
