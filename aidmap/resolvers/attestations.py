"""Verification as a signed, portable statement that partner apps check offline.

On verifyNeed aidmap issues an attestation: a compact JWS (JWT claims, EdDSA over Ed25519, signed
with joserfc) saying that a verifier of ward W (the role, never the person) verified need N at T, with
a hash of N's public fields, until an expiry. Partners verify it against `/.well-known/jwks.json` and
`/attestations/status` (both cacheable) with any JOSE library; the tests do it with jwcrypto and npm's
`jose`.

The privacy rule holds for the payload too: it carries only what an anonymous viewer of the need sees
(its id, ward code, public text and numbers, and its ~500 m cell), never the exact point, the phone or
a name; the hash covers the same public fields, so a partner can recompute it from the public API.

Keys live in PostgreSQL (models/attestation.py says why), the private half encrypted with a key derived
from AIDMAP_SECRET_KEY. `aidmap keys rotate` adds a signer and retires the old one: it signs nothing
more (its private half is wiped at once) and stays in the JWKS for a grace period, by default the
attestations' lifetime, so everything it signed verifies until it expires.

Another deployment's attestations are accepted on createNeed and importNeeds once the operator trusted
its JWKS (`aidmap trust add --jwks URL`): fetched then, and on `aidmap trust refresh`, never per request.
Both commands, and `keys rotate`, are aidmap/cli/attestations.py.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import secrets
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey
from joserfc.util import to_bytes
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.geo.privacy import snap_to_cell
from aidmap.i18n import msg
from aidmap.problems import Code, Problems
from aidmap.resolvers.validation import utcnow

log = logging.getLogger(__name__)

ALG = "EdDSA"
TYP = "aidmap-attestation+jwt"
STATUS_PATH = "/attestations/status"
JWKS_PATH = "/.well-known/jwks.json"
# Tokens are short (~600 characters); anything far longer is not one of ours (and a btree entry of
# needs.received_attestation must stay under PostgreSQL's ~2,700 bytes).
MAX_TOKEN_CHARS = 2000


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """joserfc warns that RFC 9864 deprecates "EdDSA" for the fully specified "Ed25519"; we sign with
    EdDSA, which every JOSE library partners use (jwcrypto, npm jose, PyJWT) understands today."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        yield


# -- what is attested -------------------------------------------------------------------------


def public_fields(need: Any) -> dict[str, object]:
    """The need's public fields as the API names and shows them to anyone (approximateLocation is the
    cell's centre, to 6 decimals). Never the exact point, the phone or names."""
    cell_lon, cell_lat = snap_to_cell(need.lon, need.lat)
    return {
        "category": str(need.category),
        "title": need.title,
        "details": need.details,
        "quantity": need.quantity,
        "unit": need.unit,
        "urgency": str(need.urgency),
        "householdSize": need.household_size,
        "approximateLocation": f"{cell_lat:.6f},{cell_lon:.6f}",
    }


def hash_fields(fields: dict[str, object]) -> str:
    """base64url(sha256(the fields as JSON: keys sorted, no spaces, UTF-8))."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


def need_hash(need: Any) -> str:
    return hash_fields(public_fields(need))


# -- keys ---------------------------------------------------------------------------------------


def _box(secret: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"aidmap attestation keys").derive(secret)
    return AESGCM(key)


def seal(private_jwk: dict[str, object], kid: str, secret: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + _box(secret).encrypt(nonce, json.dumps(private_jwk).encode(), kid.encode())


def unseal(sealed: bytes, kid: str, secret: bytes) -> OKPKey:
    data = _box(secret).decrypt(sealed[:12], sealed[12:], kid.encode())
    return OKPKey.import_key(json.loads(data))


def new_key(secret: bytes) -> tuple[str, dict[str, object], bytes]:
    """(kid, public JWK, sealed private key) of a fresh Ed25519 key."""
    kid = secrets.token_urlsafe(12)
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid, "use": "sig", "alg": ALG})
    public = key.as_dict(private=False)
    return kid, public, seal(key.as_dict(private=True), kid, secret)


_ACTIVE = text("SELECT kid, private_key FROM attestation_keys WHERE active")
_INSERT_KEY = text(
    "INSERT INTO attestation_keys (kid, public_jwk, private_key, active) "
    "VALUES (:kid, CAST(:jwk AS jsonb), :private, true) ON CONFLICT (active) DO NOTHING"
)


class KeyUnavailable(Exception):
    """The signer's private half cannot be opened with this AIDMAP_SECRET_KEY (it changed)."""


async def ensure_key(session: AsyncSession, secret: bytes) -> Any:
    """The active key's row, made on first use (the unique `active` column lets only one process's
    insert win; the others read the winner's)."""
    row = (await session.execute(_ACTIVE)).first()
    if row is None:
        kid, public, sealed = new_key(secret)
        await session.execute(_INSERT_KEY, {"kid": kid, "jwk": json.dumps(public), "private": sealed})
        row = (await session.execute(_ACTIVE)).first()
    assert row is not None
    return row


