"""Keyset pages in creation order: one person's needs, offers or pledges, a verifier's queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.cursors import check_page_size, created_cursor, parse_created_cursor
from aidmap.db.nearby import Hit, Page


async def newest_first(
    *,
    session: AsyncSession,
    model: Any,
    where: ColumnElement[bool],
    first: int,
    after: str | None,
    oldest_first: bool = False,
) -> Page[Any]:
    """Rows of `model` matching `where`, newest (or oldest) first, keyset-paged by (created_at, id)."""
    check_page_size(first)
    query = select(model).where(where)
    key = tuple_(model.created_at, model.id)
    if after is not None:
        created, last_id = parse_created_cursor(after)
        query = query.where(key > tuple_(created, last_id) if oldest_first else key < tuple_(created, last_id))
    order = (model.created_at, model.id) if oldest_first else (model.created_at.desc(), model.id.desc())
    query = query.order_by(*order).limit(first + 1)
    rows = list((await session.execute(query)).scalars())
    hits = [Hit(row=row, distance_m=0.0, cursor=created_cursor(row.created_at, row.id)) for row in rows[:first]]
    return Page(hits=hits, has_next=len(rows) > first)
