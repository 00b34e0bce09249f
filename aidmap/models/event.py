"""The outbox: one row per state change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, Float, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column, enum_check


class EventKind(StrEnum):
    NEED_CREATED = "NEED_CREATED"
    NEED_UPDATED = "NEED_UPDATED"
    # Only what the public does not see changed (the exact point within its cell, the phone): told to
    # those who may see it (the need's donors, the partner it was filed through), never by area.
    NEED_PRIVATE_UPDATED = "NEED_PRIVATE_UPDATED"
    NEED_CANCELLED = "NEED_CANCELLED"
    NEED_EXPIRED = "NEED_EXPIRED"
    NEED_EXPIRING = "NEED_EXPIRING"
    NEED_RENEWED = "NEED_RENEWED"
    NEED_VERIFIED = "NEED_VERIFIED"  # verified, or kept after review: public (again)
    NEED_REJECTED = "NEED_REJECTED"
    NEED_HIDDEN = "NEED_HIDDEN"  # reported by 3 accounts: under review
    NEED_WAITING = "NEED_WAITING"  # waited unserved: it reaches donors farther away (aidmap/jobs/waiting.py)
    OFFER_CREATED = "OFFER_CREATED"
    OFFER_UPDATED = "OFFER_UPDATED"
    OFFER_WITHDRAWN = "OFFER_WITHDRAWN"
    PLEDGE_CREATED = "PLEDGE_CREATED"
    PLEDGE_CANCELLED = "PLEDGE_CANCELLED"
    PLEDGE_DELIVERED = "PLEDGE_DELIVERED"
    PLEDGE_ACCEPTED = "PLEDGE_ACCEPTED"  # AIDMAP_DISCLOSE_ON=accept: the donor may now see the private fields
    PLEDGE_MARKED_DELIVERED = "PLEDGE_MARKED_DELIVERED"  # the donor says it was delivered: the requester confirms
    MESSAGE_SENT = "MESSAGE_SENT"
    HELP_REQUESTED = "HELP_REQUESTED"
    HELP_ASKED = "HELP_ASKED"
    HELP_ESCALATED = "HELP_ESCALATED"
    HELP_ACCEPTED = "HELP_ACCEPTED"
    HELP_EXHAUSTED = "HELP_EXHAUSTED"
    MATCH_PROPOSED = "MATCH_PROPOSED"  # a matching round proposes a pledge to the donor (aidmap/jobs/matching.py)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (enum_check("kind", EventKind, "kind"),)

    # Assigned under a transaction-level advisory lock, so commit order is sequence order.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    need_id: Mapped[int | None] = mapped_column(BigInteger)
    offer_id: Mapped[int | None] = mapped_column(BigInteger)
    pledge_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    help_request_id: Mapped[int | None] = mapped_column(BigInteger)
    category: Mapped[str | None] = mapped_column(Text)
    # Status of the need or offer right after the change (decides CREATED / UPDATED / CLOSED).
    status: Mapped[str | None] = mapped_column(Text)
    # The exact point of the need or offer: used to route the event, never sent to clients.
    location: Mapped[object | None] = mapped_column(Geography(geometry_type="POINT", srid=4326, spatial_index=False))
    # An offer's travel radius (offer events); for need events, how much farther than a donor's radius
    # the need reaches (its waiting reach), and for NEED_WAITING what it reached before (reach_from_meters).
    radius_meters: Mapped[float | None] = mapped_column(Float)
    reach_from_meters: Mapped[float | None] = mapped_column(Float)
    proposal_id: Mapped[int | None] = mapped_column(BigInteger)
    # Accounts whose `myActivity` receives the event.
    audience: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()
