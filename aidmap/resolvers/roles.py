"""Roles: admins grant and revoke them (the first admin comes from the command line: aidmap/cli/admins.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.i18n import msg
from aidmap.models import Account, AdminArea, Role, VerifierArea
from aidmap.problems import Code, Problems
from aidmap.resolvers.accounts import Viewer


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
