"""Pledges: commit a quantity to a need, cancel before delivery, confirm delivery.

Every write locks the need row first (then the offer), so concurrent pledges
serialise on the need and can never commit more than the quantity still open.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from aidmap.db.locks import lock_until_commit
from aidmap.db.nearby import Page
from aidmap.db.paging import newest_first
from aidmap.events.outbox import emit
from aidmap.i18n import msg
from aidmap.models import EventKind, Need, Offer, OfferStatus, Pledge, PledgeStatus
from aidmap.models.need import HIDDEN_STATUSES, OPEN_STATUSES, in_charge_of, status_for
from aidmap.problems import Code, Problems
from aidmap.resolvers import collection_points
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.validation import Checker, utcnow

# The donor's earlier pledges, for the disclosure limit's count.
DISCLOSED = aliased(Pledge, name="disclosed")


async def _need_for_update(*, session: AsyncSession, need_id: int) -> Need | None:
    return (
        await session.execute(
            select(Need).where(Need.id == need_id).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


def _follow_quantities(need: Need) -> None:
    """Set the need's status from its pledged and delivered quantities (cancelled/expired stay)."""
    if need.status in (*OPEN_STATUSES, "PLEDGED", "FULFILLED"):
        need.status = status_for(
            quantity=need.quantity, pledged=need.quantity_pledged, delivered=need.quantity_delivered
        ).value
    need.updated_at = utcnow()


async def _lock_donor(session: AsyncSession, donor_id: int) -> None:
    # Serialise one donor's pledges (until commit) so two at once cannot both pass a count below.
    # Always taken after the need's row lock, never before, so it cannot deadlock with it.
    await lock_until_commit(session, f"pledges:{donor_id}")


async def _check_pledge_quota(session: AsyncSession, donor_id: int, limit: int) -> None:
    await _lock_donor(session, donor_id)
    active = (
        await session.execute(
            select(func.count())
            .select_from(Pledge)
            .where(Pledge.donor_id == donor_id, Pledge.status == PledgeStatus.PLEDGED.value)
        )
    ).scalar_one()
    if active >= limit:
        raise Problems.one(
            "quantity",
            msg(
                "You have {n} pledges not yet delivered (the most at once is {limit}); deliver or cancel one first.",
                n=active,
                limit=limit,
            ),
            Code.QUOTA_EXCEEDED,
        )


async def disclosed_need_ids(session: AsyncSession, donor_id: int) -> set[int]:
    """Needs this donor pledged to in the last 24 hours, less those the donor has delivered to: what the
    disclosure limit counts. Cancelled pledges count (that is the churn); with AIDMAP_DISCLOSE_ON=accept
    pledges not (yet) accepted count too, so the limit holds in both modes without reading the setting."""
    delivered = (
        select(Pledge.id)
        .where(
            Pledge.donor_id == donor_id, Pledge.need_id == DISCLOSED.need_id, Pledge.status == PledgeStatus.DELIVERED
        )
        .exists()
    )
    rows = await session.execute(
        select(DISCLOSED.need_id)
        .distinct()
        .where(
            DISCLOSED.donor_id == donor_id,
            DISCLOSED.created_at > func.now() - timedelta(hours=24),
            ~delivered,
        )
    )
    return set(rows.scalars())


async def _check_disclosure_limit(session: AsyncSession, donor_id: int, need_id: int, limit: int) -> None:
    await _lock_donor(session, donor_id)
    seen = await disclosed_need_ids(session, donor_id)
    # Pledging again to a need already counted discloses nothing new.
    if need_id not in seen and len(seen) >= limit:
        raise Problems.one(
            "needId",
            msg(
                "You have pledged to {n} needs in the last 24 hours without a delivery (the most is {limit}); "
                "deliver one, or wait, before pledging to another.",
                n=len(seen),
                limit=limit,
            ),
            Code.DISCLOSURE_LIMIT,
        )


