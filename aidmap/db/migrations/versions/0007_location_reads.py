"""Who read the exact location or phone of a need, and when.

Revision ID: 0007_location_reads
Revises: 0006_admin_areas
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_location_reads"
down_revision = "0006_admin_areas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "location_reads",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "need_id", sa.BigInteger, sa.ForeignKey("needs.id", name="fk_location_reads_need_id_needs"), nullable=False
        ),
        sa.Column(
            "reader_id",
            sa.BigInteger,
            sa.ForeignKey("accounts.id", name="fk_location_reads_reader_id_accounts"),
            nullable=False,
        ),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_location_reads"),
        sa.CheckConstraint("field IN ('EXACT_LOCATION', 'CONTACT_PHONE')", name=op.f("ck_location_reads_field")),
    )
    op.create_index("ix_location_reads_need_id_read_at", "location_reads", ["need_id", "read_at"])


def downgrade() -> None:
    op.drop_table("location_reads")
