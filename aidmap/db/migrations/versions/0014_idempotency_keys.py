"""Idempotency keys: a retried create or pledge returns the first result and writes nothing.

Revision ID: 0014_idempotency_keys
Revises: 0013_external_ids
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_idempotency_keys"
down_revision = "0013_external_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column(
            "account_id", sa.BigInteger, sa.ForeignKey("accounts.id", name="fk_idempotency_keys_account_id_accounts"),
            nullable=False,
        ),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("operation", sa.Text, nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("result_id", sa.BigInteger),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("account_id", "key", name="pk_idempotency_keys"),
    )  # fmt: skip
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
