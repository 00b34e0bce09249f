"""Needs: post, edit, cancel, search nearby, list my own."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.cursors import check_page_size, distance_cursor, parse_urgency_cursor, urgency_cursor
from aidmap.db.locks import lock_until_commit
from aidmap.db.nearby import Page, Rows, category_filter, nearest_rows, origin_point
from aidmap.db.paging import newest_first
from aidmap.db.reader import located_columns
from aidmap.db.replica import Reads
from aidmap.db.sql import status_in, status_is
from aidmap.events.outbox import emit
from aidmap.i18n import msg
from aidmap.models import (
    Account,
    EventKind,
    LocationRead,
    Need,
    NeedCategory,
    NeedStatus,
    Partner,
    Pledge,
    PledgeStatus,
    ReadChannel,
    Role,
)
from aidmap.models.need import (
    ACTIVE_STATUSES,
    HIDDEN_STATUSES,
    LIVE_STATUSES,
    OPEN_STATUSES,
    URGENCY_ORDER,
    NeedOrder,
    Urgency,
    status_for,
)
from aidmap.models.need_fields import INPUT_FIELDS, TYPE_FIELDS, Kind, NeedField, Reset
from aidmap.models.pledge import disclosed_to, discloses
from aidmap.problems import Code, Problem, Problems, UserInputError
from aidmap.resolvers import attestations, claims
from aidmap.resolvers.accounts import BackOff, Viewer, give_back, reserve_attempt
from aidmap.resolvers.areas import assign_ward
from aidmap.resolvers.duplicates import phone_hash, possible_duplicate
from aidmap.resolvers.validation import DEFAULT_NEED_TTL, Checker, check_search_area, utcnow

# The requester may still edit a need while it waits for verification.
EDITABLE_STATUSES = (*ACTIVE_STATUSES, NeedStatus.PENDING_VERIFICATION)

# Matches the partial index predicate literally, so the planner can use that index.
_DEFAULT_STATUS_FILTER = status_in(OPEN_STATUSES)


@dataclass(frozen=True)
class NeedFields:
    """Fields of a need as a client sends them (models.need_fields.INPUT_FIELDS), by column name, the
    location as (lat, lon); a field that is absent or None is 'not given'."""

    given: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.given.get(name)


def _checked(fields: NeedFields, *, creating: bool) -> dict[str, object]:
    """Column values for the given fields, checked with the bounds of models/need_fields.py; raises
    Problems listing every bad one (named as the API names them)."""
    check = Checker()
    values: dict[str, object] = {}
    for f in INPUT_FIELDS:
        given = fields.get(f.name)
        if given is None and not (creating and (f.required or f.default is not None)):
            continue  # not given: an edit leaves it as it is
        if f.kind is Kind.TEXT:
            values[f.name] = check.text(f.graphql, given, max_len=f.max_len or 0, required=f.required)
        elif f.kind is Kind.COUNT:
            values[f.name] = check.positive_int(f.graphql, given, maximum=f.maximum or 0, required=f.required)
        elif f.kind is Kind.PHONE:
            values[f.name] = check.phone(f.graphql, given, required=f.required)
        elif f.kind is Kind.TIME:
            values[f.name] = check.future_time(f.graphql, given, default=f.default, now=utcnow())
        elif f.kind is Kind.POINT:
            before = len(check.problems)
            lat, lon = given if given is not None else (None, None)
            check.point(f.graphql, lat if lat is not None else float("nan"), lon if lon is not None else float("nan"))
            if len(check.problems) == before:
                values[f.name] = origin_point(lon=lon, lat=lat)
        elif f.kind is Kind.CHOICE and f.choices is not None:
            if given is None and f.default is None:
                check.add(f.graphql, msg("{field} is required.", field=f.graphql), Code.REQUIRED)
            else:
                values[f.name] = f.choices(given if given is not None else f.default).value
    if check.problems:
        raise Problems(check.problems)
    return values


async def get_many(*, session: AsyncSession, need_ids: list[int]) -> list[Need]:
    """Needs by id, in no particular order."""
    return list((await session.execute(select(Need).where(Need.id.in_(need_ids)))).scalars())


async def _owned_for_update(*, session: AsyncSession, viewer: Viewer, need_id: int) -> Need:
    need = (await session.execute(select(Need).where(Need.id == need_id).with_for_update())).scalar_one_or_none()
    # Someone else's need looks the same as a missing one: ids reveal nothing.
    if need is None or need.owner_id != viewer.account_id:
        raise Problems.one("needId", msg("No need of yours has this id."), Code.NOT_FOUND)
    return need


@dataclass(frozen=True)
class IntakePolicy:
    """The server's rules for new needs (from Settings), and the partner app a need comes through."""

    phone_key: bytes
    require_verification: bool = False
    max_open_per_category: int = 3
    partner_id: int | None = None
    # Needs an account without the operator or admin role may file for others in 24 h (None: no cap).
    filed_for_others_per_day: int | None = None


