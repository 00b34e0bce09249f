"""Who counts as one person for the fairness part (aidmap/fairness/__init__.py)."""

from __future__ import annotations

from aidmap.fairness import beneficiary_key, phone_digest


def test_needs_a_hotline_files_for_two_households_are_two_beneficiaries() -> None:
    operator = 7
    hl_001 = beneficiary_key(need_id=1, owner_id=operator, filed_by_id=operator, beneficiary_phone="+84900000101")
    hl_002 = beneficiary_key(need_id=2, owner_id=operator, filed_by_id=operator, beneficiary_phone="+84900000102")
    assert hl_001 != hl_002
    assert hl_001 == f"phone:{phone_digest('+84900000101')}"
    # Two needs for one household are one beneficiary.
    assert hl_001 == beneficiary_key(
        need_id=3, owner_id=operator, filed_by_id=operator, beneficiary_phone="+84900000101"
    )


def test_the_claimed_account_then_the_phone_then_the_need() -> None:
    assert beneficiary_key(need_id=1, owner_id=9, filed_by_id=7, beneficiary_phone="+84900000101") == "account:9"
    assert beneficiary_key(need_id=1, owner_id=9, filed_by_id=None, beneficiary_phone=None) == "account:9"
    assert beneficiary_key(need_id=5, owner_id=7, filed_by_id=7, beneficiary_phone=None) == "need:5"
