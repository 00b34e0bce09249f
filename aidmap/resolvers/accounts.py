"""Sign-up, sign-in and bearer tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.db.locks import lock_until_commit
from aidmap.db.reader import Reader
from aidmap.db.replica import Reads
from aidmap.i18n import msg
from aidmap.models import AccessToken, Account, Role, SignInBackoff
from aidmap.models.need import Principal
from aidmap.problems import SESSION_EXPIRED, Code, Problem, Problems
from aidmap.resolvers.validation import Checker, utcnow
from aidmap.settings import Settings

MIN_PASSWORD = 10
MAX_PASSWORD = 256
R = TypeVar("R")


@dataclass(frozen=True)
class Viewer:
    """The signed-in person making a request."""

    account_id: int
    display_name: str
    roles: tuple[str, ...]
    phone: str = ""
    # Ward codes covered by this person's verifier areas (the areas and everything below them).
    verifier_wards: frozenset[str] = frozenset()
    # The partner app that signed this person up, if any.
    partner_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN.value in self.roles

    @property
    def principal(self) -> Principal:
        """This person, for the need privacy rules (models.need)."""
        return Principal(account_id=self.account_id, is_admin=self.is_admin, verifier_wards=self.verifier_wards)


@lru_cache(maxsize=4)
def password_hasher(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(getattr(profiles, profile))


# argon2 takes 300-500 ms of CPU per hash with the production profile: on the event loop one sign-in
# stalls every request of the process. In threads (argon2-cffi releases the GIL), a few at a time:
# a flood of sign-ins queues here instead of starting a thread each (and is rate-limited in front).
HASH_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))
_hash_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")


async def _off_loop(function: Callable[..., R], *args: object) -> R:
    return await asyncio.get_running_loop().run_in_executor(_hash_pool, function, *args)


async def hash_password(profile: str, password: str) -> str:
    return await _off_loop(password_hasher(profile).hash, password)


def _matches(profile: str, stored: str, password: str) -> bool:
    try:
        return password_hasher(profile).verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def password_matches(profile: str, stored: str, password: str) -> bool:
    return await _off_loop(_matches, profile, stored, password)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, '' when the header is malformed."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue_token(*, session: AsyncSession, account_id: int, ttl_days: int) -> str:
    token = secrets.token_urlsafe(32)
    await session.execute(
        insert(AccessToken).values(
            account_id=account_id, token_hash=hash_token(token), expires_at=utcnow() + timedelta(days=ttl_days)
        )
    )
    return token


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The passwords refused as too common (aidmap/data/common-passwords.txt), in lower case."""
    text = resources.files("aidmap").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


# Look-alike characters folded before the list is consulted ("p@ssw0rd" is "password").
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "l", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"})


def _skeleton(password: str) -> str:
    """A password's letters in lower case with look-alikes folded, digits and symbols around them
    dropped: "Password1!" and "password12" are "password"; all-digit passwords keep their digits."""
    lowered = password.strip().lower()
    core = lowered.rstrip("0123456789!?.*#_-+ ").lstrip("0123456789!?.*#_-+ ")
    if not core:
        return lowered
    return "".join(ch for ch in core.translate(_LEET) if ch.isalnum())


@lru_cache(maxsize=1)
def _common_skeletons() -> frozenset[str]:
    return frozenset(_skeleton(p) for p in common_passwords()) | common_passwords()


def password_problems(field: str, password: str, *, phone: str | None = None) -> list[Problem]:
    """Why a new password is refused: shorter than MIN_PASSWORD, longer than MAX_PASSWORD, fewer than
    four different visible characters ("aaaaaaaaaa", ten spaces), the person's own phone number in
    it (the phone is the sign-in name), or one of the most common passwords, compared in lower case
    with look-alikes folded and digits or symbols around it dropped ("P@ssw0rd12" is "password")."""
    if len(password) < MIN_PASSWORD:
        return [
            Problem(field, msg("{field} must be at least {n} characters.", field=field, n=MIN_PASSWORD), Code.TOO_SHORT)
        ]
    if len(password) > MAX_PASSWORD:
        return [
            Problem(field, msg("{field} must be at most {n} characters.", field=field, n=MAX_PASSWORD), Code.TOO_LONG)
        ]
    visible = {ch for ch in password if ch.isprintable() and not ch.isspace()}
    digits = "".join(ch for ch in password if ch.isdigit())
    national = phone.removeprefix("+84") if phone else None
    if (
        len(visible) < 4
        or (national is not None and len(national) >= 6 and national.lstrip("0") in digits)
        or password.strip().lower() in common_passwords()
        or _skeleton(password) in _common_skeletons()
    ):
        message = msg("This password is too easy to guess; choose another (a few words are easy to remember).")
        return [Problem(field, message, Code.TOO_COMMON)]
    return []