_OPEN_FOR_PERSON = f"""
SELECT count(*) FROM needs WHERE category = :category
  AND {status_in(LIVE_STATUSES)} AND {{who}}
"""


async def _check_quota(
    *, session: AsyncSession, viewer: Viewer, category: str, beneficiary_phone: str | None, limit: int
) -> None:
    """At most `limit` live needs per person and category: the person is the beneficiary when the
    need is filed on someone's behalf (an operator files for many people), else the viewer. Filed
    for a phone, only the filer's own needs for it count: counting every filer's told anyone filing
    for a phone how many needs others had filed for it, hidden ones included (whether that person
    asked for help), and let a stranger fill the person's quota (cross-filer duplicates go to the
    verifiers as possibleDuplicateOf instead)."""
    if beneficiary_phone is not None:
        key, who = f"phone:{beneficiary_phone}:{viewer.account_id}", "beneficiary_phone = :phone AND filed_by_id = :me"
        params = {"phone": beneficiary_phone, "me": viewer.account_id}
    else:
        key, who = f"account:{viewer.account_id}", "owner_id = :me AND (filed_by_id IS NULL OR filed_by_id <> :me)"
        params = {"me": viewer.account_id}
    # Two concurrent posts by one person must not both pass the count.
    await lock_until_commit(session, f"quota:{key}")
    count = (await session.execute(text(_OPEN_FOR_PERSON.format(who=who)), {"category": category, **params})).scalar()
    if count is not None and count >= limit:
        raise Problems.one(
            "category",
            msg("At most {n} open needs per category for one person; close or cancel one first.", n=limit),
            Code.QUOTA_EXCEEDED,
        )


_FILED_TODAY = text(
    "SELECT count(*) FROM needs WHERE filed_by_id = :me AND beneficiary_phone IS NOT NULL"
    " AND created_at > now() - interval '24 hours'"
)


async def _check_filed_for_others(*, session: AsyncSession, viewer: Viewer, limit: int | None) -> None:
    """A relative files for a parent or two; a hotline (the operator role) for hundreds. Each filing
    texts a claim code to the phone it names, so anyone else files at most `limit` a day."""
    if limit is None or Role.OPERATOR.value in viewer.roles or viewer.is_admin:
        return
    await lock_until_commit(session, f"filed:{viewer.account_id}")
    if (await session.execute(_FILED_TODAY, {"me": viewer.account_id})).scalar_one() >= limit:
        raise Problems.one(
            "onBehalfOf",
            msg("At most {n} needs a day may be filed for other people without the operator role.", n=limit),
            Code.QUOTA_EXCEEDED,
        )


