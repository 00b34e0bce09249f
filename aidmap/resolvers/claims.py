"""One-time claim codes: the proof that whoever claims a need filed on someone's behalf holds its phone.

The filer (a hotline operator, a relative) gets the code once, in createNeed's payload (or a new
one from issueClaimCode), and reads it to the person on the call or writes it on the delivery
slip; the person enters it in claimNeed. Where a deployment configures an SMS gateway
(aidmap/notify/sms.py), the code also goes to the person's phone (`sms_text`), after the
transaction commits and in the background; if that fails, the filer still has it.

Only an HMAC of the code (keyed with AIDMAP_SECRET_KEY and bound to the need) is stored. 8 digits,
5 wrong tries lock the need's claim for 15 minutes, 20 wrong tries void the code (the filer issues
a new one): at most 20 guesses of 10^8 per code.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.models import Need, NeedClaimCode
from aidmap.resolvers.problems import Code, CountedProblems, Problem, Problems
from aidmap.resolvers.validation import utcnow

CODE_DIGITS = 8
CODE_TTL = timedelta(days=14)
FAILURES_PER_LOCK = 5
LOCK = timedelta(minutes=15)
MAX_FAILURES = 20
_SEPARATORS = re.compile(r"[\s\-.]")


def _digest(key: bytes, need_id: int, code: str) -> str:
    return hmac.new(key, f"claim:{need_id}:{code}".encode(), hashlib.sha256).hexdigest()


async def issue(*, session: AsyncSession, need_id: int, key: bytes, now: datetime | None = None) -> str:
    """A new code for the need (any earlier one stops working); returned once, stored as a hash."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    values = {"code_hash": _digest(key, need_id, code), "expires_at": (now or utcnow()) + CODE_TTL}
    statement = insert(NeedClaimCode).values(need_id=need_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[NeedClaimCode.need_id],
            set_={**values, "failed_attempts": 0, "locked_until": None},
        )
    )
    return code


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


async def check(*, session: AsyncSession, need: Need, code: str | None, key: bytes) -> None:
    """Accept the code (and spend it) or raise: a wrong code is counted even though the claim fails."""
    now = utcnow()
    if code is None or not code.strip():
        raise Problems.one("code", "code is required.", Code.REQUIRED)
    row = (
        await session.execute(select(NeedClaimCode).where(NeedClaimCode.need_id == need.id).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.failed_attempts >= MAX_FAILURES or row.expires_at <= now:
        raise Problems.one(
            "code",
            "This need has no valid claim code: ask whoever filed it for a new one.",
            Code.CLAIM_CODE_EXPIRED,
        )
    if row.locked_until is not None and row.locked_until > now:
        wait = _retry_after(row.locked_until, now)
        raise Problems(
            [Problem("code", f"Too many wrong attempts; try again in {wait} seconds.", Code.TOO_MANY_ATTEMPTS, wait)]
        )
    given = _SEPARATORS.sub("", code)
    if not hmac.compare_digest(_digest(key, need.id, given), row.code_hash):
        row.failed_attempts += 1
        if row.failed_attempts % FAILURES_PER_LOCK == 0:
            row.locked_until = now + LOCK
        await session.flush()
        raise CountedProblems.one("code", "The claim code is wrong.", Code.CLAIM_CODE_WRONG)
    await session.execute(delete(NeedClaimCode).where(NeedClaimCode.need_id == need.id))  # one-time


def sms_text(*, code: str, need_ref: str, phone: str) -> str:
    """The claim code as a text to the person's phone: what it is, the code and the need's id, how long
    it lasts; never where the need is. Vietnamese without diacritics for Vietnamese numbers (one
    GSM-7 message of 160 characters, as Vietnamese banks send theirs), English for any other."""
    spaced = f"{code[:4]} {code[4:]}"
    days = CODE_TTL.days
    if phone.startswith("+84"):
        return (
            f"aidmap: Yeu cau giup do da duoc gui thay ban. Ma nhan: {spaced}, ma yeu cau: {need_ref}. "
            f"Dang ky bang so nay va nhap ma trong {days} ngay."
        )
    return (
        f"aidmap: a request for help was filed for you. Claim code {spaced}, request {need_ref}. "
        f"Sign up with this number and enter it within {days} days."
    )
