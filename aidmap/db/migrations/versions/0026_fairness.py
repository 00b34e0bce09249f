"""Fair allocation: help counted per beneficiary, waiting needs that reach further, matching rounds.

- `needs.beneficiary_key` (generated): whom the help on a need goes to, for the fairness part of
  the score: the claimed (or posting) account, else the person's phone (sha256 of its E.164 form),
  else the need itself. Counting per owner account made every household a hotline operator files
  for share one count. Python twin: aidmap.fairness.beneficiary_key.
- `needs.waiting_reach_m`: how much farther than a donor's radius the need reaches, as last
  announced by the waiting job (a NEED_WAITING event); `events.reach_from_meters`: what it
  reached before that event, so the event goes only to the circles newly reached.
- `match_proposals`: pledges a matching round proposes to donors; `events.proposal_id`.

Revision ID: 0026_fairness
Revises: 0025_attestations
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_fairness"
down_revision = "0025_attestations"
branch_labels = None
depends_on = None

OLD_KINDS = [
    "NEED_CREATED", "NEED_UPDATED", "NEED_CANCELLED", "NEED_EXPIRED", "NEED_EXPIRING", "NEED_RENEWED",
    "NEED_VERIFIED", "NEED_REJECTED", "NEED_HIDDEN",
    "OFFER_CREATED", "OFFER_UPDATED", "OFFER_WITHDRAWN",
    "PLEDGE_CREATED", "PLEDGE_CANCELLED", "PLEDGE_DELIVERED", "PLEDGE_ACCEPTED", "MESSAGE_SENT",
    "HELP_REQUESTED", "HELP_ASKED", "HELP_ESCALATED", "HELP_ACCEPTED", "HELP_EXHAUSTED",
]  # fmt: skip
KINDS = [*OLD_KINDS[:9], "NEED_WAITING", *OLD_KINDS[9:], "MATCH_PROPOSED"]
BENEFICIARY_KEY = (
    "CASE WHEN filed_by_id IS NULL OR owner_id <> filed_by_id THEN 'account:' || owner_id::text "
    "WHEN beneficiary_phone IS NOT NULL THEN 'phone:' || encode(sha256(decode(beneficiary_phone, 'escape')), 'hex') "
    "ELSE 'need:' || id::text END"
)


def _listed(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.add_column("needs", sa.Column("beneficiary_key", sa.Text(), sa.Computed(BENEFICIARY_KEY, persisted=True)))
    op.create_index("ix_needs_beneficiary_key", "needs", ["beneficiary_key"])
    op.add_column("needs", sa.Column("waiting_reach_m", sa.Float(), server_default="0", nullable=False))
    # The waiting job's scan: open needs with nothing pledged, oldest first.
    op.create_index("ix_needs_waiting_created_at", "needs", ["created_at"], postgresql_where=sa.text("status = 'OPEN'"))
    op.add_column("events", sa.Column("reach_from_meters", sa.Float()))
    op.add_column("events", sa.Column("proposal_id", sa.BigInteger()))
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(KINDS)})")
    op.create_table(
        "match_proposals",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "offer_id", sa.BigInteger(), sa.ForeignKey("offers.id", name="fk_match_proposals_offer_id_offers"),
            nullable=False,
        ),
        sa.Column(
            "need_id", sa.BigInteger(), sa.ForeignKey("needs.id", name="fk_match_proposals_need_id_needs"),
            nullable=False,
        ),
        sa.Column(
            "donor_id", sa.BigInteger(), sa.ForeignKey("accounts.id", name="fk_match_proposals_donor_id_accounts"),
            nullable=False,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.Text(), server_default="PROPOSED", nullable=False),
        sa.Column(
            "pledge_id", sa.BigInteger(), sa.ForeignKey("pledges.id", name="fk_match_proposals_pledge_id_pledges")
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_match_proposals_quantity_positive")),
        sa.CheckConstraint(
            "status IN ('PROPOSED', 'ACCEPTED', 'DECLINED', 'LAPSED')", name=op.f("ck_match_proposals_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_proposals")),
    )  # fmt: skip
    op.create_index("ix_match_proposals_donor_id", "match_proposals", ["donor_id"])
    op.create_index("ix_match_proposals_need_id", "match_proposals", ["need_id"])
    # A pair is proposed once: declined or lapsed, it is not proposed again.
    op.create_index("uq_match_proposals_offer_id_need_id", "match_proposals", ["offer_id", "need_id"], unique=True)


def downgrade() -> None:
    op.drop_table("match_proposals")
    op.execute("DELETE FROM events WHERE kind IN ('NEED_WAITING', 'MATCH_PROPOSED')")
    op.drop_constraint("ck_events_kind", "events")
    op.create_check_constraint(op.f("ck_events_kind"), "events", f"kind IN ({_listed(OLD_KINDS)})")
    op.drop_column("events", "proposal_id")
    op.drop_column("events", "reach_from_meters")
    op.drop_index("ix_needs_waiting_created_at", "needs")
    op.drop_column("needs", "waiting_reach_m")
    op.drop_index("ix_needs_beneficiary_key", "needs")
    op.drop_column("needs", "beneficiary_key")
