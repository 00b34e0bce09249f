"""Roles: the first admin comes from the command line; admins grant and revoke the others."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.i18n import msg
from aidmap.models import Account, AdminArea, Role, VerifierArea
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.problems import Code, Problems


def _require_admin(viewer: Viewer) -> None:
    if Role.ADMIN.value not in viewer.roles:
        raise Problems.one(None, msg("Only an admin can change roles."), Code.FORBIDDEN)


async def _account(session: AsyncSession, account_id: int) -> Account:
    account = (
        await session.execute(select(Account).where(Account.id == account_id).with_for_update())
    ).scalar_one_or_none()
    if account is None:
        raise Problems.one("accountId", msg("No account has this id."), Code.NOT_FOUND)
    return account


async def grant(
    *, session: AsyncSession, viewer: Viewer, account_id: int, role: Role, area_codes: Sequence[str]
) -> Account:
    """Give a role; a verifier is bound to one or more existing areas (added to those they have)."""
    _require_admin(viewer)
    account = await _account(session, account_id)
    if role is Role.VERIFIER:
        codes = sorted(set(area_codes))
        if not codes:
            raise Problems.one("areaCodes", msg("A verifier needs at least one area."), Code.REQUIRED)
        known = set((await session.execute(select(AdminArea.code).where(AdminArea.code.in_(codes)))).scalars())
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise Problems.one("areaCodes", msg("Unknown area codes: {codes}.", codes=", ".join(unknown)), Code.INVALID)
        existing = set(
            (
                await session.execute(select(VerifierArea.area_code).where(VerifierArea.account_id == account.id))
            ).scalars()
        )
        for code in codes:
            if code not in existing:
                session.add(VerifierArea(account_id=account.id, area_code=code))
    elif area_codes:
        raise Problems.one("areaCodes", msg("Only the verifier role is bound to areas."), Code.INVALID)
    if role.value not in account.roles:
        account.roles = [*account.roles, role.value]
    await session.flush()
    return account


async def revoke(*, session: AsyncSession, viewer: Viewer, account_id: int, role: Role) -> Account:
    _require_admin(viewer)
    account = await _account(session, account_id)
    if role is Role.ADMIN and account.id == viewer.account_id:
        raise Problems.one("role", msg("You cannot revoke your own admin role."), Code.INVALID_STATE)
    account.roles = [r for r in account.roles if r != role.value]
    if role is Role.VERIFIER:
        await session.execute(delete(VerifierArea).where(VerifierArea.account_id == account.id))
    await session.flush()
    return account


async def verifier_areas(*, session: AsyncSession, account_id: int) -> list[str]:
    rows = await session.execute(
        select(VerifierArea.area_code).where(VerifierArea.account_id == account_id).order_by(VerifierArea.area_code)
    )
    return list(rows.scalars())


def create_admin(*, url: str, phone: str, display_name: str, password: str, hash_profile: str) -> tuple[int, bool]:
    """Make the account with this phone an admin, creating it if needed; returns (id, created)."""
    import psycopg

    from aidmap.db.reader import conninfo_from_url
    from aidmap.resolvers.accounts import password_hasher, password_problems
    from aidmap.resolvers.validation import normalise_phone

    normalised = normalise_phone(phone)
    if normalised is None:
        raise ValueError("Enter a phone number like 0912 345 678 or +84912345678.")
    with psycopg.connect(conninfo_from_url(url)) as conn:
        row = conn.execute("SELECT id FROM accounts WHERE phone = %s FOR UPDATE", (normalised,)).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE accounts SET roles = array_append(roles, 'ADMIN') WHERE id = %s AND NOT 'ADMIN' = ANY(roles)",
                (row[0],),
            )
            return int(row[0]), False
        problems = password_problems("The password", password, phone=normalised)
        if problems:
            raise ValueError(problems[0].message)
        if not display_name.strip():
            raise ValueError("Give the admin a display name (--name).")
        created = conn.execute(
            "INSERT INTO accounts (display_name, phone, password_hash, roles) VALUES (%s, %s, %s, %s) RETURNING id",
            (
                display_name.strip(),
                normalised,
                password_hasher(hash_profile).hash(password),
                ["REQUESTER", "DONOR", "ADMIN"],
            ),
        ).fetchone()
        assert created is not None
        return int(created[0]), True
