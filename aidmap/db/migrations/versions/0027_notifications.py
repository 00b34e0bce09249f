"""Notifications beyond the open socket (SMS, Web Push): preferences per person, push subscriptions,
one delivery record per event, person and channel, the lanes' leases, the outbox cursor (starting at
the newest event: nobody is told about the past) and the accounts with a websocket open.

Revision ID: 0027_notifications
Revises: 0026_fairness
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0027_notifications"
down_revision = "0026_fairness"
branch_labels = None
depends_on = None

KINDS = "'PLEDGE_CREATED', 'PLEDGE_CANCELLED', 'PLEDGE_DELIVERED', 'MESSAGE_SENT', 'NEED_EXPIRING', 'HELP_ASKED'"


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("time_zone", sa.Text(), nullable=True),
        sa.Column("quiet_start", sa.SmallInteger(), nullable=True),
        sa.Column("quiet_end", sa.SmallInteger(), nullable=True),
        sa.Column("sms_kinds", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("push_kinds", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_notification_preferences_account_id_accounts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name="pk_notification_preferences"),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.Text(), nullable=False),
        sa.Column("auth", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_push_subscriptions_account_id_accounts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscriptions"),
        sa.UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    )
    op.create_index("ix_push_subscriptions_account_id", "push_subscriptions", ["account_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("need_id", sa.BigInteger(), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=True),
        sa.Column("lane", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="PENDING", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"kind IN ({KINDS})", name="ck_notifications_kind"),
        sa.CheckConstraint("channel IN ('SMS', 'PUSH')", name="ck_notifications_channel"),
        sa.CheckConstraint("status IN ('PENDING', 'DELIVERED', 'FAILED', 'SKIPPED')", name="ck_notifications_status"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_notifications_account_id_accounts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["push_subscriptions.id"],
            name="fk_notifications_subscription_id_push_subscriptions",
            ondelete="SET NULL",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("uq_notifications_event", "notifications", ["event_seq", "recipient", "target"], unique=True)
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["lane", "event_seq"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index("ix_notifications_account", "notifications", ["account_id", "created_at"])
    op.create_index(
        "ix_notifications_charged", "notifications", ["recipient", "charged_at"],
        postgresql_where=sa.text("charged_at IS NOT NULL"),
    )  # fmt: skip
    op.create_table(
        "notification_lanes",
        sa.Column("lane", sa.Text(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("lane", name="pk_notification_lanes"),
    )
    op.create_table(
        "notification_cursor",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_cursor"),
    )
    op.execute("INSERT INTO notification_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM events")
    op.create_table(
        "live_sockets",
        sa.Column("process", sa.Text(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("process", "account_id", name="pk_live_sockets"),
    )


def downgrade() -> None:
    op.drop_table("live_sockets")
    op.drop_table("notification_cursor")
    op.drop_table("notification_lanes")
    op.drop_table("notifications")
    op.drop_table("push_subscriptions")
    op.drop_table("notification_preferences")
