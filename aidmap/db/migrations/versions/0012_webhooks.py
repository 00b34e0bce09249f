"""Webhooks: partner endpoints fed from the outbox, with their deliveries.

Revision ID: 0012_webhooks
Revises: 0011_persisted_queries
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision = "0012_webhooks"
down_revision = "0011_persisted_queries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "partner_id", sa.BigInteger, sa.ForeignKey("partners.id", name="fk_webhooks_partner_id_partners"),
            nullable=False,
        ),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("near", Geography(geometry_type="POINT", srid=4326, spatial_index=False)),
        sa.Column("radius_meters", sa.Float),
        sa.Column("area_codes", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("cursor_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
    )  # fmt: skip
    op.create_index("ix_webhooks_partner_id", "webhooks", ["partner_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "webhook_id", sa.BigInteger,
            sa.ForeignKey("webhooks.id", name="fk_webhook_deliveries_webhook_id_webhooks"), nullable=False,
        ),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="PENDING"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("webhook_id", "event_seq", name="uq_webhook_deliveries_webhook_id_event_seq"),
        sa.CheckConstraint(
            "status IN ('PENDING', 'DELIVERED', 'FAILED')", name=op.f("ck_webhook_deliveries_status")
        ),
    )  # fmt: skip
    op.execute(
        "CREATE INDEX ix_webhook_deliveries_pending ON webhook_deliveries (webhook_id, event_seq) "
        "WHERE status = 'PENDING'"
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
