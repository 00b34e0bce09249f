"""Ward verification, reports and review: the work of verifiers (bound to areas) and admins.

As Hue-S routed support requests to the ward: with verification required, a new need is
seen only by the people in charge of it until a verifier of its ward verifies or rejects it.
Reports from `reports_to_hide` different trusted accounts, or one from a reviewer of its ward, hide
a public need until a verifier or admin keeps it (verifyNeed) or takes it down (rejectNeed).

Trusted means a history its owner cannot make up alone, in seconds: the account is older than
`trust_hours` AND has a delivery confirmed on someone else's need whose requester was itself older
than `trust_hours` when confirming, or that a verifier verified (and did not reject). A delivery a
puppet requester confirms for puppet donors right after signing up therefore counts for nothing.
Whether a report counts is decided once, when it is filed (need_reports.counts): a report filed
while its reporter was fresh never starts counting later.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, select, text, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.nearby import Page
from aidmap.db.paging import newest_first
from aidmap.db.sql import status_is
from aidmap.events.outbox import emit
from aidmap.i18n import msg
from aidmap.models import EventKind, Need, NeedReport, NeedStatus, Pledge, PledgeStatus
from aidmap.models.need import ACTIVE_STATUSES, HIDDEN_STATUSES, may_see_need, privacy_facts, reviews, status_for
from aidmap.problems import Code, Problems
from aidmap.resolvers import attestations
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.needs import active_donors, following_donors
from aidmap.resolvers.validation import Checker, utcnow

MAX_REASON = 500


def _not_found() -> Problems:
    return Problems.one("needId", msg("No need has this id."), Code.NOT_FOUND)


def may_verify(viewer: Viewer, need: Need) -> bool:
    """Admins, and verifiers of the need's ward; never for a need they posted or filed themselves."""
    if viewer.account_id in (need.owner_id, need.filed_by_id):
        return False
    return reviews(viewer.principal, ward_code=need.ward_code)


async def _need_for_update(session: AsyncSession, viewer: Viewer, need_id: int) -> Need:
    need = (await session.execute(select(Need).where(Need.id == need_id).with_for_update())).scalar_one_or_none()
    if need is None:
        raise _not_found()
    active_donor = await _is_active_donor(session, viewer.account_id, need.id)
    if not may_see_need(viewer.principal, status=need.status, **privacy_facts(need, active_donor=active_donor)):
        raise _not_found()  # a hidden need someone may not see looks like no need at all
    return need


async def _is_active_donor(session: AsyncSession, account_id: int, need_id: int) -> bool:
    return account_id in await active_donors(session=session, need_id=need_id)


def _reopened_status(need: Need) -> str:
    return status_for(quantity=need.quantity, pledged=need.quantity_pledged, delivered=need.quantity_delivered).value


async def verify(
    *, session: AsyncSession, viewer: Viewer, need_id: int, issuer: attestations.Issuer | None = None
) -> Need:
    """Verify a pending need, or keep a need that was hidden by reports: it becomes public. With an
    issuer, the verification is also signed as an attestation (resolvers/attestations.py)."""
    need = await _need_for_update(session, viewer, need_id)
    if not may_verify(viewer, need):
        raise Problems.one(
            "needId", msg("Only a verifier of this need's ward or an admin can verify it."), Code.FORBIDDEN
        )
    if need.status not in (NeedStatus.PENDING_VERIFICATION, NeedStatus.UNDER_REVIEW):
        raise Problems.one(
            "needId", msg("A {status} need has nothing to verify.", status=need.status.lower()), Code.INVALID_STATE
        )
    if need.status == NeedStatus.UNDER_REVIEW:
        # Kept after review: the reports are settled, later reports start a new count.
        await session.execute(NeedReport.__table__.delete().where(NeedReport.need_id == need.id))
    now = utcnow()
    need.status, need.verified_by_id, need.verified_at, need.updated_at = (
        _reopened_status(need),
        viewer.account_id,
        now,
        now,
    )
    # Verified here now: whatever another deployment attested before is superseded.
    need.attested_by_id, need.received_attestation = None, None
    await session.flush()
    await session.refresh(need)
    if issuer is not None:
        # The role, never the person: a verifier of the need's ward, or an admin.
        role = "VERIFIER" if need.ward_code is not None and need.ward_code in viewer.verifier_wards else "ADMIN"
        await attestations.issue(session=session, issuer=issuer, need=need, role=role, verified_at=now)
    await emit(session=session, kind=EventKind.NEED_VERIFIED, need=need, audience=_people(need))
    return need


async def reject(*, session: AsyncSession, viewer: Viewer, need_id: int, reason: str) -> Need:
    """Reject a pending need, or take down a public or reported one; open pledges on it are cancelled."""
    check = Checker()
    reason_text = check.text("reason", reason, max_len=MAX_REASON)
    if check.problems:
        raise Problems(check.problems)
    need = await _need_for_update(session, viewer, need_id)
    if not may_verify(viewer, need):
        raise Problems.one(
            "needId", msg("Only a verifier of this need's ward or an admin can reject it."), Code.FORBIDDEN
        )
    if need.status not in (NeedStatus.PENDING_VERIFICATION, NeedStatus.UNDER_REVIEW, *ACTIVE_STATUSES):
        raise Problems.one(
            "needId", msg("A {status} need cannot be rejected.", status=need.status.lower()), Code.INVALID_STATE
        )
    was_public = need.status not in HIDDEN_STATUSES
    now = utcnow()
    donors = await _cancel_open_pledges(session, need, viewer.account_id)
    need.status, need.rejected_reason, need.updated_at = NeedStatus.REJECTED.value, reason_text, now
    need.verified_by_id, need.verified_at = viewer.account_id, now
    # A rejected need's attestations no longer hold: partners see them in the status list.
    await attestations.revoke(session=session, need_id=need.id)
    await session.flush()
    await session.refresh(need)
    # NEED_HIDDEN tells public subscribers it left their view; a never-public need gets NEED_REJECTED.
    kind = EventKind.NEED_HIDDEN if was_public else EventKind.NEED_REJECTED
    await emit(session=session, kind=kind, need=need, audience=_people(need) | donors)
    return need


