"""The async engine and the one session factory."""

from __future__ import annotations

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
