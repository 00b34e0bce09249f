"""Needs filed on behalf of someone (hotline operator or relative), and claimed later.

Revision ID: 0009_on_behalf_of
Revises: 0008_verifier_areas
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_on_behalf_of"
down_revision = "0008_verifier_areas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "needs",
        sa.Column("filed_by_id", sa.BigInteger, sa.ForeignKey("accounts.id", name="fk_needs_filed_by_id_accounts")),
    )
    op.add_column("needs", sa.Column("beneficiary_name", sa.String(80)))
    op.add_column("needs", sa.Column("beneficiary_phone", sa.String(20)))
    op.create_index("ix_needs_beneficiary_phone", "needs", ["beneficiary_phone"])


def downgrade() -> None:
    op.drop_index("ix_needs_beneficiary_phone", "needs")
    for column in ("beneficiary_phone", "beneficiary_name", "filed_by_id"):
        op.drop_column("needs", column)
