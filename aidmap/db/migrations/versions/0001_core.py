"""Core tables: accounts, tokens, needs, offers, pledges.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

CATEGORIES = "'FOOD', 'MEDICINE', 'STUDY_DEVICE', 'MEDICAL_CONSULTATION', 'ESSENTIALS', 'ERRAND', 'OTHER'"


def _point() -> sa.Column:
    return sa.Column("location", Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=False)


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # btree_gist lets one GiST index hold (category, location) for filtered KNN search.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")

    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.Text), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("phone", name="uq_accounts_phone"),
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "account_id",
            sa.BigInteger,
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_access_tokens_account_id_accounts"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _now("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
    )
    op.create_index("ix_access_tokens_account_id", "access_tokens", ["account_id"])

    op.create_table(
        "needs",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "owner_id", sa.BigInteger, sa.ForeignKey("accounts.id", name="fk_needs_owner_id_accounts"), nullable=False
        ),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("details", sa.String(2000)),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("urgency", sa.Text, nullable=False),
        sa.Column("household_size", sa.Integer),
        _point(),
        sa.Column("contact_phone", sa.String(20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="OPEN"),
        sa.Column("quantity_pledged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("quantity_delivered", sa.Integer, nullable=False, server_default="0"),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_needs"),
        sa.CheckConstraint(f"category IN ({CATEGORIES})", name=op.f("ck_needs_category")),
        sa.CheckConstraint("urgency IN ('LOW', 'NORMAL', 'HIGH', 'CRITICAL')", name=op.f("ck_needs_urgency")),
        sa.CheckConstraint(
            "status IN ('OPEN', 'PARTLY_PLEDGED', 'PLEDGED', 'FULFILLED', 'CANCELLED', 'EXPIRED')",
            name=op.f("ck_needs_status"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_needs_quantity_positive")),
        sa.CheckConstraint(
            "quantity_pledged >= 0 AND quantity_pledged <= quantity", name=op.f("ck_needs_pledged_within_quantity")
        ),
        sa.CheckConstraint(
            "quantity_delivered >= 0 AND quantity_delivered <= quantity_pledged",
            name=op.f("ck_needs_delivered_within_pledged"),
        ),
    )
    op.create_index("ix_needs_owner_id", "needs", ["owner_id"])
    # The hot search: open needs of one category, nearest first (KNN on this index).
    op.execute(
        "CREATE INDEX ix_needs_open_category_location ON needs USING gist (category, location) "
        "WHERE status IN ('OPEN', 'PARTLY_PLEDGED')"
    )
    op.execute("CREATE INDEX ix_needs_location ON needs USING gist (location)")

    op.create_table(
        "offers",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "donor_id", sa.BigInteger, sa.ForeignKey("accounts.id", name="fk_offers_donor_id_accounts"), nullable=False
        ),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("details", sa.String(2000)),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("quantity_pledged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unit", sa.String(40), nullable=False),
        _point(),
        sa.Column("radius_meters", sa.Float, nullable=False),
        sa.Column("available_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="ACTIVE"),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_offers"),
        sa.CheckConstraint(f"category IN ({CATEGORIES})", name=op.f("ck_offers_category")),
        sa.CheckConstraint("status IN ('ACTIVE', 'EXHAUSTED', 'WITHDRAWN', 'EXPIRED')", name=op.f("ck_offers_status")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_offers_quantity_positive")),
        sa.CheckConstraint(
            "quantity_pledged >= 0 AND quantity_pledged <= quantity", name=op.f("ck_offers_pledged_within_quantity")
        ),
        sa.CheckConstraint("radius_meters > 0", name=op.f("ck_offers_radius_positive")),
    )
    op.create_index("ix_offers_donor_id", "offers", ["donor_id"])
    op.execute(
        "CREATE INDEX ix_offers_active_category_location ON offers USING gist (category, location) WHERE status = 'ACTIVE'"
    )
    op.execute("CREATE INDEX ix_offers_location ON offers USING gist (location)")

    op.create_table(
        "pledges",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("need_id", sa.BigInteger, sa.ForeignKey("needs.id", name="fk_pledges_need_id_needs"), nullable=False),
        sa.Column(
            "donor_id", sa.BigInteger, sa.ForeignKey("accounts.id", name="fk_pledges_donor_id_accounts"), nullable=False
        ),
        sa.Column("offer_id", sa.BigInteger, sa.ForeignKey("offers.id", name="fk_pledges_offer_id_offers")),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="PLEDGED"),
        _now("created_at"),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column(
            "cancelled_by_id", sa.BigInteger, sa.ForeignKey("accounts.id", name="fk_pledges_cancelled_by_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pledges"),
        sa.CheckConstraint("status IN ('PLEDGED', 'DELIVERED', 'CANCELLED')", name=op.f("ck_pledges_status")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_pledges_quantity_positive")),
    )
    op.create_index("ix_pledges_need_id", "pledges", ["need_id"])
    op.create_index("ix_pledges_donor_id", "pledges", ["donor_id"])
    op.create_index("ix_pledges_offer_id", "pledges", ["offer_id"])


def downgrade() -> None:
    for table in ("pledges", "offers", "needs", "access_tokens", "accounts"):
        op.drop_table(table)
