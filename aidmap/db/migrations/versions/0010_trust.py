"""Trust and safety: ward verification, reports, duplicate signals, partner apps.

Revision ID: 0010_trust
Revises: 0009_on_behalf_of
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_trust"
down_revision = "0009_on_behalf_of"
branch_labels = None
depends_on = None

OLD_STATUSES = ["OPEN", "PARTLY_PLEDGED", "PLEDGED", "FULFILLED", "CANCELLED", "EXPIRED"]
STATUSES = [*OLD_STATUSES, "PENDING_VERIFICATION", "UNDER_REVIEW", "REJECTED"]
OLD_KINDS = [
    "NEED_CREATED", "NEED_UPDATED", "NEED_CANCELLED", "NEED_EXPIRED", "NEED_EXPIRING", "NEED_RENEWED",
    "OFFER_CREATED", "OFFER_UPDATED", "OFFER_WITHDRAWN",
    "PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "MESSAGE_SENT",
    "HELP_REQUESTED", "HELP_ASKED", "HELP_ESCALATED", "HELP_ACCEPTED", "HELP_EXHAUSTED",
]  # fmt: skip
KINDS = [*OLD_KINDS[:6], "NEED_VERIFIED", "NEED_REJECTED", "NEED_HIDDEN", *OLD_KINDS[6:]]


def _listed(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _fk(column: str, table: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=False),
        sa.Column("allowed_origins", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_partners"),
        sa.UniqueConstraint("name", name="uq_partners_name"),
        sa.UniqueConstraint("key_hash", name="uq_partners_key_hash"),
    )
    op.add_column("accounts", sa.Column("partner_id", sa.BigInteger, _fk("partner_id", "accounts", "partners")))
    op.create_index("ix_accounts_partner_id", "accounts", ["partner_id"])

    op.add_column("needs", sa.Column("partner_id", sa.BigInteger, _fk("partner_id", "needs", "partners")))
    op.add_column("needs", sa.Column("contact_phone_hash", sa.String(64)))
    op.create_index("ix_needs_contact_phone_hash", "needs", ["contact_phone_hash"])
    op.add_column(
        "needs",
        sa.Column("possible_duplicate_of_id", sa.BigInteger, _fk("possible_duplicate_of_id", "needs", "needs")),
    )
    op.add_column("needs", sa.Column("verified_by_id", sa.BigInteger, _fk("verified_by_id", "needs", "accounts")))
    op.add_column("needs", sa.Column("verified_at", sa.DateTime(timezone=True)))
    op.add_column("needs", sa.Column("rejected_reason", sa.String(500)))
    op.drop_constraint("ck_needs_status", "needs")
    op.create_check_constraint(op.f("ck_needs_status"), "needs", f"status IN ({_listed(STATUSES)})")
    # The verification queue and quotas look needs up by status within a ward / owner.
    op.execute(
        "CREATE INDEX ix_needs_hidden_by_ward ON needs (ward_code, created_at) "
        "WHERE status IN ('PENDING_VERIFICATION', 'UNDER_REVIEW')"
    )

    op.create_table(
        "need_reports",
        sa.Column("need_id", sa.BigInteger, _fk("need_id", "need_reports", "needs"), nullable=False),
        sa.Column("reporter_id", sa.BigInteger, _fk("reporter_id", "need_reports", "accounts"), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("need_id", "reporter_id", name="pk_need_reports"),
    )

    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(KINDS)})")


def downgrade() -> None:
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(OLD_KINDS)})")
    op.drop_table("need_reports")
    op.execute("DROP INDEX ix_needs_hidden_by_ward")
    op.drop_constraint("ck_needs_status", "needs")
    op.create_check_constraint(op.f("ck_needs_status"), "needs", f"status IN ({_listed(OLD_STATUSES)})")
    for column in (
        "rejected_reason", "verified_at", "verified_by_id", "possible_duplicate_of_id", "contact_phone_hash",
        "partner_id",
    ):  # fmt: skip
        op.drop_column("needs", column)
    op.drop_index("ix_accounts_partner_id", "accounts")
    op.drop_column("accounts", "partner_id")
    op.drop_table("partners")
