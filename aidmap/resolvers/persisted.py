"""Persisted queries: Apollo's automatic protocol (send a hash; send the query once when it is unknown),
and partners that accept only queries registered for them in advance."""

from __future__ import annotations

import hashlib

from aidmap.bounded import BoundedDict
from aidmap.db.reader import Reader

MAX_CACHED = 2048
# The largest document stored under its hash (a real one is a few kB; comments cost no tokens,
# so without this 50 requests of a 100,000-character comment stored 5 MB).
MAX_QUERY_CHARS = 20_000
# Automatic (unregistered) entries kept (AIDMAP_MAX_PERSISTED_QUERIES); beyond, the least recently
# used go. A client whose entry went, or whose quota was spent, simply gets PERSISTED_QUERY_NOT_FOUND
# and sends the query again (Apollo's protocol); the query runs either way.
MAX_AUTOMATIC = 10_000


# Registered queries (partner_queries) are never evicted.
EVICT = """
DELETE FROM persisted_queries WHERE sha256 IN (
    SELECT p.sha256 FROM persisted_queries p
    WHERE NOT EXISTS (SELECT 1 FROM partner_queries r WHERE r.sha256 = p.sha256)
    ORDER BY p.last_used_at DESC, p.sha256 OFFSET %(keep)s::int
)
"""


def sha256_of(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


# Stored only while the client has stored fewer than its quota in the last day (entries it stored
# that were evicted since no longer count; the cap on all automatic entries bounds that churn). An
# entry already there is touched instead, whoever sends it.
_PUT = """
WITH quota AS (
    SELECT count(*) < %(quota)s::int AS ok FROM persisted_queries
    WHERE stored_by = %(client)s::text AND created_at > now() - interval '1 day'
)
INSERT INTO persisted_queries (sha256, query, stored_by)
SELECT %(sha)s::text, %(query)s::text, %(client)s::text FROM quota WHERE ok
ON CONFLICT (sha256) DO UPDATE SET last_used_at = now()
RETURNING sha256
"""


class PersistedQueries:
    """Hash -> query, shared by every process through the database, cached in this one."""

    def __init__(self, reader: Reader, *, per_client_per_day: int = 100, max_automatic: int | None = None) -> None:
        self._reader = reader
        self._queries: BoundedDict[str, str] = BoundedDict(MAX_CACHED)
        self._registered: set[tuple[int, str]] = set()
        self.per_client_per_day = per_client_per_day
        self.max_automatic = MAX_AUTOMATIC if max_automatic is None else max_automatic

    async def get(self, digest: str) -> str | None:
        query = self._queries.get(digest)
        if query is None:
            rows = await self._reader.fetch(
                "SELECT query FROM persisted_queries WHERE sha256 = %(sha)s::text", {"sha": digest}
            )
            if not rows:
                return None
            query = rows[0].query
            self._queries[digest] = query
            # Touched when a process first loads it: what every process uses stays.
            await self._reader.execute(
                "UPDATE persisted_queries SET last_used_at = now() WHERE sha256 = %(sha)s::text", {"sha": digest}
            )
        return query

    async def put(self, digest: str, query: str, client: str) -> bool:
        """Store a query that parsed, validated and is within the limits (the caller checks) for
        `client` ("partner:1", "account:2", "ip:..."); False when its daily quota is spent."""
        if digest in self._queries:
            return True
        rows = await self._reader.fetch(
            _PUT, {"sha": digest, "query": query, "client": client, "quota": self.per_client_per_day}
        )
        if not rows:
            return False
        self._queries[digest] = query
        await self._reader.execute(EVICT, {"keep": self.max_automatic})
        return True

    async def registered_for(self, partner_id: int, digest: str) -> bool:
        if (partner_id, digest) in self._registered:
            return True
        rows = await self._reader.fetch(
            "SELECT 1 AS ok FROM partner_queries WHERE partner_id = %(p)s::bigint AND sha256 = %(sha)s::text",
            {"p": partner_id, "sha": digest},
        )
        if rows:
            self._registered.add((partner_id, digest))
        return bool(rows)
