"""When the requester was asked "still need help?" before a need expires.

Revision ID: 0003_expiry_prompt
Revises: 0002_events_messages
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_expiry_prompt"
down_revision = "0002_events_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("needs", sa.Column("expiry_prompted_at", sa.DateTime(timezone=True)))
    # The expiry job looks only at needs still open, by expiry time.
    op.execute(
        "CREATE INDEX ix_needs_open_expires_at ON needs (expires_at) "
        "WHERE status IN ('OPEN', 'PARTLY_PLEDGED', 'PLEDGED')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_needs_open_expires_at")
    op.drop_column("needs", "expiry_prompted_at")