async def create(
    *,
    session: AsyncSession,
    viewer: Viewer,
    need_id: int,
    quantity: int,
    offer_id: int | None,
    max_active: int | None = None,
    disclosure_limit: int | None = None,
    accept_at_once: bool = True,
    collection_point_id: int | None = None,
) -> Pledge:
    """Pledge a quantity; with max_active, a donor may have at most that many pledges not yet delivered;
    with disclosure_limit, pledge to at most that many distinct needs a day without a delivery.
    accept_at_once (AIDMAP_DISCLOSE_ON=pledge) releases the need's private fields to the donor now;
    otherwise only acceptPledge does. An instant-help pledge is accepted at once: the requester
    asked for the first donor who answers. With collection_point_id the pledge is relayed through that
    point (resolvers/collection_points.check_relay): its manager carries it, and sees the need's
    private fields instead of the donor."""
    check = Checker()
    check.positive_int("quantity", quantity)
    if check.problems:
        raise Problems(check.problems)
    need = await _need_for_update(session=session, need_id=need_id)
    if need is None or (
        need.status in HIDDEN_STATUSES
        and not in_charge_of(
            viewer.principal, owner_id=need.owner_id, filed_by_id=need.filed_by_id, ward_code=need.ward_code
        )
    ):
        # A need hidden from this donor (pending, under review, rejected) looks like no need at all.
        raise Problems.one("needId", msg("No need has this id."), Code.NOT_FOUND)
    if need.owner_id == viewer.account_id:
        raise Problems.one("needId", msg("You cannot pledge to your own need."), Code.OWN_NEED)
    if need.status not in OPEN_STATUSES or need.expires_at <= utcnow():
        raise Problems.one("needId", msg("This need no longer accepts pledges."), Code.INVALID_STATE)
    if max_active is not None:
        await _check_pledge_quota(session, viewer.account_id, max_active)
    if disclosure_limit is not None:
        await _check_disclosure_limit(session, viewer.account_id, need.id, disclosure_limit)
    still_open = need.quantity - need.quantity_pledged
    if quantity > still_open:
        raise Problems.one(
            "quantity",
            msg("Only {n} {unit} are still needed.", n=still_open, unit=need.unit),
            Code.QUANTITY_EXCEEDS_OPEN,
        )
    offer = None
    if offer_id is not None:
        offer = (
            await session.execute(select(Offer).where(Offer.id == offer_id).with_for_update())
        ).scalar_one_or_none()
        if offer is None or offer.donor_id != viewer.account_id:
            raise Problems.one("offerId", msg("No offer of yours has this id."), Code.NOT_FOUND)
        if offer.status != OfferStatus.ACTIVE or offer.category != need.category:
            raise Problems.one(
                "offerId", msg("This offer is not active or is for another category."), Code.OFFER_UNAVAILABLE
            )
        if offer.quantity_pledged + quantity > offer.quantity:
            left = offer.quantity - offer.quantity_pledged
            raise Problems.one(
                "quantity", msg("Your offer has only {n} {unit} left.", n=left, unit=offer.unit), Code.OFFER_UNAVAILABLE
            )
    point = None
    if collection_point_id is not None:
        point = await collection_points.check_relay(
            session=session, point_id=collection_point_id, offer=offer, need=need, quantity=quantity
        )
    if offer is not None:
        offer.quantity_pledged += quantity
        if offer.quantity_pledged >= offer.quantity:
            offer.status = OfferStatus.EXHAUSTED.value
        offer.updated_at = utcnow()
    need.quantity_pledged += quantity
    _follow_quantities(need)
    pledge = Pledge(
        need_id=need.id,
        donor_id=viewer.account_id,
        offer_id=offer_id,
        quantity=quantity,
        accepted_at=func.now() if accept_at_once else None,
        collection_point_id=point.id if point is not None else None,
        carrier_id=point.manager_id if point is not None else None,
    )
    session.add(pledge)
    await session.flush()
    await session.refresh(pledge)
    audience = _parties(need, pledge)
    await emit(session=session, kind=EventKind.PLEDGE_CREATED, need=need, pledge_id=pledge.id, audience=audience)
    if offer is not None:
        await emit(session=session, kind=EventKind.OFFER_UPDATED, offer=offer)
    return pledge


def _parties(need: Need, pledge: Pledge) -> set[int]:
    """Who follows a pledge on `myActivity`: the need's owner, the donor, the carrier of a relayed one,
    and whoever filed the need for someone (an operator or relative keeps following it after the
    person claims it)."""
    others = {need.filed_by_id, pledge.carrier_id} - {None}
    return {need.owner_id, pledge.donor_id} | others  # type: ignore[operator]


async def _involved_for_update(*, session: AsyncSession, viewer: Viewer, pledge_id: int) -> tuple[Pledge, Need]:
    pledge = await session.get(Pledge, pledge_id)
    need = await _need_for_update(session=session, need_id=pledge.need_id) if pledge else None
    if pledge is None or need is None or viewer.account_id not in (pledge.donor_id, need.owner_id, pledge.carrier_id):
        raise Problems.one("pledgeId", msg("No pledge of yours has this id."), Code.NOT_FOUND)
    # Re-read under the need's lock: a concurrent cancel may have changed it.
    await session.refresh(pledge, with_for_update=True)
    if pledge.status != PledgeStatus.PLEDGED:
        raise Problems.one(
            "pledgeId", msg("This pledge is already {status}.", status=pledge.status.lower()), Code.INVALID_STATE
        )
    return pledge, need


