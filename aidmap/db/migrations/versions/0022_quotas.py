"""Quotas: who stored each automatic persisted query (stored_by: a per-client daily quota), and the
processes sharing the rate-limit buckets (rate_limit_processes, UNLOGGED: each process's lease size
depends on how many there are).

Revision ID: 0022_quotas
Revises: 0021_signin_backoff
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_quotas"
down_revision = "0021_signin_backoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persisted_queries", sa.Column("stored_by", sa.Text))
    op.create_index("ix_persisted_queries_stored_by_created_at", "persisted_queries", ["stored_by", "created_at"])
    op.create_table(
        "rate_limit_processes",
        sa.Column("process", sa.Text, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("process", name="pk_rate_limit_processes"),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("rate_limit_processes")
    op.drop_index("ix_persisted_queries_stored_by_created_at", table_name="persisted_queries")
    op.drop_column("persisted_queries", "stored_by")
