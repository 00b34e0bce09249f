"""Identity: phones in E.164 by libphonenumber; claim codes; sign-in failures.

Phones were normalised by a regular expression that kept a 0 after +84 and accepted any
Unicode digit, so one number could hold several accounts. Stored phones (accounts,
beneficiaries, contact phones) are rewritten in the new form. Accounts that collide after
normalisation are never merged: the oldest keeps the number, the others keep their old
spelling (which nobody can sign in with any more) and are listed in the log for an admin.

need_claim_codes: the one-time code (an HMAC of it) that claiming a need filed on someone's
behalf requires. sign_in_failures: the per-phone sign-in throttle, shared by every process.

Revision ID: 0017_identity
Revises: 0016_read_channels
Create Date: 2026-12-01
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0017_identity"
down_revision = "0016_read_channels"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _normalise(raw: str) -> str | None:
    # The application's rule at the time of this migration.
    from aidmap.resolvers.validation import normalise_phone

    return normalise_phone(raw)


def renormalise_account_phones(rows: list[tuple[int, str]]) -> tuple[dict[int, str], list[tuple[str, int, list[int]]]]:
    """(id -> new phone for the accounts to rewrite, [(number, the account that keeps it, all ids on it)]).
    Rows are (id, phone) in creation order: the first account of a number keeps it."""
    by_number: dict[str, list[int]] = {}
    for account_id, phone in rows:
        by_number.setdefault(_normalise(phone) or phone, []).append(account_id)
    current = dict(rows)
    changes: dict[int, str] = {}
    collisions: list[tuple[str, int, list[int]]] = []
    for number, ids in by_number.items():
        # The holder is the account already spelled right, else the oldest.
        holder = next((i for i in ids if current[i] == number), ids[0])
        if current[holder] != number:
            changes[holder] = number
        if len(ids) > 1:
            collisions.append((number, holder, ids))
    return changes, collisions


def _upgrade_phones(conn: sa.Connection) -> None:
    rows = [(int(r[0]), str(r[1])) for r in conn.execute(sa.text("SELECT id, phone FROM accounts ORDER BY id"))]
    changes, collisions = renormalise_account_phones(rows)
    for account_id, phone in changes.items():
        conn.execute(sa.text("UPDATE accounts SET phone = :p WHERE id = :id"), {"p": phone, "id": account_id})
    for number, holder, ids in collisions:
        log.warning(
            "accounts %s share the phone %s once normalised: account %s keeps it, the others keep their old "
            "spelling and can no longer sign in; nothing was merged (an admin decides)",
            ids, number, holder,
        )  # fmt: skip
    for column in ("beneficiary_phone", "contact_phone"):
        found = conn.execute(sa.text(f"SELECT DISTINCT {column} FROM needs WHERE {column} IS NOT NULL"))
        for (old,) in found.all():
            new = _normalise(old)
            if new is not None and new != old:
                conn.execute(
                    sa.text(f"UPDATE needs SET {column} = :new WHERE {column} = :old"), {"new": new, "old": old}
                )


def upgrade() -> None:
    _upgrade_phones(op.get_bind())
    op.create_table(
        "need_claim_codes",
        sa.Column("need_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name="fk_need_claim_codes_need_id_needs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("need_id", name="pk_need_claim_codes"),
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_failures"),
    )
    op.create_index("ix_sign_in_failures_key_hash_failed_at", "sign_in_failures", ["key_hash", "failed_at"])


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("need_claim_codes")
    # The normalised phones stay: the old form was the bug.
