"""`aidmap partner create | revoke | list | register-queries`: partner apps' keys and their registered
queries, from the command line (how a request's key is looked up: aidmap/resolvers/partners.py;
how a registered query is served: aidmap/resolvers/persisted.py)."""

from __future__ import annotations

import secrets
from pathlib import Path

from aidmap.db.connect import connect
from aidmap.models import Scope
from aidmap.resolvers.partners import KEY_PREFIX, hash_key
from aidmap.resolvers.persisted import sha256_of

__all__ = ["create", "hash_key", "listing", "parse_scopes", "register_queries", "revoke"]


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


def register_queries(*, url: str, partner_name: str, paths: list[Path]) -> list[tuple[str, str]]:
    """Register each file's document for the partner; returns (file, sha256) pairs. The client sends
    the same text's sha256 as extensions.persistedQuery.sha256Hash."""
    registered = []
    with connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM partners WHERE name = %(name)s::text AND revoked_at IS NULL", {"name": partner_name}
        ).fetchone()
        if row is None:
            raise ValueError(f"No active partner named {partner_name!r}.")
        for path in paths:
            query = path.read_text(encoding="utf-8")
            digest = sha256_of(query)
            conn.execute(
                "INSERT INTO persisted_queries (sha256, query) VALUES (%(sha256)s::text, %(query)s::text) "
                "ON CONFLICT (sha256) DO NOTHING",
                {"sha256": digest, "query": query},
            )
            conn.execute(
                "INSERT INTO partner_queries (partner_id, sha256) VALUES (%(partner)s::bigint, %(sha256)s::text) "
                "ON CONFLICT DO NOTHING",
                {"partner": row[0], "sha256": digest},
            )
            registered.append((str(path), digest))
    return registered
