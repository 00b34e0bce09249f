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


_OPEN_RELAYS = """
    SELECT {key} AS key, sum(quantity) AS q FROM pledges
    WHERE carrier_id IS NOT NULL AND status = 'PLEDGED' AND {key} IS NOT NULL GROUP BY {key}
"""


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
    # Before 0035 a pledge's donor is who sees the need's private fields and who chats with the
    # requester: a relayed pledge would give the donor who dropped it at a point the address, and the
    # requester's chat with the point's manager. The code before 0035 cannot carry a relay, so open
    # relays are cancelled (their quantities open again) and every relay's messages are deleted.
    op.execute(f"""
        UPDATE needs n SET quantity_pledged = n.quantity_pledged - r.q,
               status = CASE WHEN n.status NOT IN ('PLEDGED', 'PARTLY_PLEDGED') THEN n.status
                             WHEN n.quantity_pledged - r.q <= 0 THEN 'OPEN'
                             WHEN n.quantity_pledged - r.q < n.quantity THEN 'PARTLY_PLEDGED' ELSE 'PLEDGED' END,
               updated_at = now()
        FROM ({_OPEN_RELAYS.format(key="need_id")}) r WHERE r.key = n.id
    """)  # fmt: skip
    op.execute(f"""
        UPDATE offers o SET quantity_pledged = o.quantity_pledged - r.q,
               status = CASE WHEN o.status = 'EXHAUSTED' THEN 'ACTIVE' ELSE o.status END, updated_at = now()
        FROM ({_OPEN_RELAYS.format(key="offer_id")}) r WHERE r.key = o.id
    """)  # fmt: skip
    op.execute("""
        UPDATE pledges SET status = 'CANCELLED', cancelled_at = now(), accepted_at = NULL
        WHERE carrier_id IS NOT NULL AND status = 'PLEDGED'
    """)  # fmt: skip
    op.execute("DELETE FROM messages WHERE pledge_id IN (SELECT id FROM pledges WHERE collection_point_id IS NOT NULL)")
    op.drop_index("ix_pledges_carrier_id", "pledges")
    op.drop_constraint("fk_pledges_carrier_id_accounts", "pledges", type_="foreignkey")
    op.drop_column("pledges", "carrier_id")
    op.drop_index("ix_pledges_collection_point_id", "pledges")
    for table in ("pledges", "match_proposals"):
        op.drop_constraint(f"fk_{table}_collection_point_id_collection_points", table, type_="foreignkey")
        op.drop_column(table, "collection_point_id")
    op.drop_index("ix_collection_points_manager_id", "collection_points")
    op.drop_table("collection_points")
