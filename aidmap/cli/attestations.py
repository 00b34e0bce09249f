"""`aidmap keys rotate | list` and `aidmap trust add | refresh | remove | list`: attestation signing
keys and the other deployments whose attestations are accepted, from the command line (how an
attestation is issued, checked and revoked: aidmap/resolvers/attestations.py). A trusted
deployment's keys and status list are fetched here, at configuration time, never per request."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from joserfc.jwk import KeySet

from aidmap.db.connect import connect
from aidmap.resolvers.attestations import JWKS_PATH, STATUS_PATH, new_key, unverify_revoked

# -- signing keys --------------------------------------------------------------------------------


def rotate(*, url: str, secret: bytes, grace: timedelta) -> tuple[str, str | None]:
    """`aidmap keys rotate`: a new signer; the old one signs nothing more (its private half is wiped)
    and stays published for `grace`. Returns (new kid, retired kid)."""
    kid, public, sealed = new_key(secret)
    with connect(url) as conn, conn.transaction():
        conn.execute("LOCK TABLE attestation_keys IN SHARE ROW EXCLUSIVE MODE")
        old = conn.execute(
            "UPDATE attestation_keys SET active = NULL, private_key = NULL, retired_at = now(), "
            "publish_until = now() + %(grace)s::interval WHERE active RETURNING kid",
            {"grace": grace},
        ).fetchone()
        conn.execute(
            "INSERT INTO attestation_keys (kid, public_jwk, private_key, active) "
            "VALUES (%(kid)s::text, %(public)s::jsonb, %(sealed)s::bytea, true)",
            {"kid": kid, "public": json.dumps(public), "sealed": sealed},
        )
    return kid, old[0] if old else None


def key_listing(*, url: str) -> list[tuple[str, str, datetime | None]]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT kid, CASE WHEN active THEN 'active' WHEN publish_until > now() THEN 'retired, published' "
            "ELSE 'retired' END, publish_until FROM attestation_keys ORDER BY created_at"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


# -- trusting another deployment -----------------------------------------------------------------


def _fetch_json(url: str, timeout: float) -> Any:
    response = httpx.get(url, timeout=timeout, follow_redirects=False)
    if response.status_code != 200:
        raise ValueError(f"{url} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ValueError(f"{url} did not answer JSON") from None


def _checked_jwks(data: Any, url: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise ValueError(f"{url} is not a JWKS with keys")
    keys = [k for k in data["keys"] if isinstance(k, dict) and k.get("kty") == "OKP" and k.get("crv") == "Ed25519"]
    if not keys or any("d" in k for k in keys):
        raise ValueError(f"{url} has no public Ed25519 keys (or holds a private one)")
    KeySet.import_key_set({"keys": keys})  # raises on malformed keys
    return {"keys": keys}


def _revoked(data: Any, url: str) -> list[str]:
    if not isinstance(data, dict) or not isinstance(data.get("revoked"), list):
        raise ValueError(f"{url} is not an attestation status list")
    return [str(j) for j in data["revoked"]]


def _issuer_of(jwks_url: str) -> str:
    if not jwks_url.endswith(JWKS_PATH):
        raise ValueError(f"the JWKS URL must end with {JWKS_PATH} (the deployment's public URL before it)")
    return jwks_url.removesuffix(JWKS_PATH)


def trust_add(*, url: str, jwks_url: str, name: str | None, timeout: float = 10.0) -> tuple[str, int, int]:
    """Fetch and cache a deployment's JWKS and status list; (name, keys, revoked)."""
    issuer = _issuer_of(jwks_url)
    jwks = _checked_jwks(_fetch_json(jwks_url, timeout), jwks_url)
    status_url = issuer + STATUS_PATH
    revoked = _revoked(_fetch_json(status_url, timeout), status_url)
    label = (name or "").strip() or issuer.split("://", 1)[-1]
    if len(label) > 80:
        raise ValueError("--name must be at most 80 characters")
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO trusted_deployments (name, issuer, jwks_url, jwks, status_url, revoked, fetched_at) "
            "VALUES (%(name)s::text, %(issuer)s::text, %(jwks_url)s::text, %(jwks)s::jsonb, %(status_url)s::text, "
            "%(revoked)s::text[], now()) ON CONFLICT (issuer) DO UPDATE SET name = EXCLUDED.name, "
            "jwks_url = EXCLUDED.jwks_url, jwks = EXCLUDED.jwks, status_url = EXCLUDED.status_url, "
            "revoked = EXCLUDED.revoked, fetched_at = now()",
            {
                "name": label,
                "issuer": issuer,
                "jwks_url": jwks_url,
                "jwks": json.dumps(jwks),
                "status_url": status_url,
                "revoked": revoked,
            },  # fmt: skip
        )
    return label, len(jwks["keys"]), len(revoked)


async def _unverify_revoked_at(url: str, require_verification: bool) -> dict[int, int]:
    from aidmap.db.engine import make_engine, make_sessionmaker

    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await unverify_revoked(session=session, require_verification=require_verification)
    finally:
        await engine.dispose()


def trust_refresh(*, url: str, timeout: float = 10.0, require_verification: bool = True) -> list[tuple[str, str]]:
    """Re-fetch every trusted deployment's JWKS and status list (from cron); (name, outcome) each.
    A deployment that cannot be reached keeps what was cached. Needs that came with an attestation
    now revoked lose that verification (`unverify_revoked`)."""
    outcomes = []
    with connect(url, autocommit=True) as conn:
        for name, jwks_url, status_url in conn.execute(
            "SELECT name, jwks_url, status_url FROM trusted_deployments ORDER BY name"
        ).fetchall():
            try:
                jwks = _checked_jwks(_fetch_json(jwks_url, timeout), jwks_url)
                revoked = _revoked(_fetch_json(status_url, timeout), status_url)
            except Exception as error:  # noqa: BLE001 - reported per deployment, the others go on
                outcomes.append((name, f"kept the cached keys: {error}"))
                continue
            conn.execute(
                "UPDATE trusted_deployments SET jwks = %(jwks)s::jsonb, revoked = %(revoked)s::text[], "
                "fetched_at = now() WHERE name = %(name)s::text",
                {"jwks": json.dumps(jwks), "revoked": revoked, "name": name},
            )
            outcomes.append((name, f"{len(jwks['keys'])} keys, {len(revoked)} revoked"))
        ids = dict(conn.execute("SELECT name, id FROM trusted_deployments").fetchall())
    # Also from what was cached when a deployment could not be reached: a revocation seen once holds.
    unverified = asyncio.run(_unverify_revoked_at(url, require_verification))
    reported = []
    for name, outcome in outcomes:
        n = unverified.get(ids.get(name, 0), 0)
        reported.append((name, f"{outcome}, {n} need{'s' if n != 1 else ''} unverified" if n else outcome))
    return reported


def trust_remove(*, url: str, name: str) -> bool:
    with connect(url) as conn:
        return conn.execute("DELETE FROM trusted_deployments WHERE name = %(name)s::text", {"name": name}).rowcount > 0


def trust_listing(*, url: str) -> list[tuple[str, str, int, int, datetime]]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT name, issuer, jsonb_array_length(jwks->'keys'), cardinality(revoked), fetched_at "
            "FROM trusted_deployments ORDER BY name"
        ).fetchall()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