async def create(
    *,
    session: AsyncSession,
    viewer: Viewer,
    fields: NeedFields,
    policy: IntakePolicy,
    on_behalf_of: tuple[str, str] | None = None,
    attestation: str | None = None,
) -> Need:
    """Post a need; with on_behalf_of (name, phone) the viewer files it for someone who can claim it later.
    With verification required it waits, hidden, for a verifier of its ward, unless it comes with a
    trusted deployment's attestation for exactly these public fields (ATTESTATION_INVALID otherwise,
    raised before anything is announced: the caller's transaction then writes nothing)."""
    values = _checked(fields, creating=True)
    need = Need(owner_id=viewer.account_id, **values)
    if on_behalf_of is not None:
        check = Checker()
        name = check.text("onBehalfOf.displayName", on_behalf_of[0], max_len=80)
        phone = check.phone("onBehalfOf.phone", on_behalf_of[1])
        if check.problems:
            raise Problems(check.problems)
        need.filed_by_id, need.beneficiary_name, need.beneficiary_phone = viewer.account_id, name, phone
        await _check_filed_for_others(session=session, viewer=viewer, limit=policy.filed_for_others_per_day)
    await _check_quota(
        session=session,
        viewer=viewer,
        category=need.category,
        beneficiary_phone=need.beneficiary_phone,
        limit=policy.max_open_per_category,
    )
    need.partner_id = policy.partner_id
    need.contact_phone_hash = phone_hash(need.contact_phone, policy.phone_key)
    if policy.require_verification:
        need.status = NeedStatus.PENDING_VERIFICATION.value
    session.add(need)
    await session.flush()
    await assign_ward(session=session, need_id=need.id)
    need.possible_duplicate_of_id = await possible_duplicate(
        session=session,
        need_id=need.id,
        category=need.category,
        phone_hash_value=need.contact_phone_hash,
        title=need.title,
        details=need.details,
    )
    await session.flush()
    await session.refresh(need)
    if attestation is not None:
        accepted = await attestations.check_foreign(session=session, token=attestation, need=need)
        need.verified_at, need.attested_by_id = accepted.verified_at, accepted.deployment_id
        need.received_attestation = attestation.strip()
        if need.status == NeedStatus.PENDING_VERIFICATION:
            need.status = status_for(quantity=need.quantity, pledged=0, delivered=0).value
        await session.flush()
        await session.refresh(need)
    await emit(session=session, kind=EventKind.NEED_CREATED, need=need)
    return need


def _raised(f: NeedField, before: object, after: object) -> bool:
    """Whether an edit asks for more than was vouched for (Reset.ON_RAISE: urgency, household size).
    A choice ranks by its enum's order (Urgency: LOW < NORMAL < HIGH < CRITICAL)."""
    if after is None or after == before:
        return False
    if before is None:
        return True  # a household size given for the first time is more than was vouched for
    if f.choices is not None:
        rank = {member.value: index for index, member in enumerate(f.choices)}
        return rank[str(after)] > rank[str(before)]
    return isinstance(after, int) and isinstance(before, int) and after > before


def _changes_what_was_verified(need: Need, values: dict[str, object]) -> bool:
    """What a verifier vouched for changed (models/need_fields.py, `resets`). Lowering the urgency or
    household size asks for less (things got better) and keeps the badge: a requester is not sent back
    to the queue for saying so. expires_at is not vouched for: renewNeed extends a need's life and keeps it."""
    for f in INPUT_FIELDS:
        if f.resets is Reset.NEVER or f.name not in values:
            continue
        if f.kind is Kind.POINT:
            continue  # a move counts when it leaves the cell: update() compares the cells
        if f.resets is Reset.ON_CHANGE:
            if values[f.name] != getattr(need, f.name):
                return True
        elif _raised(f, getattr(need, f.name), values[f.name]):
            return True
    return False


