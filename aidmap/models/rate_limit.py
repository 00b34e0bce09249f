"""Rate-limit buckets shared by every process (guards/rate_limit.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base


class RateBucket(Base):
    """One token bucket per client key (an address or a partner key). UNLOGGED: after a crash
    every bucket starts full, which is what a bucket idle for a minute is anyway."""

    __tablename__ = "rate_buckets"
    __table_args__ = {"prefixes": ["UNLOGGED"]}  # noqa: RUF012

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float, nullable=False)
    # Tokens handed to the process that last took from the bucket (read back by that statement).
    granted: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RateLimitProcess(Base):
    """A process drawing from the shared buckets, seen within the last half minute: how many there
    are sets the size of each one's leases (guards/rate_limit.py)."""

    __tablename__ = "rate_limit_processes"
    __table_args__ = {"prefixes": ["UNLOGGED"]}  # noqa: RUF012

    process: Mapped[str] = mapped_column(Text, primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
