"""Each client's share of the hot-read pool: at most a few of its searches at once, per process.

The pool holds `AIDMAP_DB_POOL_SIZE` connections for every request. A document may hold a dozen
aliased searches (the cost limit allows them), and graphql-core runs a query's root fields
concurrently: without a share, one client's document could take every connection, and everyone
else's searches and token look-ups would wait behind it. With one, the client's own searches queue
behind each other and the rest of the pool stays free. A client is what the rate limit counts
(guards/identity.py: the partner key, else the address); the share is per process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aidmap.db.replica import Reads

# Clients remembered before the idle ones are forgotten (a dict, not weak references: those cost
# 4 us per read, creating a semaphore for nearly every request).
MAX_CLIENTS = 10_000


class ClientShares:
    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._shares: dict[str, asyncio.Semaphore] = {}

    def reads_for(self, client: str, reads: Reads) -> Reads:
        """`reads`, at most `per_client` of this client's statements at once (0: no share)."""
        if self.per_client <= 0:
            return reads
        share = self._shares.get(client)
        if share is None:
            if len(self._shares) >= MAX_CLIENTS:
                # Only clients using their whole share are kept; one using part of it may get a
                # fresh share once, a moment's slack of at most per_client reads.
                self._shares = {key: kept for key, kept in self._shares.items() if kept.locked()}
            share = self._shares[client] = asyncio.Semaphore(self.per_client)
        return _Shared(reads, share)


class _Shared:
    __slots__ = ("_reads", "_share")

    def __init__(self, reads: Reads, share: asyncio.Semaphore) -> None:
        self._reads, self._share = reads, share

    async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
        async with self._share:
            return await self._reads.fetch(sql, params, binary=binary)
