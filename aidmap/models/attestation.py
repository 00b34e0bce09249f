"""Signed, portable verification: aidmap's signing keys, the attestations it issued, and the other
deployments whose attestations it accepts (resolvers/attestations.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column


class SigningKey(Base):
    """An Ed25519 key that signs attestations. In PostgreSQL, so every process and host of a deployment
    signs with the same key and a rotation is one transaction; the private half is encrypted with a key
    derived from AIDMAP_SECRET_KEY (AES-GCM), so a database dump alone cannot sign, and it is wiped once
    the key leaves the published JWKS. No API reads this table but the public JWK."""

    __tablename__ = "attestation_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_jwk: Mapped[dict[str, object]] = mapped_column(JSONB, nullable=False)
    # nonce (12 bytes) + AES-GCM ciphertext of the private JWK; NULL once wiped.
    private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # True for the one key that signs now, NULL for retired ones: unique, so two processes can never
    # both make a signer.
    active: Mapped[bool | None] = mapped_column(Boolean, unique=True)
    created_at: Mapped[datetime] = created_at_column()
    # Rotated out: signs nothing new, stays in the JWKS until publish_until (its attestations' expiry).
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    publish_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Attestation(Base):
    """A compact JWS this deployment issued for a verified need (the token itself is public: it holds
    only public fields and a hash of them)."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_revoked_expires", "expires_at", postgresql_where=text("revoked_at IS NOT NULL")),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), nullable=False, index=True)
    kid: Mapped[str] = mapped_column(String(64), nullable=False)
    token: Mapped[str] = mapped_column(Text, nullable=False)
    issued_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Set when the verification it states no longer holds (an edit reset it, the need was rejected).
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrustedDeployment(Base):
    """Another aidmap deployment whose attestations this one accepts (`aidmap trust add --jwks URL`).
    Its JWKS and revocation list are fetched when the operator adds or refreshes it, never per request."""

    __tablename__ = "trusted_deployments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    # The `iss` its attestations carry (its public URL).
    issuer: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    jwks_url: Mapped[str] = mapped_column(Text, nullable=False)
    jwks: Mapped[dict[str, object]] = mapped_column(JSONB, nullable=False)
    status_url: Mapped[str] = mapped_column(Text, nullable=False)
    # Attestation ids it has revoked (its status list, as of fetched_at).
    revoked: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
