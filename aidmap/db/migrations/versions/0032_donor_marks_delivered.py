"""The donor says "I delivered it": pledges.marked_delivered_at, and an event and a notification
kind (PLEDGE_MARKED_DELIVERED) that ask the requester to confirm. The pledge stays PLEDGED until
the requester confirms: only they can say it arrived.

Revision ID: 0032_donor_marks_delivered
Revises: 0031_category_rank_points
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_donor_marks_delivered"
down_revision = "0031_category_rank_points"
branch_labels = None
depends_on = None

OLD_KINDS = [
    "NEED_CREATED", "NEED_UPDATED", "NEED_CANCELLED", "NEED_EXPIRED", "NEED_EXPIRING", "NEED_RENEWED",
    "NEED_VERIFIED", "NEED_REJECTED", "NEED_HIDDEN", "NEED_WAITING",
    "OFFER_CREATED", "OFFER_UPDATED", "OFFER_WITHDRAWN",
    "PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "PLEDGE_ACCEPTED", "MESSAGE_SENT",
    "HELP_REQUESTED", "HELP_ASKED", "HELP_ESCALATED", "HELP_ACCEPTED", "HELP_EXHAUSTED", "MATCH_PROPOSED",
]  # fmt: skip
KINDS = [*OLD_KINDS[:17], "PLEDGE_MARKED_DELIVERED", *OLD_KINDS[17:]]
OLD_NOTIFICATION_KINDS = ["PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "MESSAGE_SENT", "NEED_EXPIRING",
                          "HELP_ASKED"]  # fmt: skip
NOTIFICATION_KINDS = [*OLD_NOTIFICATION_KINDS[:3], "PLEDGE_MARKED_DELIVERED", *OLD_NOTIFICATION_KINDS[3:]]


def _listed(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.add_column("pledges", sa.Column("marked_delivered_at", sa.DateTime(timezone=True)))
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(KINDS)})")
    # 0027 named it in full, so the naming convention prefixed it once more; it gets the model's name now.
    op.drop_constraint("ck_notifications_ck_notifications_kind", "notifications")
    op.create_check_constraint(
        op.f("ck_notifications_kind"), "notifications", f"kind IN ({_listed(NOTIFICATION_KINDS)})"
    )


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'PLEDGE_MARKED_DELIVERED'")
    op.drop_constraint("ck_notifications_kind", "notifications")
    # Back under 0027's name, so that upgrading again finds what it drops.
    op.create_check_constraint(
        op.f("ck_notifications_ck_notifications_kind"), "notifications",
        f"kind IN ({_listed(OLD_NOTIFICATION_KINDS)})",
    )  # fmt: skip
    op.execute("DELETE FROM events WHERE kind = 'PLEDGE_MARKED_DELIVERED'")
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(OLD_KINDS)})")
    op.drop_column("pledges", "marked_delivered_at")