async def update(
    *,
    session: AsyncSession,
    viewer: Viewer,
    need_id: int,
    fields: NeedFields,
    phone_key: bytes,
    require_verification: bool = False,
    issuer: attestations.Issuer | None = None,
) -> Need:
    """Edit a need. A verified need whose text, amount, phone or cell changes, or whose urgency or
    household size goes up, loses its verification (a verifier vouched for what it said, not for
    what it says now) and, with verification required, goes back to its ward's queue, hidden until
    a verifier looks again.

    An edit that changes nothing the public sees (the exact point moved within its cell, the same
    values sent again) is told only to the need's donors (NEED_PRIVATE_UPDATED) and leaves updatedAt
    alone: a public event, a new updatedAt or a lost badge would tell a stranger that the exact
    point moved, an answer that depends on it."""
    values = _checked(fields, creating=False)
    need = await _owned_for_update(session=session, viewer=viewer, need_id=need_id)
    if need.status not in EDITABLE_STATUSES:
        raise Problems.one(
            "needId", msg("A {status} need cannot be changed.", status=need.status.lower()), Code.INVALID_STATE
        )
    quantity = values.get("quantity", need.quantity)
    if isinstance(quantity, int) and quantity < need.quantity_pledged:
        raise Problems.one(
            "quantity",
            msg("{n} are already pledged; quantity cannot go below that.", n=need.quantity_pledged),
            Code.OUT_OF_RANGE,
        )
    was_verified = need.verified_at is not None
    unverified = was_verified and _changes_what_was_verified(need, values)
    attested_hash = attestations.need_hash(need) if need.attested_by_id is not None else None
    seen_before, private_before = _public_state(need), (need.lat, need.lon, need.contact_phone)
    for key, value in values.items():
        setattr(need, key, value)
    if "contact_phone" in values:
        need.contact_phone_hash = phone_hash(need.contact_phone, phone_key)
    if need.status != NeedStatus.PENDING_VERIFICATION:
        need.status = status_for(
            quantity=need.quantity, pledged=need.quantity_pledged, delivered=need.quantity_delivered
        ).value
    await session.flush()
    await session.refresh(need)  # the cell, computed by the database from the new point
    if (need.cell_lat, need.cell_lon) != seen_before[-1]:
        # Another cell: another ward, perhaps, and a change a verifier would look at again. Within
        # the cell neither is looked up again (wards re-imported since would show the edit).
        await assign_ward(session=session, need_id=need.id)
        await session.refresh(need)
        unverified = unverified or was_verified
    if attested_hash is not None and attestations.need_hash(need) != attested_hash:
        # Another deployment's attestation covers the public fields as they were; we cannot re-sign it.
        unverified = True
    kind = EventKind.NEED_UPDATED
    if unverified:
        need.verified_by_id, need.verified_at = None, None
        need.attested_by_id, need.received_attestation = None, None
        # The attestation said what was verified: partners learn from the status list it no longer holds.
        await attestations.revoke(session=session, need_id=need.id)
        if require_verification:
            # NEED_HIDDEN: public subscribers see it leave their view, as when reports hide it.
            need.status, kind = NeedStatus.PENDING_VERIFICATION.value, EventKind.NEED_HIDDEN
    await session.flush()
    await session.refresh(need)  # as stored, with what revoking the attestation changed
    if _public_state(need) == seen_before:
        if (need.lat, need.lon, need.contact_phone) == private_before:
            return need  # the same values sent again: nothing to tell anyone
        # Nothing public changed, so neither does the attestation (a new one would show on the
        # status list): only those who may see the point are told.
        donors = await active_donors(session=session, need_id=need.id)
        await emit(session=session, kind=EventKind.NEED_PRIVATE_UPDATED, need=need, audience=donors)
        return need
    need.updated_at = utcnow()
    await session.flush()
    await session.refresh(need)
    if need.verified_at is not None and issuer is not None and need.attested_by_id is None:
        # Still verified (urgency or household size lowered): the attestation follows the new fields.
        await attestations.reissue_if_changed(session=session, issuer=issuer, need=need)
    donors = await following_donors(session=session, need_id=need.id)
    await emit(session=session, kind=kind, need=need, audience=donors)
    return need


# What anyone may see of a need, but for updatedAt (models/need_fields.py, in_type), with its ward,
# its badge and, last, its cell.
_PUBLIC_NAMES = (
    *(f.name for f in TYPE_FIELDS if f.name != "updated_at"),
    "ward_code", "verified_at", "attested_by_id",
)  # fmt: skip


def _public_state(need: Need) -> tuple[object, ...]:
    return (*(getattr(need, name) for name in _PUBLIC_NAMES), (need.cell_lat, need.cell_lon))


