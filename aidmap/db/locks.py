"""Transaction-scoped advisory locks: two concurrent requests that count before they write (quotas,
a donor's pledges, sign-in attempts) take the same key's lock, so they cannot both pass the count."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, CAST(:space AS bigint)))")


async def lock_until_commit(session: AsyncSession, key: str, *, space: int = 7) -> None:
    """Hold `key`'s lock until the transaction ends. `space` is the hash seed: keys of different
    spaces never share a lock (sign-in attempts use their own)."""
    await session.execute(_LOCK, {"key": key, "space": space})
