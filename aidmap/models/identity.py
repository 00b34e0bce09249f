"""Proofs and throttles of identity: one-time claim codes, failed sign-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, func
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


class SignInFailure(Base):
    """One failed (or still running) sign-in for a phone, keyed by an HMAC of the phone so the table
    never lists the numbers people tried. In PostgreSQL, so every process counts the same failures."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_hash_failed_at", "key_hash", "failed_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
