"""Limits: automatic persisted queries are evicted least recently used first (last_used_at);
webhook endpoints are leased by the process delivering them (lease_until) instead of locked by a
transaction held across HTTP calls; rate-limit buckets shared by every process (rate_buckets,
UNLOGGED: losing them in a crash only refills them).

Revision ID: 0019_limits
Revises: 0018_pledge_acceptance
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_limits"
down_revision = "0018_pledge_acceptance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "persisted_queries",
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_persisted_queries_last_used_at", "persisted_queries", ["last_used_at"])
    op.add_column("webhooks", sa.Column("lease_until", sa.DateTime(timezone=True)))
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("granted", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_buckets"),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_column("webhooks", "lease_until")
    op.drop_index("ix_persisted_queries_last_used_at", table_name="persisted_queries")
    op.drop_column("persisted_queries", "last_used_at")
