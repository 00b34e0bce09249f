"""An event kind for an edit that changes nothing the public sees (NEED_PRIVATE_UPDATED): the exact
point moved within its cell, or the phone changed without taking the badge away. It is told to the
need's donors (also as a notification kind) and to the partner app it was filed through, never to
those watching the area: a public NEED_UPDATED for it told a stranger that the exact point had moved.

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
OLD_NOTIFICATION_KINDS = ["PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "PLEDGE_MARKED_DELIVERED",
                          "MESSAGE_SENT", "NEED_EXPIRING", "HELP_ASKED"]  # fmt: skip
NOTIFICATION_KINDS = [*OLD_NOTIFICATION_KINDS, "NEED_PRIVATE_UPDATED"]


def _listed(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(KINDS)})")
    # The donors on their way are told by SMS or push too (notify/dispatch.py).
    op.drop_constraint("ck_notifications_kind", "notifications")
    op.create_check_constraint(
        op.f("ck_notifications_kind"), "notifications", f"kind IN ({_listed(NOTIFICATION_KINDS)})"
    )


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'NEED_PRIVATE_UPDATED'")
    op.drop_constraint("ck_notifications_kind", "notifications")
    op.create_check_constraint(
        op.f("ck_notifications_kind"), "notifications", f"kind IN ({_listed(OLD_NOTIFICATION_KINDS)})"
    )
    for column in ("sms_kinds", "push_kinds"):
        op.execute(f"UPDATE notification_preferences SET {column} = array_remove({column}, 'NEED_PRIVATE_UPDATED')")
    # Deliveries first: a pending one whose event is gone would stall its endpoint's queue.
    op.execute(
        "DELETE FROM webhook_deliveries d USING events e WHERE e.seq = d.event_seq AND e.kind = 'NEED_PRIVATE_UPDATED'"
    )
    op.execute("DELETE FROM events WHERE kind = 'NEED_PRIVATE_UPDATED'")
    # Before 0034 neither was a webhook event (nor was PLEDGE_MARKED_DELIVERED kept to the filer).
    for kind in ("NEED_PRIVATE_UPDATED", "PLEDGE_MARKED_DELIVERED"):
        op.execute(f"UPDATE webhooks SET events = array_remove(events, '{kind}')")
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(OLD_KINDS)})")
