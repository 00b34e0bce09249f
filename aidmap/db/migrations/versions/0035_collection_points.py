"""Collection points: public places (a ward office, a charity's depot) whose couriers carry what
donors near them drop there on to needs farther away (aidmap/resolvers/collection_points.py). A
pledge relayed through one names it and its carrier, the point's manager: the one who sees the
need's address instead of the donor.

Revision ID: 0035_collection_points
Revises: 0034_private_need_updates
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography

revision = "0035_collection_points"
down_revision = "0034_private_need_updates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_points",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("location", Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("reach_meters", sa.Float(), nullable=False),
        sa.Column("units_per_day", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("reach_meters > 0", name="ck_collection_points_reach_positive"),
        sa.CheckConstraint("units_per_day > 0", name="ck_collection_points_units_positive"),
        sa.ForeignKeyConstraint(["manager_id"], ["accounts.id"], name="fk_collection_points_manager_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_collection_points"),
    )
    op.create_index("ix_collection_points_manager_id", "collection_points", ["manager_id"])
    for table in ("pledges", "match_proposals"):
        op.add_column(table, sa.Column("collection_point_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            f"fk_{table}_collection_point_id_collection_points", table, "collection_points",
            ["collection_point_id"], ["id"],
        )  # fmt: skip
    # A point's units today are counted from its pledges (resolvers/collection_points.py, units_left).
    op.create_index("ix_pledges_collection_point_id", "pledges", ["collection_point_id", "created_at"])
    op.add_column("pledges", sa.Column("carrier_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key("fk_pledges_carrier_id_accounts", "pledges", "accounts", ["carrier_id"], ["id"])
    op.create_index("ix_pledges_carrier_id", "pledges", ["carrier_id"])


def downgrade() -> None:
    # Before 0035 a pledge's donor is who sees the need's private fields: an open relayed pledge would
    # show them to the donor who dropped it at a point. Unaccepted, it shows them to nobody.
    op.execute("UPDATE pledges SET accepted_at = NULL WHERE carrier_id IS NOT NULL AND status = 'PLEDGED'")
    op.drop_index("ix_pledges_carrier_id", "pledges")
    op.drop_constraint("fk_pledges_carrier_id_accounts", "pledges", type_="foreignkey")
    op.drop_column("pledges", "carrier_id")
    op.drop_index("ix_pledges_collection_point_id", "pledges")
    for table in ("pledges", "match_proposals"):
        op.drop_constraint(f"fk_{table}_collection_point_id_collection_points", table, type_="foreignkey")
        op.drop_column(table, "collection_point_id")
    op.drop_index("ix_collection_points_manager_id", "collection_points")
    op.drop_table("collection_points")
