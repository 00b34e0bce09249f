"""Known sign-in places: (phone, address) pairs that signed in rightly before, counted apart from
strangers' failures (aidmap/resolvers/accounts.py, sign_in).

Revision ID: 0028_known_places
Revises: 0027_notifications
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_known_places"
down_revision = "0027_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_sign_in_places",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name="pk_known_sign_in_places"),
    )


def downgrade() -> None:
    op.drop_table("known_sign_in_places")
