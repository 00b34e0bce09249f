"""Offers: what a donor can give, where, and how far they will travel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import (
    Base,
    cell_column,
    created_at_column,
    enum_check,
    latitude_of,
    longitude_of,
    point_column,
    rank_point_column,
)
from aidmap.models.need import NeedCategory


class OfferStatus(StrEnum):
    ACTIVE = "ACTIVE"
    EXHAUSTED = "EXHAUSTED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        enum_check("category", NeedCategory, "category"),
        enum_check("status", OfferStatus, "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("quantity_pledged >= 0 AND quantity_pledged <= quantity", name="pledged_within_quantity"),
        CheckConstraint("radius_meters > 0", name="radius_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    details: Mapped[str | None] = mapped_column(String(2000))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity_pledged: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    unit: Mapped[str] = mapped_column(String(40), nullable=False)
    location: Mapped[object] = point_column()
    lat: Mapped[float] = latitude_of(location)
    lon: Mapped[float] = longitude_of(location)
    # The public cell's centre (generated from location): what every public answer is computed from.
    cell: Mapped[object] = cell_column()
    cell_lat: Mapped[float] = latitude_of(cell)
    cell_lon: Mapped[float] = longitude_of(cell)
    rank_point: Mapped[object] = rank_point_column()
    radius_meters: Mapped[float] = mapped_column(Float, nullable=False)
    available_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=OfferStatus.ACTIVE.value)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
