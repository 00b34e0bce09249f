"""Fair allocation: who counts as one person for the fairness part of the score, how far a waiting
need reaches (reach.py), and matching rounds (matching.py). Pure and database-free, so the
simulated city of bench/fairness.py measures the code that serves."""

from __future__ import annotations

import hashlib


def phone_digest(e164_phone: str) -> str:
    """The hash a beneficiary's phone is counted under: sha256 of the E.164 form, in hex (the SQL
    twin is `encode(sha256(convert_to(beneficiary_phone, 'UTF8')), 'hex')`, migration 0026)."""
    return hashlib.sha256(e164_phone.encode()).hexdigest()


def beneficiary_key(*, need_id: int, owner_id: int, filed_by_id: int | None, beneficiary_phone: str | None) -> str:
    """Whom the help on a need goes to, for counting help received: the claimed (or posting) account,
    else the person's phone, else the need itself. A hotline operator files many needs under one
    account; counting per owner made every household it serves share one count.

    Python twin of the generated column `needs.beneficiary_key` (migration 0026)."""
    if filed_by_id is None or owner_id != filed_by_id:
        return f"account:{owner_id}"
    if beneficiary_phone:
        return f"phone:{phone_digest(beneficiary_phone)}"
    return f"need:{need_id}"
