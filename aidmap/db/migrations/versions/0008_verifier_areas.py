"""The areas each verifier answers for.

Revision ID: 0008_verifier_areas
Revises: 0007_location_reads
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_verifier_areas"
down_revision = "0007_location_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verifier_areas",
        sa.Column(
            "account_id",
            sa.BigInteger,
            sa.ForeignKey("accounts.id", name="fk_verifier_areas_account_id_accounts"),
            nullable=False,
        ),
        sa.Column(
            "area_code",
            sa.Text,
            sa.ForeignKey("admin_areas.code", name="fk_verifier_areas_area_code_admin_areas"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("account_id", "area_code", name="pk_verifier_areas"),
    )


def downgrade() -> None:
    op.drop_table("verifier_areas")
