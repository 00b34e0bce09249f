"""`aidmap partner create | revoke | list`: partner apps' keys, made and revoked from the command line
(how a request's key is looked up: aidmap/resolvers/partners.py)."""

from __future__ import annotations

import secrets

from aidmap.models import Scope
from aidmap.resolvers.partners import KEY_PREFIX, hash_key

__all__ = ["create", "hash_key", "listing", "parse_scopes", "revoke"]


def parse_scopes(raw: str) -> list[str]:
    """Scopes from 'needs:read,needs:write'; raises ValueError naming unknown ones."""
    scopes = sorted({s.strip() for s in raw.split(",") if s.strip()})
    known = {s.value for s in Scope}
    unknown = [s for s in scopes if s not in known]
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
    return scopes


def create(
    *,
    url: str,
    name: str,
    scopes: list[str],
    rate_limit_per_minute: int,
    allowed_origins: list[str],
    registered_queries_only: bool = False,
) -> tuple[int, str]:
    """A new partner; returns (id, key). Only the key's hash is stored: the key is shown once."""
    from aidmap.db.connect import connect

    name = name.strip()
    if not name or len(name) > 80:
        raise ValueError("Give the partner a name of 1 to 80 characters (--name).")
    if rate_limit_per_minute <= 0:
        raise ValueError("The rate limit must be a positive number of requests per minute.")
    for origin in allowed_origins:
        if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
            raise ValueError(f"An origin looks like https://app.example.org (no path): {origin!r}.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with connect(url) as conn:
        if conn.execute("SELECT 1 FROM partners WHERE name = %(name)s::text", {"name": name}).fetchone():
            raise ValueError(f"A partner named {name!r} already exists.")
        row = conn.execute(
            "INSERT INTO partners (name, key_hash, scopes, rate_limit_per_minute, allowed_origins, "
            "registered_queries_only) VALUES (%(name)s::text, %(key_hash)s::text, %(scopes)s::text[], %(rate)s::integer, "
            "%(origins)s::text[], %(registered_only)s::boolean) RETURNING id",
            {
                "name": name,
                "key_hash": hash_key(key),
                "scopes": scopes,
                "rate": rate_limit_per_minute,
                "origins": allowed_origins,
                "registered_only": registered_queries_only,
            },
        ).fetchone()
    assert row is not None
    return int(row[0]), key


def revoke(*, url: str, name: str) -> bool:
    """Revoke the partner's key; False when no active partner has that name."""
    from aidmap.db.connect import connect

    with connect(url) as conn:
        cursor = conn.execute(
            "UPDATE partners SET revoked_at = now() WHERE name = %(name)s::text AND revoked_at IS NULL",
            {"name": name.strip()},
        )
        return cursor.rowcount == 1


def listing(*, url: str) -> list[tuple[str, list[str], int, list[str], bool]]:
    """(name, scopes, rate limit, origins, active) of every partner."""
    from aidmap.db.connect import connect

    with connect(url) as conn:
        rows = conn.execute(
            "SELECT name, scopes, rate_limit_per_minute, allowed_origins, revoked_at IS NULL FROM partners ORDER BY name"
        ).fetchall()
    return [(r[0], list(r[1]), int(r[2]), list(r[3]), bool(r[4])) for r in rows]
