"""Collection points: where donors drop what they pledge, for the point's couriers to carry on.

A point's place is public (it is an office or a depot, not a home): lat/lon are exact. Its manager
(an account an admin names) carries relayed pledges to the requester, so a relayed pledge shows the
need's private fields to the manager, never to the donor (models.pledge.disclosed_to).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column, latitude_of, longitude_of, point_column


class CollectionPoint(Base):
    __tablename__ = "collection_points"
    __table_args__ = (
        CheckConstraint("reach_meters > 0", name="reach_positive"),
        CheckConstraint("units_per_day > 0", name="units_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    address: Mapped[str] = mapped_column(String(300), nullable=False)
    location: Mapped[object] = point_column()
    lat: Mapped[float] = latitude_of(location)
    lon: Mapped[float] = longitude_of(location)
    # How far from the point its couriers deliver, and how many units they carry a day (UTC days).
    reach_meters: Mapped[float] = mapped_column(Float, nullable=False)
    units_per_day: Mapped[int] = mapped_column(Integer, nullable=False)
    manager_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
