"""Needs: what a requester asks for, where, and how much of it is pledged or delivered."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column, enum_check, latitude_of, longitude_of, point_column


class NeedCategory(StrEnum):
    FOOD = "FOOD"
    MEDICINE = "MEDICINE"
    STUDY_DEVICE = "STUDY_DEVICE"
    MEDICAL_CONSULTATION = "MEDICAL_CONSULTATION"
    ESSENTIALS = "ESSENTIALS"
    ERRAND = "ERRAND"
    OTHER = "OTHER"


class Urgency(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class NeedStatus(StrEnum):
    OPEN = "OPEN"
    PARTLY_PLEDGED = "PARTLY_PLEDGED"
    PLEDGED = "PLEDGED"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


# Statuses in which a need still accepts pledges (and the default search filter).
OPEN_STATUSES = (NeedStatus.OPEN, NeedStatus.PARTLY_PLEDGED)
# Statuses in which the owner may still edit or cancel the need.
ACTIVE_STATUSES = (NeedStatus.OPEN, NeedStatus.PARTLY_PLEDGED, NeedStatus.PLEDGED)


def may_see_private(*, account_id: int | None, owner_id: int, filed_by_id: int | None, active_donor: bool) -> bool:
    """Who may see a need's exact location and phone: its requester, whoever filed it for them,
    and donors with an active pledge on it. The one place this rule lives (issue 4 widens it)."""
    return account_id is not None and (account_id in (owner_id, filed_by_id) or active_donor)


def status_for(*, quantity: int, pledged: int, delivered: int) -> NeedStatus:
    """The status that follows from the pledged and delivered quantities of an active need."""
    if delivered >= quantity:
        return NeedStatus.FULFILLED
    if pledged >= quantity:
        return NeedStatus.PLEDGED
    if pledged > 0:
        return NeedStatus.PARTLY_PLEDGED
    return NeedStatus.OPEN


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (
        enum_check("category", NeedCategory, "category"),
        enum_check("urgency", Urgency, "urgency"),
        enum_check("status", NeedStatus, "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("quantity_pledged >= 0 AND quantity_pledged <= quantity", name="pledged_within_quantity"),
        CheckConstraint(
            "quantity_delivered >= 0 AND quantity_delivered <= quantity_pledged", name="delivered_within_pledged"
        ),
        Index(
            "ix_needs_open_expires_at",
            "expires_at",
            postgresql_where=text("status IN ('OPEN', 'PARTLY_PLEDGED', 'PLEDGED')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    # Who filed it for someone without a smartphone (operator, relative); NULL when the owner did.
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # The person it is for, when filed on their behalf; they claim it by signing up with this phone.
    beneficiary_name: Mapped[str | None] = mapped_column(String(80))
    beneficiary_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    details: Mapped[str | None] = mapped_column(String(2000))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit: Mapped[str] = mapped_column(String(40), nullable=False)
    urgency: Mapped[str] = mapped_column(Text, nullable=False)
    household_size: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[object] = point_column()
    lat: Mapped[float] = latitude_of(location)
    lon: Mapped[float] = longitude_of(location)
    contact_phone: Mapped[str] = mapped_column(String(20), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The ward the point falls in (point-in-polygon at creation), if the areas are imported.
    ward_code: Mapped[str | None] = mapped_column(Text, index=True)
    # Set when the requester was asked "still need help?"; cleared by renewNeed.
    expiry_prompted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=NeedStatus.OPEN.value)
    quantity_pledged: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    quantity_delivered: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
