"""Instant help: donor availability, help requests that cascade to the nearest available donors.

Revision ID: 0005_instant_help
Revises: 0004_event_radius
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision = "0005_instant_help"
down_revision = "0004_event_radius"
branch_labels = None
depends_on = None

KINDS = [
    "NEED_CREATED", "NEED_UPDATED", "NEED_CANCELLED", "NEED_EXPIRED", "NEED_EXPIRING", "NEED_RENEWED",
    "OFFER_CREATED", "OFFER_UPDATED", "OFFER_WITHDRAWN",
    "PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "MESSAGE_SENT",
    "HELP_REQUESTED", "HELP_ASKED", "HELP_ESCALATED", "HELP_ACCEPTED", "HELP_EXHAUSTED",
]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "donor_availability",
        sa.Column(
            "account_id",
            sa.BigInteger,
            sa.ForeignKey("accounts.id", name="fk_donor_availability_account_id_accounts"),
            nullable=False,
        ),
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("location", Geography(geometry_type="POINT", srid=4326, spatial_index=False)),
        sa.Column("radius_meters", sa.Float),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("account_id", name="pk_donor_availability"),
    )
    op.execute(
        "CREATE INDEX ix_donor_availability_location ON donor_availability USING gist (location) WHERE available"
    )
    op.create_table(
        "help_requests",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "need_id", sa.BigInteger, sa.ForeignKey("needs.id", name="fk_help_requests_need_id_needs"), nullable=False
        ),
        sa.Column("status", sa.Text, nullable=False, server_default="OPEN"),
        sa.Column("round", sa.Integer, nullable=False, server_default="0"),
        sa.Column("round_started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column(
            "accepted_by_id",
            sa.BigInteger,
            sa.ForeignKey("accounts.id", name="fk_help_requests_accepted_by_id_accounts"),
        ),
        sa.Column("pledge_id", sa.BigInteger, sa.ForeignKey("pledges.id", name="fk_help_requests_pledge_id_pledges")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_help_requests"),
        sa.CheckConstraint(
            "status IN ('OPEN', 'ACCEPTED', 'EXHAUSTED', 'CANCELLED')", name=op.f("ck_help_requests_status")
        ),
    )
    op.create_index("ix_help_requests_need_id", "help_requests", ["need_id"])
    op.execute("CREATE INDEX ix_help_requests_open ON help_requests (round_started_at) WHERE status = 'OPEN'")
    op.create_table(
        "help_asks",
        sa.Column(
            "help_request_id",
            sa.BigInteger,
            sa.ForeignKey("help_requests.id", name="fk_help_asks_help_request_id_help_requests"),
            nullable=False,
        ),
        sa.Column(
            "donor_id",
            sa.BigInteger,
            sa.ForeignKey("accounts.id", name="fk_help_asks_donor_id_accounts"),
            nullable=False,
        ),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("help_request_id", "donor_id", name="pk_help_asks"),
    )
    op.add_column("events", sa.Column("help_request_id", sa.BigInteger))
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")")


def downgrade() -> None:
    op.drop_column("events", "help_request_id")
    op.drop_table("help_asks")
    op.drop_table("help_requests")
    op.drop_table("donor_availability")
