"""Sign-in back-off: one row per throttled key (a phone, a client address, a device's token) with its
failure count, when it last failed and until when it is locked; it replaces sign_in_failures (one row
per failure, counted in a sliding window), which could not express a doubling wait. Failures in
flight are not carried over: the old rows lived 15 minutes at most.

Revision ID: 0021_signin_backoff
Revises: 0019_limits
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_signin_backoff"
down_revision = "0019_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_backoff",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_hash", name="pk_sign_in_backoff"),
    )
    op.drop_index("ix_sign_in_failures_key_hash_failed_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")


def downgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_failures"),
    )
    op.create_index("ix_sign_in_failures_key_hash_failed_at", "sign_in_failures", ["key_hash", "failed_at"])
    op.drop_table("sign_in_backoff")
