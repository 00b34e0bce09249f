"""The access log of private need fields: who read an exact location or a phone number, and when."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, enum_check


class PrivateField(StrEnum):
    EXACT_LOCATION = "EXACT_LOCATION"
    CONTACT_PHONE = "CONTACT_PHONE"


class ReadChannel(StrEnum):
    API = "API"  # a GraphQL query or mutation
    LIVE = "LIVE"  # a subscription event
    WEBHOOK = "WEBHOOK"  # a webhook delivery to a partner's endpoint
    EXPORT = "EXPORT"  # `aidmap export needs --as ...`


class LocationRead(Base):
    __tablename__ = "location_reads"
    __table_args__ = (
        enum_check("field", PrivateField, "field"),
        enum_check("channel", ReadChannel, "channel"),
        CheckConstraint("reader_id IS NOT NULL OR partner_id IS NOT NULL", name="someone"),
        Index("ix_location_reads_need_id_read_at", "need_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), nullable=False)
    # The person who read it, and the partner app it went through (a key acting for nobody: no person).
    reader_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    channel: Mapped[str] = mapped_column(Text, nullable=False, server_default=ReadChannel.API.value)
    field: Mapped[str] = mapped_column(Text, nullable=False)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
