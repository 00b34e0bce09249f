"""Notifications outside the open socket: what each person wants, their browsers' push subscriptions,
and one row per message sent (or being sent, or held back) on a channel for an outbox event."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.db.sql import status_is
from aidmap.models.base import Base, created_at_column, enum_check


class NotificationKind(StrEnum):
    PLEDGE_CREATED = "PLEDGE_CREATED"  # to the requester or beneficiary
    PLEDGE_CANCELLED = "PLEDGE_CANCELLED"  # to the other side of whoever cancelled
    PLEDGE_DELIVERED = "PLEDGE_DELIVERED"  # to the beneficiary (filed for them) and to the donor
    PLEDGE_MARKED_DELIVERED = "PLEDGE_MARKED_DELIVERED"  # to the requester or beneficiary: please confirm
    MESSAGE_SENT = "MESSAGE_SENT"  # to the other party, when no socket of theirs is open
    NEED_EXPIRING = "NEED_EXPIRING"  # to the requester or beneficiary, a day before
    HELP_ASKED = "HELP_ASKED"  # to each donor asked for instant help
    NEED_PRIVATE_UPDATED = "NEED_PRIVATE_UPDATED"  # to the need's active donors: its address or phone changed


class Channel(StrEnum):
    SMS = "SMS"
    PUSH = "PUSH"


class NotificationStatus(StrEnum):
    PENDING = "PENDING"  # queued, waiting for its turn, a retry or the end of quiet hours
    DELIVERED = "DELIVERED"  # the gateway or push service accepted it
    FAILED = "FAILED"  # refused, or transient failures past the bound
    SKIPPED = "SKIPPED"  # not sent: the daily SMS cap, the monthly budget, the person's preferences


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    # "vi" or "en"; NULL: from the phone (Vietnamese for +84 numbers).
    language: Mapped[str | None] = mapped_column(Text)
    # NULL: the deployment's (AIDMAP_TIME_ZONE, AIDMAP_QUIET_HOURS: Asia/Ho_Chi_Minh, 22:00-06:00).
    time_zone: Mapped[str | None] = mapped_column(Text)
    # Minutes after local midnight; start == end: no quiet hours.
    quiet_start: Mapped[int | None] = mapped_column(SmallInteger)
    quiet_end: Mapped[int | None] = mapped_column(SmallInteger)
    # The kinds each channel carries; NULL: the default (every kind by push; SMS only for beneficiaries).
    sms_kinds: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    push_kinds: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    updated_at: Mapped[datetime] = created_at_column()


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    # The push service's URL for this browser (unique: a browser re-subscribing replaces its row).
    endpoint: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    # The browser's P-256 public key and auth secret (base64url), for RFC 8291 encryption.
    p256dh: Mapped[str] = mapped_column(Text, nullable=False)
    auth: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        enum_check("kind", NotificationKind, "kind"),
        enum_check("channel", Channel, "channel"),
        enum_check("status", NotificationStatus, "status"),
        # Never twice for the same event, person and channel (push: and browser).
        Index("uq_notifications_event", "event_seq", "recipient", "target", unique=True),
        Index(
            "ix_notifications_pending",
            "lane",
            "event_seq",
            postgresql_where=text(status_is(NotificationStatus.PENDING)),
        ),
        Index("ix_notifications_account", "account_id", "created_at"),
        Index("ix_notifications_charged", "recipient", "charged_at", postgresql_where=text("charged_at IS NOT NULL")),
        Index("ix_notifications_phone", "phone_hash", "charged_at", postgresql_where=text("charged_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    # "account:<id>", or "beneficiary:<need id>" for a person a need was filed for who has no account yet.
    recipient: Mapped[str] = mapped_column(Text, nullable=False)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    need_id: Mapped[int | None] = mapped_column(BigInteger)
    # "SMS", or "PUSH:<subscription id>".
    target: Mapped[str] = mapped_column(Text, nullable=False)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="SET NULL"))
    # Delivered one at a time in event order: recipient + channel (+ ":urgent" for instant help).
    lane: Mapped[str] = mapped_column(Text, nullable=False)
    urgent: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    language: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=NotificationStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    # SMS only: counted against the person's daily cap and the monthly budget from here on.
    charged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # SMS only, set with charged_at: an HMAC of the E.164 phone texted, the key of the daily cap (one
    # phone, however many needs were filed for it or accounts use it; never the phone in clear).
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationLane(Base):
    """A lane is leased by the one process delivering it (no lock is held across a gateway call)."""

    __tablename__ = "notification_lanes"

    lane: Mapped[str] = mapped_column(Text, primary_key=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationCursor(Base):
    """The last outbox event turned into notifications (one row)."""

    __tablename__ = "notification_cursor"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LiveSocket(Base):
    """Accounts with a websocket open, per process, refreshed while open: a chat message is not
    pushed to a person who has just received it live."""

    __tablename__ = "live_sockets"

    process: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seen_at: Mapped[datetime] = created_at_column()


class SmsCharge(Base):
    """An SMS sent outside the notifications (a claim code: aidmap/notify/sms.py's SmsQueue), counted
    against the phone's daily cap and the monthly budget like a notification's."""

    __tablename__ = "sms_charges"
    __table_args__ = (Index("ix_sms_charges_phone", "phone_hash", "charged_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    charged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