async def sign_up(
    *,
    session: AsyncSession,
    display_name: str,
    phone: str,
    password: str,
    hash_profile: str,
    ttl_days: int,
    partner_id: int | None = None,
) -> tuple[Account, str]:
    """A new account with a token; raises Problems on bad input or a taken phone. Signed up through
    a partner app's key, the account belongs to that partner, which may then act for it."""
    check = Checker()
    name = check.text("displayName", display_name, max_len=80)
    normalised = check.phone("phone", phone)
    check.problems.extend(password_problems("password", password, phone=normalised))
    if check.problems:
        raise Problems(check.problems)
    assert name is not None and normalised is not None
    # A taken phone is refused before the password is hashed: hashing is the expensive part, and a
    # stream of sign-ups for a taken number must not keep the pool from everyone's sign-ins.
    if (await session.execute(select(Account.id).where(Account.phone == normalised))).first() is not None:
        raise Problems.one("phone", msg("An account with this phone number already exists."), Code.PHONE_TAKEN)
    account = Account(
        display_name=name,
        phone=normalised,
        password_hash=await hash_password(hash_profile, password),
        roles=[Role.REQUESTER.value, Role.DONOR.value],
        partner_id=partner_id,
    )
    session.add(account)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Problems.one(
            "phone", msg("An account with this phone number already exists."), Code.PHONE_TAKEN
        ) from None
    token = await _issue_token(session=session, account_id=account.id, ttl_days=ttl_days)
    return account, token


@asynccontextmanager
async def phone_taken_budget(
    sessions: async_sessionmaker[AsyncSession], throttle: SignInThrottle, address: str | None
) -> AsyncIterator[None]:
    """A signUp, counted like a failed sign-in of its client address (IPv6 by /64) when it answers
    PHONE_TAKEN: that answer says a phone has an account, which signIn never tells. So trying phone
    after phone through signUp from one place draws on the same budget as guessing through signIn
    (AIDMAP_SIGN_IN_IP_MAX_FAILURES free, then the back-off), and a locked address gets
    TOO_MANY_ATTEMPTS, for a taken phone and a free one alike. Only a PHONE_TAKEN answer counts, once
    it is given: sign-ups in flight count nothing, so many people signing up at once behind one
    carrier's NAT never lock it (a few parallel probes may pass before their failures are counted;
    the request rate bounds them). Each step is its own short transaction: no lock is held while the
    password is hashed."""
    keys = [(throttle.address_key(address), throttle.per_address)] if address else []
    if keys:
        async with sessions() as session, session.begin():
            await refuse_if_locked(session, keys)
    try:
        yield
    except Problems as failure:
        if keys and any(problem.code == Code.PHONE_TAKEN for problem in failure.problems):
            async with sessions() as session, session.begin():
                await reserve_attempt(session, keys)  # a failure now (TOO_MANY_ATTEMPTS if locked meanwhile)
        raise


@dataclass(frozen=True)
class BackOff:
    """How one kind of key is throttled: `free` failures, forgotten one every `window_s / free` seconds
    (so `free` failures within `window_s` reach the limit, and a quiet key recovers by itself); from the
    `free`-th on, each failure locks the key for `base_s`, then twice as long each time, at most `max_s`
    (an attacker can keep a person waiting minutes, never longer)."""

    free: int = 5
    window_s: float = 900
    base_s: float = 15
    max_s: float = 300

    def forget_s(self) -> float:
        return self.window_s / max(1, self.free)

    def lock_after(self, failures: int) -> float | None:
        """Seconds the key is locked after its `failures`-th remembered failure (None: not locked)."""
        if failures < self.free:
            return None
        return float(min(self.max_s, self.base_s * 2 ** min(failures - self.free, 30)))