async def cancel(*, session: AsyncSession, viewer: Viewer, need_id: int) -> Need:
    """Cancel the need and the pledges still open on it."""
    need = await _owned_for_update(session=session, viewer=viewer, need_id=need_id)
    if need.status not in (*EDITABLE_STATUSES, NeedStatus.UNDER_REVIEW):
        raise Problems.one(
            "needId", msg("A {status} need cannot be cancelled.", status=need.status.lower()), Code.INVALID_STATE
        )
    now = utcnow()
    pledges = (
        await session.execute(
            select(Pledge).where(Pledge.need_id == need.id, Pledge.status == PledgeStatus.PLEDGED.value)
        )
    ).scalars()
    donors = set()
    for pledge in pledges:
        pledge.status, pledge.cancelled_at, pledge.cancelled_by_id = (
            PledgeStatus.CANCELLED.value,
            now,
            viewer.account_id,
        )
        donors |= {pledge.donor_id, pledge.carrier_id} - {None}  # type: ignore[operator]
    need.quantity_pledged = need.quantity_delivered
    need.status, need.updated_at = NeedStatus.CANCELLED.value, now
    await session.flush()
    await session.refresh(need)
    await emit(session=session, kind=EventKind.NEED_CANCELLED, need=need, audience=donors)
    return need


async def renew(*, session: AsyncSession, viewer: Viewer, need_id: int, expires_at: datetime | None) -> Need:
    """Answer "still need help?": push the expiry out (an expired need opens again)."""
    check = Checker()
    new_expiry = check.future_time("expiresAt", expires_at, default=DEFAULT_NEED_TTL, now=utcnow())
    if check.problems:
        raise Problems(check.problems)
    need = await _owned_for_update(session=session, viewer=viewer, need_id=need_id)
    if need.status not in (*ACTIVE_STATUSES, NeedStatus.EXPIRED):
        raise Problems.one(
            "needId", msg("A {status} need cannot be renewed.", status=need.status.lower()), Code.INVALID_STATE
        )
    need.expires_at, need.expiry_prompted_at, need.updated_at = new_expiry, None, utcnow()
    if need.status == NeedStatus.EXPIRED:
        need.status = status_for(
            quantity=need.quantity, pledged=need.quantity_pledged, delivered=need.quantity_delivered
        ).value
    await session.flush()
    await session.refresh(need)
    await emit(session=session, kind=EventKind.NEED_RENEWED, need=need, audience={need.owner_id})
    return need


async def claim(
    *,
    session: AsyncSession,
    viewer: Viewer,
    need_id: int,
    phone: str,
    code: str | None,
    code_key: bytes,
    attempt_keys: list[tuple[str, BackOff]],
) -> Need:
    """The person a need was filed for takes it over: their account's phone must be the need's, and
    the one-time claim code proves they hold it (anyone can sign up with a phone they do not hold).
    The answer never tells whether a need was filed for the caller's phone (aidmap/resolvers/claims.py):
    input checks first, then the attempt is counted (and refused while the account or address is
    locked), then every refusal is one answer."""
    given = claims.given_code(code)
    await reserve_attempt(session, attempt_keys)
    need = (await session.execute(select(Need).where(Need.id == need_id).with_for_update())).scalar_one_or_none()
    if need is None or need.beneficiary_phone is None or need.beneficiary_phone != phone:
        raise claims.refused()
    if need.owner_id == viewer.account_id:
        # Only the account that holds it gets here (it has the phone and claimed it already).
        raise Problems.one("needId", msg("This need is already yours."), Code.INVALID_STATE)
    if need.owner_id != need.filed_by_id:
        # Claimed already (by an account that was later given the phone): never taken over twice.
        raise claims.refused()
    await claims.check(session=session, need=need, code=given, key=code_key)
    await give_back(session, attempt_keys, forget=set())
    need.owner_id, need.updated_at = viewer.account_id, utcnow()
    await session.flush()
    await session.refresh(need)
    await emit(
        session=session,
        kind=EventKind.NEED_UPDATED,
        need=need,
        audience={viewer.account_id, need.filed_by_id or 0} - {0},
    )
    return need


