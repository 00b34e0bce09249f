"""Pledges: a donor commits a quantity to a need, possibly from one of their offers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column, enum_check


class PledgeStatus(StrEnum):
    PLEDGED = "PLEDGED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


class Pledge(Base):
    __tablename__ = "pledges"
    __table_args__ = (
        enum_check("status", PledgeStatus, "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), nullable=False, index=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=PledgeStatus.PLEDGED.value)
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
