"""Instant help, as "Giúp tôi!" matched people to available doctors: availability, requests, asks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.db.sql import status_is
from aidmap.models.base import Base, cell_column, created_at_column, enum_check, latitude_of, longitude_of


class HelpRequestStatus(StrEnum):
    OPEN = "OPEN"
    ACCEPTED = "ACCEPTED"
    EXHAUSTED = "EXHAUSTED"
    CANCELLED = "CANCELLED"


class DonorAvailability(Base):
    __tablename__ = "donor_availability"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean, nullable=False)
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    location: Mapped[object | None] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False), deferred=True
    )
    lat: Mapped[float | None] = latitude_of(location)
    lon: Mapped[float | None] = longitude_of(location)
    # The public cell's centre (generated from location): what every public answer is computed from.
    cell: Mapped[object | None] = cell_column()
    radius_meters: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class HelpRequest(Base):
    __tablename__ = "help_requests"
    __table_args__ = (
        enum_check("status", HelpRequestStatus, "status"),
        # The cascade job looks only at open requests, oldest round first.
        Index("ix_help_requests_open", "round_started_at", postgresql_where=text(status_is(HelpRequestStatus.OPEN))),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=HelpRequestStatus.OPEN.value)
    round: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    round_started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"))
    created_at: Mapped[datetime] = created_at_column()


class HelpAsk(Base):
    __tablename__ = "help_asks"

    help_request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id"), primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, nullable=False)
    asked_at: Mapped[datetime] = created_at_column()
