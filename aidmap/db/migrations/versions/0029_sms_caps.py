"""SMS caps per phone: notifications record an HMAC of the phone they charged, and claim-code texts
(sent outside the notifications) are charged in sms_charges, both counted by aidmap/notify/dispatch.py.

Revision ID: 0029_sms_caps
Revises: 0028_known_places
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_sms_caps"
down_revision = "0028_known_places"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("phone_hash", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_notifications_phone", "notifications", ["phone_hash", "charged_at"],
        postgresql_where=sa.text("charged_at IS NOT NULL"),
    )  # fmt: skip
    op.create_table(
        "sms_charges",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sms_charges"),
    )
    op.create_index("ix_sms_charges_phone", "sms_charges", ["phone_hash", "charged_at"])


def downgrade() -> None:
    op.drop_index("ix_sms_charges_phone", table_name="sms_charges")
    op.drop_table("sms_charges")
    op.drop_index("ix_notifications_phone", table_name="notifications")
    op.drop_column("notifications", "phone_hash")
