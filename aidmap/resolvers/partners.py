"""Partner apps: API keys with scopes, a rate limit and CORS origins, as requests present them
(created, revoked and listed from the command line: aidmap/cli/partners.py)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from aidmap.db.reader import Reader
from aidmap.models import Scope

KEY_PREFIX = "amk_"  # tells a partner key from a user token at a glance (and in leaked-secret scanners)


@dataclass(frozen=True)
class PartnerKey:
    """A valid, unrevoked partner key as a request presents it."""

    id: int
    name: str
    scopes: frozenset[str]
    rate_limit_per_minute: int
    allowed_origins: frozenset[str]
    registered_queries_only: bool = False

    def allows(self, scope: Scope) -> bool:
        return scope.value in self.scopes


def is_partner_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_KEY_SQL = """
SELECT id, name, scopes, rate_limit_per_minute, allowed_origins, registered_queries_only FROM partners
WHERE key_hash = %(key_hash)s::text AND revoked_at IS NULL
"""
_ORIGINS_SQL = "SELECT DISTINCT unnest(allowed_origins) AS origin FROM partners WHERE revoked_at IS NULL"


class PartnerKeys:
    """Key look-ups with a short cache: the rate limiter and the GraphQL context both ask on every request.
    A revoked key stops working within `ttl_s`."""

    def __init__(self, reader: Reader, *, ttl_s: float = 10.0) -> None:
        self._reader = reader
        self._ttl_s = ttl_s
        self._keys: dict[str, tuple[float, PartnerKey | None]] = {}
        self._origins: tuple[float, frozenset[str]] | None = None

    async def lookup(self, key: str) -> PartnerKey | None:
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        rows = await self._reader.fetch(_KEY_SQL, {"key_hash": digest})
        found = (
            PartnerKey(
                id=rows[0].id,
                name=rows[0].name,
                scopes=frozenset(rows[0].scopes),
                rate_limit_per_minute=rows[0].rate_limit_per_minute,
                allowed_origins=frozenset(rows[0].allowed_origins),
                registered_queries_only=rows[0].registered_queries_only,
            )
            if rows
            else None
        )
        if len(self._keys) > 10_000:  # random keys from an attacker must not grow this without bound
            self._keys.clear()
        self._keys[digest] = (now, found)
        return found

    async def all_origins(self) -> frozenset[str]:
        """Origins any active partner allows (what a CORS preflight, which carries no key, is checked against)."""
        now = time.monotonic()
        if self._origins is not None and now - self._origins[0] < self._ttl_s:
            return self._origins[1]
        origins = frozenset(r.origin for r in await self._reader.fetch(_ORIGINS_SQL, {}))
        self._origins = (now, origins)
        return origins