def _check_cancellable(pledge: Pledge, need: Need, viewer: Viewer) -> None:
    # A relayed pledge its carrier says was delivered is past the donor's hands: only the requester may
    # still call it off (it did not arrive); the donor cancelling would take back goods already handed on.
    if pledge.carrier_id is not None and pledge.marked_delivered_at is not None and viewer.account_id != need.owner_id:
        raise Problems.one(
            "pledgeId", msg("This pledge was marked delivered: only the person who asked for help can cancel it now."),
            Code.INVALID_STATE,
        )  # fmt: skip


async def cancel(*, session: AsyncSession, viewer: Viewer, pledge_id: int) -> Pledge:
    """Either side cancels before delivery (a relayed one: its donor, its carrier or the requester); the
    quantity opens up again."""
    pledge, need = await _involved_for_update(session=session, viewer=viewer, pledge_id=pledge_id)
    _check_cancellable(pledge, need, viewer)
    now = utcnow()
    pledge.status, pledge.cancelled_at, pledge.cancelled_by_id = PledgeStatus.CANCELLED.value, now, viewer.account_id
    need.quantity_pledged -= pledge.quantity
    _follow_quantities(need)
    if pledge.offer_id is not None:
        offer = (await session.execute(select(Offer).where(Offer.id == pledge.offer_id).with_for_update())).scalar_one()
        offer.quantity_pledged -= pledge.quantity
        if offer.status == OfferStatus.EXHAUSTED:
            offer.status = OfferStatus.ACTIVE.value
        offer.updated_at = now
    await session.flush()
    audience = _parties(need, pledge)
    await emit(session=session, kind=EventKind.PLEDGE_CANCELLED, need=need, pledge_id=pledge.id, audience=audience)
    if pledge.offer_id is not None:
        await emit(session=session, kind=EventKind.OFFER_UPDATED, offer=offer)
    return pledge


async def confirm_delivery(*, session: AsyncSession, viewer: Viewer, pledge_id: int) -> Pledge:
    """The requester confirms the donor delivered: whoever filed the need for someone, until that person
    claims it (they own it then, and the filer no longer speaks for them)."""
    # The filer still follows the need and its pledges (myNeeds(filedForOthers:)): told why, not "no such pledge".
    pledge = await session.get(Pledge, pledge_id)
    need = await session.get(Need, pledge.need_id) if pledge else None
    if need is not None and need.filed_by_id == viewer.account_id and need.owner_id != viewer.account_id:
        raise Problems.one(
            "pledgeId",
            msg("The person this need was filed for has claimed it: they confirm delivery themselves."),
            Code.FORBIDDEN,
        )
    pledge, need = await _involved_for_update(session=session, viewer=viewer, pledge_id=pledge_id)
    if need.owner_id != viewer.account_id:
        raise Problems.one("pledgeId", msg("Only the person who asked for help can confirm delivery."), Code.FORBIDDEN)
    pledge.status, pledge.delivered_at = PledgeStatus.DELIVERED.value, utcnow()
    need.quantity_delivered += pledge.quantity
    _follow_quantities(need)
    await session.flush()
    audience = _parties(need, pledge)
    await emit(session=session, kind=EventKind.PLEDGE_DELIVERED, need=need, pledge_id=pledge.id, audience=audience)
    return pledge


async def mark_delivered(*, session: AsyncSession, viewer: Viewer, pledge_id: int) -> Pledge:
    """The donor says "I delivered it": the requester (or whoever speaks for them) is asked to confirm.
    Nothing else changes: the pledge stays PLEDGED, and the need's delivered quantity, the disclosure
    limit and fairness count only what the requester confirms."""
    pledge, need = await _involved_for_update(session=session, viewer=viewer, pledge_id=pledge_id)
    if pledge.carrier_id is not None and pledge.carrier_id != viewer.account_id:
        # Relayed: the donor's trip ended at the collection point; its manager delivers.
        raise Problems.one(
            "pledgeId", msg("Only the collection point that carries this pledge can mark it delivered."),
            Code.FORBIDDEN,
        )  # fmt: skip
    if pledge.carrier_id is None and pledge.donor_id != viewer.account_id:
        raise Problems.one("pledgeId", msg("Only the donor can mark a pledge delivered."), Code.FORBIDDEN)
    if pledge.accepted_at is None:
        # AIDMAP_DISCLOSE_ON=accept: a donor never given the address has delivered nothing, and asking
        # the requester to confirm would only fish for a false confirmation (and its trust and credit).
        raise Problems.one(
            "pledgeId", msg("The requester has not accepted this pledge yet: nothing can be delivered."),
            Code.INVALID_STATE,
        )  # fmt: skip
    if pledge.marked_delivered_at is not None:
        raise Problems.one("pledgeId", msg("This pledge is already marked delivered."), Code.INVALID_STATE)
    pledge.marked_delivered_at = utcnow()
    await session.flush()
    # Only whoever confirms: the person once they claimed the need, else its filer (its owner then).
    audience = {need.owner_id}
    await emit(
        session=session, kind=EventKind.PLEDGE_MARKED_DELIVERED, need=need, pledge_id=pledge.id, audience=audience
    )
    return pledge