async def signing_key(session: AsyncSession, secret: bytes) -> tuple[str, OKPKey]:
    row = await ensure_key(session, secret)
    try:
        return row.kid, unseal(row.private_key, row.kid, secret)
    except InvalidTag:
        raise KeyUnavailable(row.kid) from None


JWKS_SQL = "SELECT public_jwk FROM attestation_keys WHERE active OR publish_until > now() ORDER BY created_at DESC"
STATUS_SQL = "SELECT jti FROM attestations WHERE revoked_at IS NOT NULL AND expires_at > now() ORDER BY jti"


# -- issuing and revoking -----------------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    url: str  # the `iss`: this deployment's public URL
    secret: bytes
    ttl: timedelta


def attestation_issuer(settings: Any) -> Issuer:
    """This deployment as an issuer (settings: aidmap.settings.Settings)."""
    return Issuer(
        url=settings.issuer_url(), secret=settings.phone_hash_key(), ttl=timedelta(days=settings.attestation_ttl_days)
    )


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


async def issue(*, session: AsyncSession, issuer: Issuer, need: Any, role: str, verified_at: datetime) -> str | None:
    """Sign an attestation for a verified need; earlier ones of the need are revoked (superseded)."""
    from aidmap.schema.ids import to_global_id

    await revoke(session=session, need_id=need.id)
    try:
        kid, key = await signing_key(session, issuer.secret)
    except KeyUnavailable as missing:
        # The verification stands; only its signed copy is missing until an operator rotates the key.
        log.error("attestation key %s cannot be opened with this AIDMAP_SECRET_KEY: run `aidmap keys rotate`", missing)
        return None
    now = utcnow()
    expires = now + issuer.ttl
    jti = uuid.uuid4().hex
    claims = {
        "iss": issuer.url,
        "sub": to_global_id("Need", need.id),
        "jti": jti,
        "iat": _epoch(now),
        "exp": _epoch(expires),
        "ward": need.ward_code,
        "role": role,
        "verified_at": _epoch(verified_at),
        "need_hash": need_hash(need),
    }
    with _quiet():
        token = jwt.encode({"alg": ALG, "kid": kid, "typ": TYP}, claims, key, algorithms=[ALG])
    await session.execute(
        text(
            "INSERT INTO attestations (jti, need_id, kid, token, issued_at, expires_at) "
            "VALUES (:jti, :need, :kid, :token, :now, :exp)"
        ),
        {"jti": jti, "need": need.id, "kid": kid, "token": token, "now": now, "exp": expires},
    )
    return token


async def revoke(*, session: AsyncSession, need_id: int) -> int:
    """Revoke the need's live attestations (its verification no longer holds); how many."""
    result = await session.execute(
        text("UPDATE attestations SET revoked_at = now() WHERE need_id = :need AND revoked_at IS NULL"),
        {"need": need_id},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def reissue_if_changed(*, session: AsyncSession, issuer: Issuer, need: Any) -> None:
    """After an edit that kept the badge (urgency or household size lowered): the hash changed, so the
    live attestation is replaced by one over the fields as they are now, same role and time."""
    row = (
        await session.execute(
            text(
                "SELECT token FROM attestations WHERE need_id = :need AND revoked_at IS NULL "
                "ORDER BY issued_at DESC LIMIT 1"
            ),
            {"need": need.id},
        )
    ).first()
    if row is None:
        return
    claims = unverified_claims(row.token)
    if claims.get("need_hash") == need_hash(need) and claims.get("ward") == need.ward_code:
        return
    await issue(
        session=session, issuer=issuer, need=need, role=str(claims.get("role") or "VERIFIER"),
        verified_at=datetime.fromtimestamp(int(claims.get("verified_at") or 0), UTC),
    )  # fmt: skip


async def live_tokens(*, session: AsyncSession, need_ids: list[int]) -> dict[int, str]:
    rows = await session.execute(
        text(
            "SELECT DISTINCT ON (need_id) need_id, token FROM attestations "
            "WHERE need_id = ANY(:ids) AND revoked_at IS NULL AND expires_at > now() "
            "ORDER BY need_id, issued_at DESC"
        ),
        {"ids": need_ids},
    )
    return {r.need_id: r.token for r in rows}


# -- accepting another deployment's ------------------------------------------------------------


def _invalid(message: str, field: str = "attestation") -> Problems:
    return Problems.one(field, message, Code.ATTESTATION_INVALID)


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, NOT verified: only to find who claims to have signed it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid(msg("An attestation is a compact JWS: three base64url parts separated by dots."))
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(to_bytes(padded)))
    except (ValueError, TypeError):
        raise _invalid(msg("The attestation's payload is not base64url JSON.")) from None
    if not isinstance(claims, dict):
        raise _invalid(msg("The attestation's payload is not a JSON object."))
    return claims


