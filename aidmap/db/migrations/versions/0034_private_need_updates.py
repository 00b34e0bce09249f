"""An event kind for an edit that changes nothing the public sees (NEED_PRIVATE_UPDATED): the exact
point moved within its cell, or the phone changed without taking the badge away. It is told to the
need's donors and to the partner app it was filed through, never to those watching the area: a
public NEED_UPDATED for it told a stranger that the exact point had moved.

Revision ID: 0034_private_need_updates
Revises: 0033_urgency_status_rank_points
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0034_private_need_updates"
down_revision = "0033_urgency_status_rank_points"
branch_labels = None
depends_on = None

# Written out rather than imported: a migration keeps meaning what it meant when it was written.
OLD_KINDS = [
    "NEED_CREATED", "NEED_UPDATED", "NEED_CANCELLED", "NEED_EXPIRED", "NEED_EXPIRING", "NEED_RENEWED",
    "NEED_VERIFIED", "NEED_REJECTED", "NEED_HIDDEN", "NEED_WAITING",
    "OFFER_CREATED", "OFFER_UPDATED", "OFFER_WITHDRAWN",
    "PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "PLEDGE_ACCEPTED", "PLEDGE_MARKED_DELIVERED",
    "MESSAGE_SENT", "HELP_REQUESTED", "HELP_ASKED", "HELP_ESCALATED", "HELP_ACCEPTED", "HELP_EXHAUSTED",
    "MATCH_PROPOSED",
]  # fmt: skip
KINDS = [*OLD_KINDS[:2], "NEED_PRIVATE_UPDATED", *OLD_KINDS[2:]]


def _listed(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(KINDS)})")


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE kind = 'NEED_PRIVATE_UPDATED'")
    op.execute("UPDATE webhooks SET events = array_remove(events, 'NEED_PRIVATE_UPDATED')")
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(OLD_KINDS)})")