_TRUSTED = text(
    f"""
    SELECT EXISTS (
        SELECT 1 FROM accounts a
        WHERE a.id = :account AND a.created_at <= now() - make_interval(hours => :hours)
          AND EXISTS (
              SELECT 1 FROM pledges p JOIN needs n ON n.id = p.need_id JOIN accounts o ON o.id = n.owner_id
              WHERE p.donor_id = a.id AND {status_is(PledgeStatus.DELIVERED, column="p.status")} AND n.owner_id <> a.id
                AND {status_is(NeedStatus.REJECTED, column="n.status", negate=True)}
                AND (n.verified_by_id IS NOT NULL OR o.created_at <= p.delivered_at - make_interval(hours => :hours))
          )
    )
    """
)
_COUNTING_REPORTS = text("SELECT count(*) FROM need_reports WHERE need_id = :need AND counts")


async def is_trusted(*, session: AsyncSession, account_id: int, trust_hours: int) -> bool:
    """Whether this account's reports count now (see the module): older than `trust_hours`, with a
    delivery confirmed by an established requester or on a verified need."""
    return bool((await session.execute(_TRUSTED, {"account": account_id, "hours": trust_hours})).scalar_one())


async def report(
    *, session: AsyncSession, viewer: Viewer, need_id: int, reason: str, hide_at: int, trust_hours: int = 24
) -> Need:
    """Report a need. It is hidden for review by a report from a verifier of its ward or an admin, or
    by `hide_at` reports that counted when filed: from trusted accounts (see the module)."""
    check = Checker()
    reason_text = check.text("reason", reason, max_len=MAX_REASON)
    if check.problems:
        raise Problems(check.problems)
    need = await _need_for_update(session, viewer, need_id)
    if viewer.account_id in (need.owner_id, need.filed_by_id):
        raise Problems.one("needId", msg("You cannot report your own need."), Code.INVALID_STATE)
    # A reviewer's report hides at once; otherwise only reports from trusted reporters count, weighed
    # now, once (fresh sock-puppets are recorded for the reviewers but never hide a need, alone,
    # together, or later).
    reviewer = may_verify(viewer, need)
    counts = reviewer or await is_trusted(session=session, account_id=viewer.account_id, trust_hours=trust_hours)
    try:
        async with session.begin_nested():
            session.add(NeedReport(need_id=need.id, reporter_id=viewer.account_id, reason=reason_text, counts=counts))
            await session.flush()
    except IntegrityError:
        raise Problems.one("needId", msg("You have already reported this need."), Code.ALREADY_REPORTED) from None
    counting = 0 if reviewer else (await session.execute(_COUNTING_REPORTS, {"need": need.id})).scalar_one()
    if (reviewer or counting >= hide_at) and need.status in ACTIVE_STATUSES:
        need.status, need.updated_at = NeedStatus.UNDER_REVIEW.value, utcnow()
        await session.flush()
        await session.refresh(need)
        donors = await following_donors(session=session, need_id=need.id)
        await emit(session=session, kind=EventKind.NEED_HIDDEN, need=need, audience=_people(need) | donors)
    return need


def _people(need: Need) -> set[int]:
    return {need.owner_id} | ({need.filed_by_id} if need.filed_by_id is not None else set())


async def _cancel_open_pledges(session: AsyncSession, need: Need, by_id: int) -> set[int]:
    now = utcnow()
    donors: set[int] = set()
    for pledge in (
        await session.execute(
            select(Pledge).where(Pledge.need_id == need.id, Pledge.status == PledgeStatus.PLEDGED.value)
        )
    ).scalars():
        pledge.status, pledge.cancelled_at, pledge.cancelled_by_id = PledgeStatus.CANCELLED.value, now, by_id
        donors |= {pledge.donor_id, pledge.carrier_id} - {None}  # type: ignore[operator]
    need.quantity_pledged = need.quantity_delivered
    return donors


def queue_filter(viewer: Viewer) -> ColumnElement[bool] | None:
    """Needs waiting for this viewer: pending or under review, in their wards (all of them for an admin)."""
    waiting = Need.status.in_([NeedStatus.PENDING_VERIFICATION.value, NeedStatus.UNDER_REVIEW.value])
    if viewer.is_admin:
        where: ColumnElement[bool] = true()
    elif viewer.verifier_wards:
        where = Need.ward_code.in_(sorted(viewer.verifier_wards))
    else:
        return None
    # Never their own: a verifier does not verify what they posted or filed.
    not_mine = (Need.owner_id != viewer.account_id) & Need.filed_by_id.is_distinct_from(viewer.account_id)
    return and_(waiting, where, not_mine)


async def queue(*, session: AsyncSession, viewer: Viewer, first: int, after: str | None) -> Page[Need]:
    """The verifier's queue, oldest first (first come, first served)."""
    where = queue_filter(viewer)
    if where is None:
        raise Problems.one(None, msg("Only verifiers and admins have a verification queue."), Code.FORBIDDEN)
    return await newest_first(session=session, model=Need, where=where, first=first, after=after, oldest_first=True)


async def reports_for(*, session: AsyncSession, need_id: int) -> list[NeedReport]:
    rows = await session.execute(
        select(NeedReport).where(NeedReport.need_id == need_id).order_by(NeedReport.created_at)
    )
    return list(rows.scalars())