async def new_claim_code(*, session: AsyncSession, viewer: Viewer, need_id: int, code_key: bytes) -> str:
    """Whoever filed a need for someone asks for a new claim code (the first was lost, or locked)."""
    need = (await session.execute(select(Need).where(Need.id == need_id).with_for_update())).scalar_one_or_none()
    if need is None or need.filed_by_id != viewer.account_id or need.beneficiary_phone is None:
        raise Problems.one("needId", msg("No need you filed for someone has this id."), Code.NOT_FOUND)
    if need.owner_id != need.filed_by_id:
        raise Problems.one("needId", msg("This need has been claimed already."), Code.INVALID_STATE)
    wait = await claims.reissue_wait(session=session, need_id=need.id)  # under the need's row lock
    if wait > 0:
        message = msg("A new claim code was issued less than a minute ago; try again in {n} s.", n=wait)
        raise Problems([Problem("needId", message, Code.TOO_MANY_ATTEMPTS, retry_after_seconds=wait)])
    return await claims.issue(session=session, need_id=need.id, key=code_key)


async def active_donors(*, session: AsyncSession, need_id: int) -> set[int]:
    """The need's active donors (models.pledge.discloses): those who may see its private fields."""
    rows = await session.execute(select(disclosed_to()).where(Pledge.need_id == need_id, discloses()))
    return set(rows.scalars())


async def following_donors(*, session: AsyncSession, need_id: int) -> set[int]:
    """Who is told of a public change to a need (updated, hidden, expired): its active donors, and the
    donors of its relayed pledges still open, who never see its private fields but are on their way to
    a collection point with the goods."""
    rows = await session.execute(
        select(Pledge.donor_id).where(
            Pledge.need_id == need_id, Pledge.status == PledgeStatus.PLEDGED.value, Pledge.carrier_id.is_not(None)
        )
    )
    return await active_donors(session=session, need_id=need_id) | set(rows.scalars())


def _search_filter(
    categories: list[NeedCategory] | None, statuses: list[NeedStatus] | None, urgencies: list[Urgency] | None = None
) -> tuple[tuple[str, ...], dict[str, object]]:
    """The search's conditions and their parameters (default: open and partly pledged needs)."""
    hidden = [s.value for s in statuses or () if s in HIDDEN_STATUSES]
    if hidden:
        # Not public: verifiers list them with verificationQueue, requesters with myNeeds.
        raise UserInputError(
            "statuses",
            msg("Needs that are {statuses} are not listed publicly.", statuses=", ".join(hidden)),
            Code.INVALID,
        )
    where = []
    params: dict[str, object] = {}
    # One status or urgency is written as a literal (an enum's value, never the client's text), as one
    # category is: the planner then walks that value's partial index (migration 0033), a small tree
    # when few needs have it, in a generic plan too.
    if not statuses or set(statuses) == set(OPEN_STATUSES):
        where.append(_DEFAULT_STATUS_FILTER)
    elif len(set(statuses)) == 1:
        where.append(status_is(statuses[0]))
    else:
        where.append("status = ANY(%(statuses)s::text[])")
        params["statuses"] = sorted({s.value for s in statuses})
    category_filter(categories, where, params)
    if urgencies and len(set(urgencies)) == 1:
        where.append(status_is(Urgency(urgencies[0]), column="urgency"))
    elif urgencies and set(urgencies) != set(Urgency):
        where.append("urgency = ANY(%(urgencies)s::text[])")
        params["urgencies"] = sorted({u.value for u in urgencies})
    return tuple(where), params


async def search(
    *,
    reader: Reads,
    lat: float,
    lon: float,
    radius_m: float,
    categories: list[NeedCategory] | None,
    statuses: list[NeedStatus] | None,
    first: int,
    after: str | None,
    urgencies: list[Urgency] | None = None,
    order_by: NeedOrder = NeedOrder.DISTANCE,
) -> Page[Need]:
    """Needs within the circle, nearest first or most urgent first (default: open and partly pledged ones)."""
    found = await search_rows(
        reader=reader, lat=lat, lon=lon, radius_m=radius_m, categories=categories, statuses=statuses, first=first,
        after=after, urgencies=urgencies, order_by=order_by, columns=located_columns(Need.__table__),
    )  # fmt: skip
    return found.page()


