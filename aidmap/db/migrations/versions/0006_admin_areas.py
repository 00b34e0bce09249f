"""Administrative areas (province, ward polygons) and the ward of each need.

Revision ID: 0006_admin_areas
Revises: 0005_instant_help
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0006_admin_areas"
down_revision = "0005_instant_help"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_areas",
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text),
        sa.Column("full_name", sa.Text),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("parent_code", sa.Text),
        sa.Column("geom", Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_admin_areas"),
        sa.CheckConstraint("level IN ('province', 'district', 'ward')", name=op.f("ck_admin_areas_level")),
    )
    # Point-in-polygon for every new need: a GiST index on the ward polygons.
    op.execute("CREATE INDEX ix_admin_areas_geom ON admin_areas USING gist (geom)")
    op.add_column("needs", sa.Column("ward_code", sa.Text))
    op.create_index("ix_needs_ward_code", "needs", ["ward_code"])


def downgrade() -> None:
    op.drop_index("ix_needs_ward_code", "needs")
    op.drop_column("needs", "ward_code")
    op.drop_table("admin_areas")
