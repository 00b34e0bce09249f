"""Webhooks: a partner's endpoint, what it wants to hear about, and each delivery of an event to it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.db.sql import status_is
from aidmap.models.base import Base, created_at_column, enum_check


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # retried for 24 hours without a 2xx


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), nullable=False, index=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    # Signs every delivery (HMAC-SHA256); shown to the partner once, at creation.
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    near: Mapped[object | None] = mapped_column(Geography(geometry_type="POINT", srid=4326, spatial_index=False))
    radius_meters: Mapped[float | None] = mapped_column(Float)
    area_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    # The last outbox event considered for this endpoint (deliveries are queued in event order).
    cursor_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Claimed by one process until then for delivering (jobs/webhooks.py); no lock is held.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        enum_check("status", DeliveryStatus, "status"),
        UniqueConstraint("webhook_id", "event_seq", name="uq_webhook_deliveries_webhook_id_event_seq"),
        Index(
            "ix_webhook_deliveries_pending",
            "webhook_id",
            "event_seq",
            postgresql_where=text(status_is(DeliveryStatus.PENDING)),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), nullable=False)
    event_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
