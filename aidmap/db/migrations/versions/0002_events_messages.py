"""Outbox events and pledge messages.

Revision ID: 0002_events_messages
Revises: 0001_core
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision = "0002_events_messages"
down_revision = "0001_core"
branch_labels = None
depends_on = None

KINDS = [
    "NEED_CREATED", "NEED_UPDATED", "NEED_CANCELLED", "NEED_EXPIRED", "NEED_EXPIRING", "NEED_RENEWED",
    "OFFER_CREATED", "OFFER_UPDATED", "OFFER_WITHDRAWN",
    "PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "MESSAGE_SENT",
]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("need_id", sa.BigInteger),
        sa.Column("offer_id", sa.BigInteger),
        sa.Column("pledge_id", sa.BigInteger),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("category", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("location", Geography(geometry_type="POINT", srid=4326, spatial_index=False)),
        sa.Column("audience", postgresql.ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")", name=op.f("ck_events_kind")),
    )
    # Replay for one person's activity, and for one area.
    op.execute("CREATE INDEX ix_events_audience ON events USING gin (audience)")
    op.execute("CREATE INDEX ix_events_location ON events USING gist (location)")

    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "pledge_id",
            sa.BigInteger,
            sa.ForeignKey("pledges.id", name="fk_messages_pledge_id_pledges"),
            nullable=False,
        ),
        sa.Column(
            "sender_id",
            sa.BigInteger,
            sa.ForeignKey("accounts.id", name="fk_messages_sender_id_accounts"),
            nullable=False,
        ),
        sa.Column("body", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
    )
    op.create_index("ix_messages_pledge_id", "messages", ["pledge_id"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("events")