async def search_rows(
    *,
    reader: Reads,
    lat: float,
    lon: float,
    radius_m: float,
    categories: list[NeedCategory] | None,
    statuses: list[NeedStatus] | None,
    first: int,
    after: str | None,
    columns: str,
    urgencies: list[Urgency] | None = None,
    order_by: NeedOrder = NeedOrder.DISTANCE,
) -> Rows:
    """search()'s page as rows of only these columns (schema/fast/compiled.py reads no more than it writes)."""
    levels = sorted({u.value for u in urgencies or ()}, key=_LEVELS.index)
    if order_by == NeedOrder.DISTANCE and _merged_by_distance(levels, statuses):
        where, params = _search_filter(categories, statuses)
        return await _nearest_of_levels(
            reader=reader, lat=lat, lon=lon, radius_m=radius_m, where=where, params=params, first=first, after=after,
            columns=columns, levels=levels,
        )  # fmt: skip
    where, params = _search_filter(categories, statuses, urgencies)
    if order_by == NeedOrder.DISTANCE:
        return await nearest_rows(
            reader=reader, model=Need, lon=lon, lat=lat, radius_m=radius_m, where=where, params=params, first=first,
            after=after, columns=columns,
        )  # fmt: skip
    return await _most_urgent_rows(
        reader=reader, lat=lat, lon=lon, radius_m=radius_m, where=where, params=params, first=first, after=after,
        columns=columns, urgencies=urgencies,
    )  # fmt: skip


def searches_per_page(
    *, order_by: NeedOrder, urgencies: list[Urgency] | None, statuses: list[NeedStatus] | None
) -> int:
    """How many index searches one page of search_rows runs at most: most urgent first searches
    each wanted level in turn, "urgent only" each of its levels. schema/limits.py weighs each one
    as a call of its own, so aliased pages of either cost the database no more than their weight."""
    levels = {u.value for u in urgencies or ()}
    if order_by == NeedOrder.URGENCY:
        return len(levels) or len(_LEVELS)
    return len(levels) if _merged_by_distance(levels, statuses) else 1


def _merged_by_distance(levels: Collection[str], statuses: list[NeedStatus] | None) -> bool:
    """Nearest first over some of the levels of open needs: one search per level (_nearest_of_levels)."""
    return 1 < len(levels) < len(_LEVELS) and set(statuses or OPEN_STATUSES) == set(OPEN_STATUSES)


_LEVELS = tuple(u.value for u in URGENCY_ORDER)
# Each level a literal: its search walks that level's partial index of open needs (migration 0033).
_AT_LEVEL = {level: status_is(Urgency(level), column="urgency") for level in _LEVELS}


async def _nearest_of_levels(
    *,
    reader: Reads,
    lat: float,
    lon: float,
    radius_m: float,
    where: tuple[str, ...],
    params: dict[str, object],
    first: int,
    after: str | None,
    columns: str,
    levels: list[str],
) -> Rows:
    """Nearest first over several urgencies of open needs ("urgent only": HIGH and CRITICAL): one
    search per level, each on that level's own index, merged by distance. One search filtering the
    open needs by urgency walked all of them on a day when few are urgent. The cursor marks a place
    by distance, the same in every level."""
    found = [
        await nearest_rows(
            reader=reader,
            model=Need,
            lon=lon,
            lat=lat,
            radius_m=radius_m,
            where=(*where, _AT_LEVEL[level]),
            params=params,
            first=first,
            after=after,
            columns=columns,
        )  # fmt: skip
        for level in levels
    ]
    rows = sorted((row for page in found for row in page.rows), key=lambda r: (r.distance, r.id))
    return Rows(rows=rows[:first], has_next=len(rows) > first or any(page.has_next for page in found))


