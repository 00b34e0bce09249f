"""Every exact read is logged: by partner keys (acting for someone or for nobody), by webhook
deliveries that carry private fields and by exports, each with its channel.

Revision ID: 0016_read_channels
Revises: 0015_public_cells
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_read_channels"
down_revision = "0015_public_cells"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("location_reads", "reader_id", nullable=True)
    op.add_column(
        "location_reads",
        sa.Column(
            "partner_id", sa.BigInteger, sa.ForeignKey("partners.id", name="fk_location_reads_partner_id_partners")
        ),
    )
    op.add_column("location_reads", sa.Column("channel", sa.Text, nullable=False, server_default="API"))
    op.create_check_constraint(
        op.f("ck_location_reads_channel"), "location_reads", "channel IN ('API', 'LIVE', 'WEBHOOK', 'EXPORT')"
    )
    op.create_check_constraint(
        op.f("ck_location_reads_someone"), "location_reads", "reader_id IS NOT NULL OR partner_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DELETE FROM location_reads WHERE reader_id IS NULL")
    op.drop_constraint(op.f("ck_location_reads_someone"), "location_reads")
    op.drop_constraint(op.f("ck_location_reads_channel"), "location_reads")
    op.drop_column("location_reads", "channel")
    op.drop_column("location_reads", "partner_id")
    op.alter_column("location_reads", "reader_id", nullable=False)
