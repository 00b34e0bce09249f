"""External ids of imported needs: re-importing a spreadsheet does not duplicate its rows.

Revision ID: 0013_external_ids
Revises: 0012_webhooks
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_external_ids"
down_revision = "0012_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("needs", sa.Column("external_id", sa.String(100)))
    op.create_index("uq_needs_filed_by_id_external_id", "needs", ["filed_by_id", "external_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_needs_filed_by_id_external_id", "needs")
    op.drop_column("needs", "external_id")
