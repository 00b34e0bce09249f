"""Report weight: whether a report counts towards hiding its need (need_reports.counts) is fixed when
it is filed, so a report filed by a fresh account never starts counting when the account later looks
trusted. Existing reports are weighed by the rule as it stands now (aidmap/resolvers/verification.py),
as of when each was filed, with the default of 24 hours: the reporter was older than a day and had a
delivery confirmed on a need whose requester was then older than a day, or on a need a verifier had
verified (and not rejected).

Revision ID: 0024_report_weight
Revises: 0022_quotas
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_report_weight"
down_revision = "0022_quotas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("need_reports", sa.Column("counts", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        """
        UPDATE need_reports r SET counts = true
        FROM accounts a
        WHERE a.id = r.reporter_id AND a.created_at <= r.created_at - interval '24 hours'
          AND EXISTS (
              SELECT 1 FROM pledges p JOIN needs n ON n.id = p.need_id JOIN accounts o ON o.id = n.owner_id
              WHERE p.donor_id = r.reporter_id AND p.status = 'DELIVERED' AND p.delivered_at <= r.created_at
                AND n.owner_id <> r.reporter_id AND n.status <> 'REJECTED'
                AND (n.verified_by_id IS NOT NULL OR o.created_at <= p.delivered_at - interval '24 hours')
          )
        """
    )


def downgrade() -> None:
    op.drop_column("need_reports", "counts")
