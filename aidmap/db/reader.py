"""Hot read-only queries on a plain psycopg pool, next to SQLAlchemy.

SQLAlchemy's async session costs ~0.55 ms per checkout on this machine (measured:
0.66 ms vs 0.12 ms for `SELECT 1`), as much as the nearby search itself. The few
hand-written, read-only statements on the hot path (search, token look-up) run
here in autocommit; everything else, and every write, goes through SQLAlchemy.
"""

from __future__ import annotations

import functools
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool


def conninfo_from_url(url: str) -> str:
    """A libpq URI from a SQLAlchemy URL (drops the +driver part)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


@functools.cache  # tables are few and fixed; the nearby search asks on every request
def located_columns(table: Any, alias: str = "") -> str:
    """A select list of every column of a table with a `location`, that column given as `lat` and
    `lon` instead, and its public `cell` as `cell_lat` and `cell_lon` (rows read here carry plain
    floats, not geography values)."""
    prefix = f"{alias}." if alias else ""
    names = [f"{prefix}{column.name}" for column in table.c if column.name not in ("location", "cell", "rank_point")]
    return ", ".join(
        [
            *names,
            f"ST_Y(geometry({prefix}location)) AS lat",
            f"ST_X(geometry({prefix}location)) AS lon",
            f"ST_Y(geometry({prefix}cell)) AS cell_lat",
            f"ST_X(geometry({prefix}cell)) AS cell_lon",
        ]
    )


# How long a request waits for a connection. While the database is down the pool has none to give:
# after this the request fails with the retryable UNAVAILABLE error instead of hanging (psycopg_pool
# would wait 30 s). Queries take milliseconds, so a healthy pool never makes a request wait this long.
CONNECTION_WAIT_S = 2.0


class Reader:
    def __init__(self, url: str, *, max_size: int, connection_wait_s: float = CONNECTION_WAIT_S) -> None:
        self._connection_wait_s = connection_wait_s
        self._pool = AsyncConnectionPool(
            conninfo_from_url(url),
            min_size=1,
            max_size=max_size,
            open=False,
            # prepare_threshold: hot statements are prepared server-side after two uses.
            kwargs={"autocommit": True, "prepare_threshold": 2},
        )

    async def open(self, *, wait: bool = True) -> None:
        """Open the pool; wait=False connects in the background (a replica that may be down at start)."""
        await self._pool.open(wait=wait, timeout=30)

    async def close(self) -> None:
        await self._pool.close()

    async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
        """All rows of one statement, as named tuples (attribute access by column name).

        binary=True asks for results in PostgreSQL's binary format: ~12% less client CPU for wide
        rows (timestamps, numbers), but only for columns of built-in types (a geography would come
        back as bytes), so each caller opts in.

        A read is safe to repeat: when a connection died (a database restart), the pool
        drops every broken idle connection and the read is tried once more.
        """
        try:
            return await self._fetch(sql, params, binary)
        except psycopg.OperationalError:
            await self._pool.check()
            return await self._fetch(sql, params, binary)

    async def execute(self, sql: str, params: dict[str, Any]) -> None:
        """One statement that returns nothing (an autocommitted write)."""
        async with self._pool.connection(timeout=self._connection_wait_s) as conn:
            await conn.execute(sql, params)

    async def fetch_once(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
        """fetch without the retry, for a caller with somewhere else to go (db/replica.py)."""
        return await self._fetch(sql, params, binary)

    async def _fetch(self, sql: str, params: dict[str, Any], binary: bool) -> list[Any]:
        # getconn/putconn rather than pool.connection(): its `async with conn` commits, which in
        # autocommit does nothing but take the connection's lock (with the context managers, 3% of a
        # search's CPU). putconn still checks the connection: one left broken or in a transaction is
        # rolled back or replaced.
        pool = self._pool
        conn = await pool.getconn(timeout=self._connection_wait_s)
        try:
            cursor = conn.cursor(row_factory=namedtuple_row, binary=binary)
            await cursor.execute(sql, params)
            return await cursor.fetchall()
        finally:
            await pool.putconn(conn)