async def _most_urgent_rows(
    *,
    reader: Reads,
    lat: float,
    lon: float,
    radius_m: float,
    where: tuple[str, ...],
    params: dict[str, object],
    first: int,
    after: str | None,
    columns: str,
    urgencies: list[Urgency] | None,
) -> Rows:
    """Most urgent first, then nearest cell first: one distance-ordered KNN search per urgency level
    (each as fast and as cell-only as the distance order), so the order, the radius and where a page
    ends depend only on public fields. The cursor holds the last row's id and urgency; within that
    level the row's distance from this origin marks the place, as in the distance order."""
    check_page_size(first)
    check_search_area(lat=lat, lon=lon, radius_m=radius_m)
    wanted = {u.value for u in urgencies} if urgencies else set(_LEVELS)
    start, after_id = 0, None
    if after is not None:
        after_id, level = parse_urgency_cursor(after, _LEVELS)
        start = _LEVELS.index(level)
    level_of: dict[int, str] = {}
    rows: list[Any] = []
    has_next = False
    for index in range(start, len(_LEVELS)):
        level = _LEVELS[index]
        if level not in wanted:
            continue
        resume = distance_cursor(after_id) if after_id is not None and index == start else None
        room = first - len(rows)
        found = await nearest_rows(
            reader=reader, model=Need, lon=lon, lat=lat, radius_m=radius_m, where=(*where, _AT_LEVEL[level]),
            params=params, first=max(room, 1), after=resume, columns=columns,
        )  # fmt: skip
        if room == 0:  # the page is full: is there anything after it?
            if found.rows:
                has_next = True
                break
            continue
        for row in found.rows:
            level_of[row.id] = level
        rows.extend(found.rows)
        if found.has_next:
            has_next = True
            break
    return Rows(rows=rows, has_next=has_next, cursor=lambda row: urgency_cursor(row.id, level_of[row.id]))


async def mine(*, session: AsyncSession, viewer: Viewer, first: int, after: str | None) -> Page[Need]:
    """The viewer's needs, newest first."""
    where = Need.owner_id == viewer.account_id
    return await newest_first(session=session, model=Need, where=where, first=first, after=after)


async def filed_for_others(*, session: AsyncSession, viewer: Viewer, first: int, after: str | None) -> Page[Need]:
    """Needs the viewer filed for someone else (onBehalfOf), newest first, whether or not the person claimed them."""
    where = (Need.filed_by_id == viewer.account_id) & Need.beneficiary_phone.is_not(None)
    return await newest_first(session=session, model=Need, where=where, first=first, after=after)


async def actively_pledged_need_ids(*, session: AsyncSession, viewer: Viewer, need_ids: list[int]) -> set[int]:
    """Which of these needs the viewer is an active donor of (models.pledge.discloses)."""
    if not need_ids:
        return set()
    rows = await session.execute(
        select(Pledge.need_id).where(disclosed_to() == viewer.account_id, Pledge.need_id.in_(need_ids), discloses())
    )
    return set(rows.scalars())


_LOG_READS = text(
    "INSERT INTO location_reads (need_id, reader_id, partner_id, field, channel) "
    "SELECT n, :reader, :partner, f, :channel FROM unnest(CAST(:needs AS bigint[])) AS n, "
    "unnest(ARRAY['EXACT_LOCATION', 'CONTACT_PHONE']) AS f"
)


async def log_private_reads(
    *, session: AsyncSession, need_ids: list[int], reader_id: int | None, partner_id: int | None, channel: ReadChannel
) -> None:
    """Both private fields of these needs were handed out (a webhook delivery, an export): one row each,
    in the caller's transaction. Requests log field by field through events/access_log.py instead."""
    values = {"needs": need_ids, "reader": reader_id, "partner": partner_id, "channel": channel.value}
    await session.execute(_LOG_READS, values)


async def location_reads(
    *, session: AsyncSession, need_id: int, first: int
) -> list[tuple[str | None, str | None, str, str, datetime]]:
    """(reader's display name, partner app's name, field, channel, when) for the need's logged private
    reads, newest first; a partner key acting for nobody has no reader, a person's own app no partner."""
    rows = await session.execute(
        select(Account.display_name, Partner.name, LocationRead.field, LocationRead.channel, LocationRead.read_at)
        .outerjoin(Account, Account.id == LocationRead.reader_id)
        .outerjoin(Partner, Partner.id == LocationRead.partner_id)
        .where(LocationRead.need_id == need_id)
        .order_by(LocationRead.read_at.desc(), LocationRead.id.desc())
        .limit(first)
    )
    return [tuple(row) for row in rows.all()]  # type: ignore[misc]
