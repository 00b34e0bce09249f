"""A need's ward is the ward of its public cell's centre, not of its exact point (Need.ward is public
and matching rounds weigh wards: near a boundary the exact point's ward told which side of it the
person lives). Every need's ward is worked out again; downgrading goes back to the exact point.

Revision ID: 0030_ward_of_cell
Revises: 0029_sms_caps
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0030_ward_of_cell"
down_revision = "0029_sms_caps"
branch_labels = None
depends_on = None

# Written out rather than imported: a migration keeps meaning what it meant when it was written.
_WARD_OF = (
    "UPDATE needs SET ward_code = (SELECT a.code FROM admin_areas a WHERE a.level = 'ward' "
    "AND ST_Covers(a.geom, needs.{column}::geometry) ORDER BY a.code LIMIT 1)"
)


def upgrade() -> None:
    op.execute(_WARD_OF.format(column="cell"))


def downgrade() -> None:
    op.execute(_WARD_OF.format(column="location"))