@dataclass(frozen=True)
class SignInThrottle:
    """Failed sign-ins are counted per phone and per client address, each with its own back-off; a
    sign-in is refused (TOO_MANY_ATTEMPTS, with the wait) while either is locked. Per phone, not per
    account, so an unknown phone is throttled the same way and the answer tells nothing about which
    phones have accounts; per address (IPv6 by /64), so trying many phones from one place is throttled
    too. A device that already holds a valid token of the account is counted apart (its own key), so a
    stranger's failures never lock out the person's own phone. Counted in PostgreSQL: every process
    sees the same failures, over HTTP and websockets alike."""

    key: bytes
    per_phone: BackOff = BackOff()
    per_address: BackOff = BackOff(free=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInThrottle:
        backoff = {"base_s": settings.sign_in_backoff_seconds, "max_s": settings.sign_in_backoff_max_seconds}
        return cls(
            key=settings.phone_hash_key(),
            per_phone=BackOff(free=settings.sign_in_max_failures, window_s=settings.sign_in_window_seconds, **backoff),
            per_address=BackOff(
                free=settings.sign_in_ip_max_failures, window_s=settings.sign_in_ip_window_seconds, **backoff
            ),
        )

    def _hash(self, kind: str, value: str) -> str:
        return hmac.new(self.key, f"sign-in-{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def key_hash(self, phone: str) -> str:
        return self._hash("phone", phone)

    def address_key(self, address: str, kind: str = "address") -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return self._hash(kind, address)
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return self._hash(kind, str(ip.ipv4_mapped))
            return self._hash(kind, str(ipaddress.ip_network(f"{ip}/64", strict=False)))
        return self._hash(kind, str(ip))

    def place_key(self, phone: str, address: str) -> str:
        """The key of a phone at a client address (IPv6 by /64), as in known_sign_in_places."""
        return self._hash("place", f"{phone}|{self.address_key(address, kind='place-address')}")

    def device_key(self, token: str) -> str:
        return self._hash("device", hash_token(token))

    def key_for(self, kind: str, value: str) -> str:
        """A back-off key of another kind (claim attempts: aidmap/resolvers/claims.py), never equal to
        a sign-in key of the same value."""
        return self._hash(kind, value)


_BACKOFF_STATE = text(
    """
    SELECT key_hash, failures, extract(epoch FROM now() - last_failure_at) AS idle_s,
           extract(epoch FROM locked_until - now()) AS locked_s
    FROM sign_in_backoff WHERE key_hash = ANY(:keys)
    """
)
_RECORD_FAILURE = text(
    """
    INSERT INTO sign_in_backoff (key_hash, failures, last_failure_at, locked_until)
    VALUES (:key, :failures, now(), now() + make_interval(secs => :lock))
    ON CONFLICT (key_hash) DO UPDATE SET failures = EXCLUDED.failures,
        last_failure_at = CASE WHEN CAST(:since AS float8) IS NULL THEN EXCLUDED.last_failure_at
                               ELSE sign_in_backoff.last_failure_at + make_interval(secs => CAST(:since AS float8)) END,
        locked_until = EXCLUDED.locked_until
    """
)
# A right password gives back the attempt it reserved: a phone's or a device's failures are forgotten
# (the person proved the password), an address keeps the others' (one good account must not reset it).
_FORGIVE = text(
    """
    UPDATE sign_in_backoff SET failures = greatest(failures - 1, 0),
           locked_until = CASE WHEN failures - 1 >= :free THEN locked_until END
    WHERE key_hash = :key
    """
)


async def refuse_if_locked(session: AsyncSession, keys: list[tuple[str, BackOff]]) -> dict[str, Any]:
    """TOO_MANY_ATTEMPTS (with the wait) while any of the keys is locked; else their rows."""
    rows = {r.key_hash: r for r in await session.execute(_BACKOFF_STATE, {"keys": [k for k, _ in keys]})}
    wait = max((float(r.locked_s) for r in rows.values() if r.locked_s is not None), default=0.0)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise Problems(
            [
                Problem(
                    None,
                    msg("Too many wrong attempts; try again in {n} seconds.", n=seconds),
                    Code.TOO_MANY_ATTEMPTS,
                    seconds,
                )
            ]
        )
    return rows


async def reserve_attempt(session: AsyncSession, keys: list[tuple[str, BackOff]]) -> None:
    """Count this attempt as a failure of every key before the password is checked (it is given back
    if the password is right): parallel guesses each take a slot, none slips past the count. Refused
    without counting while any key is locked."""
    for key, _ in sorted(keys):  # one order for every transaction: no deadlock between two keys
        await lock_until_commit(session, key, space=11)
    rows = await refuse_if_locked(session, keys)
    for key, rule in keys:
        row = rows.get(key)
        forgotten = math.floor(float(row.idle_s) / rule.forget_s()) if row else 0
        remembered = max(0, row.failures - forgotten) if row else 0
        lock = rule.lock_after(remembered + 1)
        # The forgetting clock moves on by the whole periods forgotten, not to now: attempts (a right
        # password's too, given back later) do not hold back the forgetting of earlier failures.
        since = forgotten * rule.forget_s() if row and remembered > 0 else None
        await session.execute(_RECORD_FAILURE, {"key": key, "failures": remembered + 1, "lock": lock, "since": since})


# A key left with no failure and no lock says nothing: its row goes (every sign-up reserves one).
_FORGET_EMPTY = text(
    "DELETE FROM sign_in_backoff WHERE key_hash = :key AND failures = 0 AND (locked_until IS NULL OR locked_until <= now())"
)


async def give_back(session: AsyncSession, keys: list[tuple[str, BackOff]], forget: set[str]) -> None:
    for key, rule in sorted(keys):
        if key in forget:
            await session.execute(delete(SignInBackoff).where(SignInBackoff.key_hash == key))
        else:
            await session.execute(_FORGIVE, {"key": key, "free": rule.free})
            await session.execute(_FORGET_EMPTY, {"key": key})


async def sign_in(
    *,
    sessions: async_sessionmaker[AsyncSession],
    phone: str,
    password: str,
    hash_profile: str,
    ttl_days: int,
    throttle: SignInThrottle,
    address: str | None = None,
    device: Viewer | None = None,
    device_token: str | None = None,
) -> tuple[Account, str]:
    """The account for these credentials with a fresh token; one vague error for any mismatch.
    Three short transactions, so no database connection is held while the password is checked.

    `address` is the client's (after trusted proxies); `device`/`device_token` the signed-in person and
    token the request carries: when that person's phone is the one signing in, only that device's own
    failures count, so a stranger throttling the phone or the address does not lock it out."""
    hasher = password_hasher(hash_profile)
    invalid = Problems([Problem(None, msg("Phone number or password is wrong."), Code.INVALID_CREDENTIALS)])
    normalised = Checker().phone("phone", phone)
    keys: list[tuple[str, BackOff]]
    place = throttle.place_key(normalised, address) if normalised is not None and address else None
    async with sessions() as session, session.begin():
        known = place is not None and await _known_place(session, place)
        if device is not None and device_token and normalised is not None and device.phone == normalised:
            keys = [(throttle.device_key(device_token), throttle.per_phone)]
        elif known:
            assert place is not None
            keys = [(place, throttle.per_phone)]  # where this phone signed in before: its own budget
        else:
            keys = [(throttle.key_hash(normalised or phone.strip()), throttle.per_phone)]
            if address:
                keys.append((throttle.address_key(address), throttle.per_address))
        await reserve_attempt(session, keys)
        account = None
        if normalised is not None:
            account = (await session.execute(select(Account).where(Account.phone == normalised))).scalar_one_or_none()
        stored = account.password_hash if account is not None else None
    if account is None or stored is None:
        # Hash anyway so response time does not reveal which phones have accounts.
        await hash_password(hash_profile, password)
        raise invalid
    if not await password_matches(hash_profile, stored, password):
        raise invalid  # the reserved attempt stays: a failure
    if account.partner_id is not None:
        # A partner app's account acts through that app (Aidmap-Act-As, within the key's scopes and
        # life); a token of its own would outlive and exceed the key. Told like a wrong password.
        raise invalid
    async with sessions() as session, session.begin():
        await give_back(session, keys, forget={keys[0][0]})
        # Locked, and still the password just checked: a changePassword that committed meanwhile
        # (and revoked every other token) must not be followed by a token for the old password.
        account = await session.get(Account, account.id, with_for_update=True)
        if account is None or account.password_hash != stored:
            raise invalid
        if hasher.check_needs_rehash(account.password_hash):
            account.password_hash = await hash_password(hash_profile, password)
        token = await _issue_token(session=session, account_id=account.id, ttl_days=ttl_days)
        if place is not None:
            await session.execute(_REMEMBER_PLACE, {"key": place})
    return account, token


# A place is known for KNOWN_PLACE_DAYS after the last right sign-in from it.
KNOWN_PLACE_DAYS = 90
_REMEMBER_PLACE = text(
    """
    INSERT INTO known_sign_in_places (key_hash, seen_at) VALUES (:key, now())
    ON CONFLICT (key_hash) DO UPDATE SET seen_at = now()
    """
)


async def _known_place(session: AsyncSession, place: str) -> bool:
    found = await session.execute(
        text(
            "SELECT 1 FROM known_sign_in_places WHERE key_hash = :key AND seen_at > now() - make_interval(days => :days)"
        ),
        {"key": place, "days": KNOWN_PLACE_DAYS},
    )
    return found.first() is not None


async def sign_out(*, session: AsyncSession, token_hash: str) -> int:
    """Revoke one token (the one the request came with); returns how many were revoked (0 or 1)."""
    result = await session.execute(
        update(AccessToken)
        .where(AccessToken.token_hash == token_hash, AccessToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def sign_out_everywhere(*, session: AsyncSession, account_id: int, keep_token_hash: str | None = None) -> int:
    """Revoke every live token of the account (but `keep_token_hash`); returns how many. Open websockets
    authenticated with them close on the next credential recheck (guards/sockets.py)."""
    query = update(AccessToken).where(
        AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None), AccessToken.expires_at > func.now()
    )
    if keep_token_hash is not None:
        query = query.where(AccessToken.token_hash != keep_token_hash)
    result = await session.execute(query.values(revoked_at=func.now()))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def change_password(
    *,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    token_hash: str,
    current_password: str,
    new_password: str,
    hash_profile: str,
    throttle: SignInThrottle,
) -> int:
    """Set a new password when the current one is right, and revoke every other token of the account
    (this one stays signed in); returns how many tokens were revoked. Wrong current passwords count
    against a budget of the account's own (the per-phone back-off, under its own key): someone holding a stolen
    token cannot guess the password with it, and strangers failing to sign in cannot lock the owner out
    of changing it. Hashing runs in the bounded pool, with no database connection held."""
    async with sessions() as session:
        phone = (await session.execute(select(Account.phone).where(Account.id == account_id))).scalar_one_or_none()
    problems = password_problems("newPassword", new_password, phone=phone)
    if problems:
        raise Problems(problems)
    if new_password == current_password:
        raise Problems.one("newPassword", msg("The new password is the same as the current one."), Code.INVALID)
    keys = [(throttle.key_hash(f"change-password:{account_id}"), throttle.per_phone)]
    async with sessions() as session, session.begin():
        await reserve_attempt(session, keys)
        stored = (await session.execute(select(Account.password_hash).where(Account.id == account_id))).scalar_one()
    if not await password_matches(hash_profile, stored, current_password):
        raise Problems.one("currentPassword", msg("The current password is wrong."), Code.INVALID_CREDENTIALS)
    new_hash = await hash_password(hash_profile, new_password)
    async with sessions() as session, session.begin():
        await give_back(session, keys, forget={keys[0][0]})
        # This session may have been ended while the password was checked (signOutEverywhere from
        # the owner's other device): then a stolen token must not get to set the password.
        live = await session.execute(
            select(AccessToken.id)
            .where(
                AccessToken.token_hash == token_hash,
                AccessToken.revoked_at.is_(None),
                AccessToken.expires_at > func.now(),
            )
            .with_for_update()
        )
        if live.scalar_one_or_none() is None:
            raise Problems([SESSION_EXPIRED])
        # Only if nobody changed it meanwhile: the check above was against `stored`.
        changed = await session.execute(
            update(Account)
            .where(Account.id == account_id, Account.password_hash == stored)
            .values(password_hash=new_hash)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise Problems.one("currentPassword", msg("The current password is wrong."), Code.INVALID_CREDENTIALS)
        return await sign_out_everywhere(session=session, account_id=account_id, keep_token_hash=token_hash)


_VIEWER_COLUMNS = "a.id, a.display_name, a.roles, a.phone, a.partner_id"
_VIEWER_SQL = f"""
SELECT {_VIEWER_COLUMNS} FROM access_tokens t JOIN accounts a ON a.id = t.account_id
WHERE t.token_hash = %(token_hash)s::text AND t.revoked_at IS NULL AND t.expires_at > now()
"""
_ACCOUNT_VIEWER_SQL = f"SELECT {_VIEWER_COLUMNS} FROM accounts a WHERE a.id = %(id)s::bigint"
# A verifier bound to a province or district verifies every ward below it.
_VERIFIER_WARDS_SQL = """
WITH RECURSIVE covered(code) AS (
    SELECT area_code FROM verifier_areas WHERE account_id = %(id)s::bigint
    UNION SELECT a.code FROM admin_areas a JOIN covered c ON a.parent_code = c.code
)
SELECT code FROM covered
"""


async def _viewer(reader: Reads, row: object) -> Viewer:
    roles = tuple(row.roles)  # type: ignore[attr-defined]
    wards: frozenset[str] = frozenset()
    if Role.VERIFIER.value in roles:
        wards = frozenset(r.code for r in await reader.fetch(_VERIFIER_WARDS_SQL, {"id": row.id}))  # type: ignore[attr-defined]
    return Viewer(
        account_id=row.id,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        roles=roles,
        phone=row.phone,  # type: ignore[attr-defined]
        verifier_wards=wards,
        partner_id=row.partner_id,  # type: ignore[attr-defined]
    )


async def viewer_for_token(*, reader: Reads, token: str, primary: Reads | None = None) -> Viewer | None:
    """The viewer a bearer token belongs to, or None when it is unknown, revoked or expired.

    With `reader` a replica (db/replica.py), a token it does not know may be one issued a moment ago
    (signUp, signIn): `primary` is asked then. A token the replica does know is live: revocations wait
    for the replica before they answer."""
    params = {"token_hash": hash_token(token)}
    rows = await reader.fetch(_VIEWER_SQL, params)
    if not rows and primary is not None and primary is not reader:
        reader = primary
        rows = await reader.fetch(_VIEWER_SQL, params)
    return await _viewer(reader, rows[0]) if rows else None


async def viewer_for_account(*, reader: Reader, account_id: int) -> Viewer | None:
    """The viewer for an account a partner acts for (the caller checks the partner owns it)."""
    rows = await reader.fetch(_ACCOUNT_VIEWER_SQL, {"id": account_id})
    return await _viewer(reader, rows[0]) if rows else None


# Two people are acquainted when one pledged to a need the other posted or filed, or one filed a need
# for the other: then each may see the other's name (not the phone, which stays the owner's).
# For one viewer (a) and many accounts (b) at once: a page of 20 offers costs one statement.
_ACQUAINTED_SQL = """
SELECT b.id FROM unnest(%(bs)s::bigint[]) AS b(id)
WHERE EXISTS (
    SELECT 1 FROM pledges p JOIN needs n ON n.id = p.need_id
    WHERE (%(a)s::bigint IN (p.donor_id, p.carrier_id) AND b.id IN (n.owner_id, n.filed_by_id))
       OR (b.id IN (p.donor_id, p.carrier_id) AND %(a)s::bigint IN (n.owner_id, n.filed_by_id))
) OR EXISTS (
    SELECT 1 FROM needs n
    WHERE (n.owner_id = %(a)s::bigint AND n.filed_by_id = b.id)
       OR (n.owner_id = b.id AND n.filed_by_id = %(a)s::bigint)
)
"""


async def visible_accounts(
    *, reader: Reader, viewer: Viewer | None, partner_id: int | None, accounts: Sequence[Account]
) -> set[int]:
    """The ids of those accounts the viewer may see, in one statement at most. An Account is shown to
    itself, admins, people it shares a pledge or a need with, and the partner app that signed it up;
    to anyone else its id answers like an unknown one (and a field returning it is null), so
    sequential ids or a page of offers do not list everyone's name."""
    if viewer is None:
        return {a.id for a in accounts if partner_id is not None and a.partner_id == partner_id}
    if viewer.is_admin:
        return {a.id for a in accounts}
    seen = {a.id for a in accounts if a.id == viewer.account_id}
    others = sorted({a.id for a in accounts} - seen)
    if others:
        rows = await reader.fetch(_ACQUAINTED_SQL, {"a": viewer.account_id, "bs": others})
        seen.update(row.id for row in rows)
    return seen


async def get_many(*, session: AsyncSession, account_ids: list[int]) -> list[Account]:
    """Accounts by id, in no particular order."""
    return list((await session.execute(select(Account).where(Account.id.in_(account_ids)))).scalars())