@dataclass(frozen=True)
class Accepted:
    deployment_id: int
    deployment_name: str
    ward: str | None
    verified_at: datetime


async def check_foreign(*, session: AsyncSession, token: str, need: Any, field: str = "attestation") -> Accepted:
    """Check another deployment's attestation for this (just created) need against the cached JWKS and
    status list of a trusted deployment: signature, type, expiry, revocation, the public-field hash and
    the ward. Raises ATTESTATION_INVALID (the caller's transaction then writes nothing)."""
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise _invalid(msg("An attestation is at most {n} characters.", n=MAX_TOKEN_CHARS), field)
    claims = unverified_claims(token)
    issuer = claims.get("iss")
    deployment = (
        await session.execute(
            text("SELECT id, name, jwks, revoked FROM trusted_deployments WHERE issuer = :iss"),
            {"iss": issuer if isinstance(issuer, str) else ""},
        )
    ).first()
    if deployment is None:
        raise _invalid(msg("The attestation is not from a deployment this server trusts."), field)
    try:
        with _quiet():
            keys = KeySet.import_key_set(deployment.jwks)  # type: ignore[arg-type]
            verified = jwt.decode(token, keys, algorithms=[ALG])
    except (JoseError, ValueError, KeyError, TypeError):
        raise _invalid(
            msg("The attestation's signature does not verify with the trusted deployment's keys."), field
        ) from None
    header, claims = verified.header, verified.claims
    if header.get("typ") != TYP:
        raise _invalid(msg("This JWS is not an aidmap attestation."), field)
    now = _epoch(utcnow())
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        raise _invalid(msg("The attestation has expired."), field)
    if claims.get("jti") in set(deployment.revoked):
        raise _invalid(msg("The attestation was revoked by the deployment that issued it."), field)
    if claims.get("need_hash") != need_hash(need):
        raise _invalid(msg("The attestation was made for a need with other public fields."), field)
    ward = claims.get("ward")
    if need.ward_code is not None and ward != need.ward_code:
        raise _invalid(msg("The attestation names another ward than the need's."), field)
    used = await session.execute(
        text("SELECT 1 FROM needs WHERE received_attestation = :token AND id <> :id LIMIT 1"),
        {"token": token, "id": need.id},
    )
    if used.first() is not None:
        raise _invalid(msg("This attestation already came with another need."), field)
    verified_epoch = claims.get("verified_at")
    if not isinstance(verified_epoch, int):
        raise _invalid(msg("The attestation does not say when the need was verified."), field)
    return Accepted(
        deployment_id=deployment.id, deployment_name=deployment.name, ward=ward if isinstance(ward, str) else None,
        verified_at=datetime.fromtimestamp(verified_epoch, UTC),
    )  # fmt: skip


async def unverify_revoked(*, session: AsyncSession, require_verification: bool) -> dict[int, int]:
    """Needs verified by another deployment's attestation that it has since revoked (rejected there,
    edited, or superseded) lose that verification, as an edit resets it here: the badge goes, a public
    need goes back to the verifiers' queue if needs wait for verification (NEED_HIDDEN, so public
    subscribers see it leave), else it stays (NEED_UPDATED). {deployment id: needs unverified}."""
    from aidmap.events.outbox import emit
    from aidmap.models import EventKind, Need, NeedStatus
    from aidmap.models.need import ACTIVE_STATUSES
    from aidmap.resolvers.needs import following_donors

    revoked = {
        row.id: set(row.revoked)
        for row in await session.execute(
            text("SELECT id, revoked FROM trusted_deployments WHERE cardinality(revoked) > 0")
        )
    }
    if not revoked:
        return {}
    attested = await session.execute(
        text(
            "SELECT id, attested_by_id, received_attestation FROM needs "
            "WHERE attested_by_id = ANY(:ids) AND received_attestation IS NOT NULL ORDER BY id"
        ),
        {"ids": sorted(revoked)},
    )
    counts: dict[int, int] = {}
    for row in attested.all():
        try:
            jti = unverified_claims(row.received_attestation).get("jti")
        except Problems:
            continue  # checked when accepted; nothing to match against
        if jti not in revoked[row.attested_by_id]:
            continue
        need = (await session.execute(select(Need).where(Need.id == row.id).with_for_update())).scalar_one()
        if need.received_attestation != row.received_attestation:
            continue  # verified again (here) meanwhile
        need.verified_by_id, need.verified_at = None, None
        need.attested_by_id, need.received_attestation = None, None
        kind = EventKind.NEED_UPDATED
        if require_verification and need.status in ACTIVE_STATUSES:
            need.status, kind = NeedStatus.PENDING_VERIFICATION.value, EventKind.NEED_HIDDEN
        need.updated_at = utcnow()
        await session.flush()
        await session.refresh(need)
        donors = await following_donors(session=session, need_id=need.id)
        await emit(session=session, kind=kind, need=need, audience=donors)
        counts[row.attested_by_id] = counts.get(row.attested_by_id, 0) + 1
    return counts
