"""The async engine and the one session factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # A round trip per checkout, so a database restart costs no failed write; the hot
        # read path (db/reader.py) retries instead.
        pool_pre_ping=True,
        # psycopg prepares statements after 5 uses: the hot queries skip planning.
        connect_args={"prepare_threshold": 5},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for writes: each `async with session.begin()` is one transaction."""
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for single-statement reads, in autocommit: no BEGIN/ROLLBACK round trips per query."""
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


# How many sessions one request may hold at once. Aliases run concurrently: one document of 30
# `areas` aliases held all 10 pooled connections plus 10 overflow ones, opened and closed again for
# it (a connection and a pre-ping each), while every other request waited for the pool.
SESSIONS_PER_REQUEST = 4


class RequestSessions:
    """One request's read sessions (a websocket's: all its operations share one context), `async with
    reads() as session`, at most `limit` at a time. Not re-entrant: code holding a read session must not
    wait for another one (a loader, `need_views`...), or `limit` such holders wait on each other for good."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], limit: int = SESSIONS_PER_REQUEST) -> None:
        self._factory = factory
        self._slots = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self._slots, self._factory() as session:
            yield session
