"""Partner apps: organisations that embed aidmap with their own API key, scopes and limits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, false, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column


class Scope(StrEnum):
    """What a partner key may do; a request through a key can never do more than its scopes."""

    ACCOUNTS = "accounts"  # sign its users up and in, act for them, read `me`
    NEEDS_READ = "needs:read"
    NEEDS_WRITE = "needs:write"
    OFFERS_READ = "offers:read"
    OFFERS_WRITE = "offers:write"
    PLEDGES_WRITE = "pledges:write"
    MESSAGES = "messages"
    PRIVATE_READ = "private:read"  # exact locations and phones, where the person acted for may see them
    VERIFY = "verify"  # verifier and admin work, for users who hold those roles
    WEBHOOKS = "webhooks"  # register endpoints that receive events
    IMPORT = "import"  # bulk-import needs for the operator it acts for


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    # sha256 of the key: the key itself is shown once, at creation.
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    # Browser origins allowed to call the API with this key (CORS).
    allowed_origins: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    # Accept only queries registered for this partner (by hash), never arbitrary documents.
    registered_queries_only: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersistedQuery(Base):
    """A query document by its sha256 (Apollo's automatic persisted queries, and partners' registered ones)."""

    __tablename__ = "persisted_queries"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    query: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    # Automatic (unregistered) entries beyond the cap are evicted least recently used first.
    last_used_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
    # The client that stored an automatic entry ("partner:1", "account:2", "ip:10.0.0.3"), for its
    # daily quota; None for registered ones.
    stored_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_persisted_queries_stored_by_created_at", "stored_by", "created_at"),)


class PartnerQuery(Base):
    __tablename__ = "partner_queries"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("persisted_queries.sha256"), primary_key=True)