async def accept(*, session: AsyncSession, viewer: Viewer, pledge_id: int) -> Pledge:
    """The requester, or whoever filed the need, accepts a pledge: its donor may now see the need's
    exact location and phone (AIDMAP_DISCLOSE_ON=accept; with pledge, every pledge is accepted when made)."""
    pledge = await session.get(Pledge, pledge_id)
    need = await _need_for_update(session=session, need_id=pledge.need_id) if pledge else None
    if pledge is None or need is None or viewer.account_id not in (pledge.donor_id, need.owner_id, need.filed_by_id):
        raise Problems.one("pledgeId", msg("No pledge of yours has this id."), Code.NOT_FOUND)
    if viewer.account_id not in (need.owner_id, need.filed_by_id):
        raise Problems.one(
            "pledgeId",
            msg("Only the person who asked for help, or who filed the need, can accept a pledge."),
            Code.FORBIDDEN,
        )
    # Re-read under the need's lock: a concurrent cancel or accept may have changed it.
    await session.refresh(pledge, with_for_update=True)
    if pledge.status != PledgeStatus.PLEDGED:
        raise Problems.one(
            "pledgeId", msg("This pledge is already {status}.", status=pledge.status.lower()), Code.INVALID_STATE
        )
    if pledge.accepted_at is not None:
        raise Problems.one("pledgeId", msg("This pledge is already accepted."), Code.INVALID_STATE)
    pledge.accepted_at = utcnow()
    await session.flush()
    audience = _parties(need, pledge)
    await emit(session=session, kind=EventKind.PLEDGE_ACCEPTED, need=need, pledge_id=pledge.id, audience=audience)
    return pledge


async def get_many(*, session: AsyncSession, pledge_ids: list[int]) -> list[Pledge]:
    """Pledges by id, in no particular order."""
    return list((await session.execute(select(Pledge).where(Pledge.id.in_(pledge_ids)))).scalars())


async def for_needs(*, session: AsyncSession, need_ids: list[int]) -> list[Pledge]:
    """All pledges on these needs, oldest first."""
    query = select(Pledge).where(Pledge.need_id.in_(need_ids)).order_by(Pledge.created_at, Pledge.id)
    return list((await session.execute(query)).scalars())


async def mine(*, session: AsyncSession, viewer: Viewer, first: int, after: str | None) -> Page[Pledge]:
    """Pledges the viewer made, newest first."""
    where = Pledge.donor_id == viewer.account_id
    return await newest_first(session=session, model=Pledge, where=where, first=first, after=after)


def is_party(account_id: int) -> ColumnElement[bool]:
    """Who may read a pledge: its donor, its carrier (a relayed one's collection point manager) and its
    need's requester (a query joining Pledge and Need)."""
    return (Pledge.donor_id == account_id) | (Pledge.carrier_id == account_id) | (Need.owner_id == account_id)


def in_chat(account_id: int) -> ColumnElement[bool]:
    """Who writes and reads a pledge's messages: its requester and whoever brings it, the donor or, for a
    relayed pledge, the carrier. A relaying donor is not in the chat: the requester would tell them
    the address they must not have (a query joining Pledge and Need)."""
    return (func.coalesce(Pledge.carrier_id, Pledge.donor_id) == account_id) | (Need.owner_id == account_id)


async def readable_many(*, session: AsyncSession, viewer: Viewer | None, pledge_ids: list[int]) -> dict[int, Pledge]:
    """The pledges among these ids the viewer may see (only its donor and its need's requester),
    by id, in one statement: a `nodes` document of 100 pledge ids made 200 round trips before."""
    if viewer is None or not pledge_ids:
        return {}
    query = (
        select(Pledge)
        .join(Need, Need.id == Pledge.need_id)
        .where(Pledge.id.in_(pledge_ids), is_party(viewer.account_id))
    )
    return {pledge.id: pledge for pledge in (await session.execute(query)).scalars()}
