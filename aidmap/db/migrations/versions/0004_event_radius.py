"""Offer radius on events, so each process's live match index can follow offers without a query.

Revision ID: 0004_event_radius
Revises: 0003_expiry_prompt
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_event_radius"
down_revision = "0003_expiry_prompt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("radius_meters", sa.Float))


def downgrade() -> None:
    op.drop_column("events", "radius_meters")
