"""One-time claim codes: the proof that whoever claims a need filed on someone's behalf holds its phone.

The filer (a hotline operator, a relative) gets the code once, in createNeed's payload (or a new
one from issueClaimCode), and reads it to the person on the call or writes it on the delivery
slip; the person enters it in claimNeed. Where a deployment configures an SMS gateway
(aidmap/notify/sms.py), the code also goes to the person's phone (`sms_text`), after the
transaction commits and in the background; if that fails, the filer still has it.

Only an HMAC of the code (keyed with AIDMAP_SECRET_KEY and bound to the need) is stored. 8 digits,
5 wrong tries lock the need's claim for 15 minutes, 20 wrong tries void the code (the filer issues
a new one): at most 20 guesses of 10^8 per code.

claimNeed is no oracle for "which need was filed for my phone" (anyone may sign up with any
phone): the code's presence and format are checked first, the same for every id; then every
refusal (no such need, not filed for the caller's phone, claimed already, no code, an expired,
voided or wrong code, the need's claim locked) is one answer, CLAIM_CODE_WRONG with one message;
and every such refusal is counted against the claiming account and the client address (back-off
keys of their own in sign_in_backoff, PER_ACCOUNT and PER_ADDRESS), which answer TOO_MANY_ATTEMPTS
whatever the id. The need's own lock is silent (it refuses the right code too, with the same
answer); the genuine claimant, the only account with the need's phone, reaches the account's lock
at the same failure and is told to wait by it.
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

from aidmap.i18n import N_, gettext, msg, plain
from aidmap.models import Need, NeedClaimCode
from aidmap.problems import Code, CountedProblems, Problems
from aidmap.resolvers.accounts import BackOff, SignInThrottle
from aidmap.resolvers.validation import utcnow

CODE_DIGITS = 8
CODE_TTL = timedelta(days=14)
FAILURES_PER_LOCK = 5
LOCK = timedelta(minutes=15)
# issueClaimCode at most once a minute per need: each new code is also a text to the person's phone.
REISSUE_EVERY = timedelta(minutes=1)
MAX_FAILURES = 20
_SEPARATORS = re.compile(r"[\s\-.]")
_CODE = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")
# Failed claims per claiming account: 5 free (one forgotten every 15 minutes), then 15 minutes, doubling
# to an hour. Only the account's own claims wait: nobody else can lock a person out of theirs.
PER_ACCOUNT = BackOff(free=FAILURES_PER_LOCK, window_s=FAILURES_PER_LOCK * LOCK.total_seconds(), base_s=900, max_s=3600)
# Per client address (IPv6 by /64), so fresh accounts from one place do not each get 5: at most 15
# minutes, as an address may be shared by many people.
PER_ADDRESS = BackOff(free=20, window_s=3600, base_s=60, max_s=900)
REFUSED = msg(
    "No need filed for your phone number has this id and claim code: check both, or ask whoever "
    "filed it for a new code (a code lasts 14 days; after 5 wrong tries the claim waits 15 minutes)."
)


def refused() -> CountedProblems:
    """The one answer to every claim that fails after the input checks (counted: see the module)."""
    return CountedProblems.one("code", REFUSED, Code.CLAIM_CODE_WRONG)


def attempt_keys(throttle: SignInThrottle, *, account_id: int, address: str | None) -> list[tuple[str, BackOff]]:
    """The back-off keys a claim attempt is counted on: the claiming account and the client address."""
    keys = [(throttle.key_for("claim-account", str(account_id)), PER_ACCOUNT)]
    if address:
        keys.append((throttle.address_key(address, kind="claim-address"), PER_ADDRESS))
    return keys


def given_code(code: str | None) -> str:
    """The code as typed (spaces, dashes and dots between digits allowed), or the input error: the same
    for every need id, before anything is looked up."""
    if code is None or not code.strip():
        raise Problems.one("code", msg("{field} is required.", field="code"), Code.REQUIRED)
    given = _SEPARATORS.sub("", code)
    if not _CODE.fullmatch(given):
        raise Problems.one("code", msg("A claim code is {n} digits.", n=CODE_DIGITS), Code.INVALID)
    return given


def _digest(key: bytes, need_id: int, code: str) -> str:
    return hmac.new(key, f"claim:{need_id}:{code}".encode(), hashlib.sha256).hexdigest()


async def issue(*, session: AsyncSession, need_id: int, key: bytes, now: datetime | None = None) -> str:
    """A new code for the need (any earlier one stops working); returned once, stored as a hash."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    now = now or utcnow()
    values = {"code_hash": _digest(key, need_id, code), "expires_at": now + CODE_TTL}
    statement = insert(NeedClaimCode).values(need_id=need_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[NeedClaimCode.need_id],
            set_={**values, "failed_attempts": 0, "locked_until": None, "created_at": now},
        )
    )
    return code


async def check(*, session: AsyncSession, need: Need, code: str, key: bytes) -> None:
    """Accept the code (`given_code`'s) and spend it, or raise `refused()`. A wrong code is also counted
    on the need: 5 lock its claim for 15 minutes (silently: the right code is refused the same way
    meanwhile), 20 void it."""
    now = utcnow()
    row = (
        await session.execute(select(NeedClaimCode).where(NeedClaimCode.need_id == need.id).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.failed_attempts >= MAX_FAILURES or row.expires_at <= now:
        raise refused()
    if row.locked_until is not None and row.locked_until > now:
        raise refused()
    if not hmac.compare_digest(_digest(key, need.id, code), row.code_hash):
        row.failed_attempts += 1
        if row.failed_attempts % FAILURES_PER_LOCK == 0:
            row.locked_until = now + LOCK
        await session.flush()
        raise refused()
    await session.execute(delete(NeedClaimCode).where(NeedClaimCode.need_id == need.id))  # one-time


async def reissue_wait(*, session: AsyncSession, need_id: int) -> int:
    """Seconds until the need may have a new code (0: now), from when its current one was issued."""
    issued = (
        await session.execute(select(NeedClaimCode.created_at).where(NeedClaimCode.need_id == need_id))
    ).scalar_one_or_none()
    if issued is None:
        return 0
    return max(0, math.ceil((issued + REISSUE_EVERY - utcnow()).total_seconds()))


def sms_text(*, code: str, need_ref: str, phone: str) -> str:
    """The claim code as a text to the person's phone: what it is, the code and the need's id, how long
    it lasts; never where the need is. Vietnamese without diacritics for Vietnamese numbers (one
    GSM-7 message of 160 characters, as Vietnamese banks send theirs), English for any other."""
    spaced = f"{code[:4]} {code[4:]}"
    language = "vi" if phone.startswith("+84") else "en"
    text = N_(
        "aidmap: a request for help was filed for you. Claim code {code}, request {need}. "
        "Sign up with this number and enter it within {days} days."
    )
    said = (gettext(text, language) or text).format(code=spaced, need=need_ref, days=CODE_TTL.days)
    return plain(said) if language == "vi" else said
