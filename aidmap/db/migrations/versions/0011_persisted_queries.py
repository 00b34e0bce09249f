"""Persisted queries: Apollo's automatic protocol, and queries registered per partner.

Revision ID: 0011_persisted_queries
Revises: 0010_trust
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_persisted_queries"
down_revision = "0010_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persisted_queries",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("sha256", name="pk_persisted_queries"),
    )
    op.create_table(
        "partner_queries",
        sa.Column(
            "partner_id", sa.BigInteger, sa.ForeignKey("partners.id", name="fk_partner_queries_partner_id_partners"),
            nullable=False,
        ),
        sa.Column(
            "sha256", sa.String(64),
            sa.ForeignKey("persisted_queries.sha256", name="fk_partner_queries_sha256_persisted_queries"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("partner_id", "sha256", name="pk_partner_queries"),
    )  # fmt: skip
    op.add_column(
        "partners", sa.Column("registered_queries_only", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("partners", "registered_queries_only")
    op.drop_table("partner_queries")
    op.drop_table("persisted_queries")
