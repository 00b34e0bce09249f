"""Pledge acceptance: a pledge releases its need's exact location and phone once accepted.

With AIDMAP_DISCLOSE_ON=pledge a pledge is accepted when it is made (today's behaviour);
with accept, when the requester or whoever filed the need calls acceptPledge. Every pledge
made before this migration released the private fields when it was made, so it is backfilled
as accepted then. A new event kind, PLEDGE_ACCEPTED, tells the donor.

Revision ID: 0018_pledge_acceptance
Revises: 0017_identity
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_pledge_acceptance"
down_revision = "0017_identity"
branch_labels = None
depends_on = None

OLD_KINDS = [
    "NEED_CREATED", "NEED_UPDATED", "NEED_CANCELLED", "NEED_EXPIRED", "NEED_EXPIRING", "NEED_RENEWED",
    "NEED_VERIFIED", "NEED_REJECTED", "NEED_HIDDEN",
    "OFFER_CREATED", "OFFER_UPDATED", "OFFER_WITHDRAWN",
    "PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "MESSAGE_SENT",
    "HELP_REQUESTED", "HELP_ASKED", "HELP_ESCALATED", "HELP_ACCEPTED", "HELP_EXHAUSTED",
]  # fmt: skip
KINDS = [*OLD_KINDS[:15], "PLEDGE_ACCEPTED", *OLD_KINDS[15:]]


def _listed(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.add_column("pledges", sa.Column("accepted_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE pledges SET accepted_at = created_at")
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(KINDS)})")


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE kind = 'PLEDGE_ACCEPTED'")
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(OLD_KINDS)})")
    op.drop_column("pledges", "accepted_at")
