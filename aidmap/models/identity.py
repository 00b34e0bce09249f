"""Proofs and throttles of identity: one-time claim codes, failed sign-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column


class NeedClaimCode(Base):
    """The code that proves the person a need was filed for holds its phone (read to them on the call,
    written on the delivery slip). Only an HMAC of it is kept; a few wrong tries lock it for a while."""

    __tablename__ = "need_claim_codes"

    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class SignInBackoff(Base):
    """The failed sign-ins of one key (a phone, a client address, or a device's token), keyed by an HMAC
    so the table never lists the numbers or addresses people tried. `failures` is forgotten one at a
    time at a steady pace after the last failure; past the free ones each failure locks the key for a
    doubling wait (`locked_until`), capped. In PostgreSQL, so every process throttles alike."""

    __tablename__ = "sign_in_backoff"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_failure_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KnownSignInPlace(Base):
    """A (phone, client address) pair that signed in rightly before, keyed by an HMAC of both. A
    sign-in from there is counted on its own key, like a device that holds a token: strangers
    failing from elsewhere (or spraying an address) cannot lock a person out where they usually sign
    in, from a new phone or after signing out."""

    __tablename__ = "known_sign_in_places"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
