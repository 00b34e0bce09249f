"""Accounts (people) and their bearer tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column


class Role(StrEnum):
    REQUESTER = "REQUESTER"
    DONOR = "DONOR"
    OPERATOR = "OPERATOR"  # hotline intake: files needs on behalf of people
    VERIFIER = "VERIFIER"  # checks needs in the areas of verifier_areas
    ADMIN = "ADMIN"  # grants roles


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(80), nullable=False)
    # E.164, normalised at sign-up; unique so a phone signs in to one account.
    phone: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    # The partner app that signed this person up; that partner may act for them.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()


class AccessToken(Base):
    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    # sha256 of the random token: a leaked table cannot be replayed.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class VerifierArea(Base):
    __tablename__ = "verifier_areas"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("admin_areas.code"), primary_key=True)
