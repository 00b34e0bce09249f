"""Needs: what a requester asks for, where, and how much of it is pledged or delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.db.sql import status_in, status_is
from aidmap.models.base import (
    Base,
    cell_column,
    created_at_column,
    enum_check,
    latitude_of,
    longitude_of,
    point_column,
    rank_point_column,
)


class NeedCategory(StrEnum):
    FOOD = "FOOD"
    MEDICINE = "MEDICINE"
    STUDY_DEVICE = "STUDY_DEVICE"
    MEDICAL_CONSULTATION = "MEDICAL_CONSULTATION"
    ESSENTIALS = "ESSENTIALS"
    ERRAND = "ERRAND"
    OTHER = "OTHER"


class Urgency(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


# Most urgent first: the order of needs(orderBy: URGENCY).
URGENCY_ORDER = (Urgency.CRITICAL, Urgency.HIGH, Urgency.NORMAL, Urgency.LOW)


class NeedOrder(StrEnum):
    DISTANCE = "DISTANCE"
    URGENCY = "URGENCY"


class NeedStatus(StrEnum):
    OPEN = "OPEN"
    PARTLY_PLEDGED = "PARTLY_PLEDGED"
    PLEDGED = "PLEDGED"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    # Not public: waiting for a verifier of its ward (AIDMAP_REQUIRE_VERIFICATION=1).
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    # Not public: reported by 3 accounts, waiting for a verifier or admin to keep or reject it.
    UNDER_REVIEW = "UNDER_REVIEW"
    # Not public: a verifier rejected it (with a reason the requester sees).
    REJECTED = "REJECTED"


BENEFICIARY_KEY_SQL = (
    "CASE WHEN filed_by_id IS NULL OR owner_id <> filed_by_id THEN 'account:' || owner_id::text "
    "WHEN beneficiary_phone IS NOT NULL THEN 'phone:' || encode(sha256(decode(beneficiary_phone, 'escape')), 'hex') "
    "ELSE 'need:' || id::text END"
)


# Statuses in which a need still accepts pledges (and the default search filter).
OPEN_STATUSES = (NeedStatus.OPEN, NeedStatus.PARTLY_PLEDGED)
# Statuses in which the owner may still edit or cancel the need.
ACTIVE_STATUSES = (NeedStatus.OPEN, NeedStatus.PARTLY_PLEDGED, NeedStatus.PLEDGED)
# Statuses in which only the people in charge of the need see it at all.
HIDDEN_STATUSES = (NeedStatus.PENDING_VERIFICATION, NeedStatus.UNDER_REVIEW, NeedStatus.REJECTED)
# Statuses that count against a person's quota of open needs, and for duplicate checks.
LIVE_STATUSES = (*ACTIVE_STATUSES, NeedStatus.PENDING_VERIFICATION, NeedStatus.UNDER_REVIEW)


@dataclass(frozen=True)
class Principal:
    """Who is looking, as far as need privacy is concerned (built from the request's viewer and partner key)."""

    account_id: int | None = None
    is_admin: bool = False
    # Ward codes this person verifies (their verifier areas and every area below them).
    verifier_wards: frozenset[str] = frozenset()
    # Set when the request comes through a partner app's key.
    partner_id: int | None = None
    # False when a partner key without the `private:read` scope sent the request.
    partner_may_see_private: bool = True


ANONYMOUS = Principal()


def reviews(who: Principal, *, ward_code: str | None) -> bool:
    """Admins, and the verifiers of the ward: who reviews a need (verifies it, sees its reports and flags)."""
    return who.is_admin or (ward_code is not None and ward_code in who.verifier_wards)


def in_charge_of(who: Principal, *, owner_id: int, filed_by_id: int | None, ward_code: str | None) -> bool:
    """The requester, whoever filed it, and its reviewers: who may see it while it is hidden."""
    if who.account_id is not None and who.account_id in (owner_id, filed_by_id):
        return True
    return reviews(who, ward_code=ward_code)


def privacy_facts(need: Any, *, active_donor: bool) -> dict[str, Any]:
    """The facts about a need (a model or a row with the same column names) that the rules below read."""
    return {
        "owner_id": need.owner_id,
        "filed_by_id": need.filed_by_id,
        "ward_code": need.ward_code,
        "partner_id": need.partner_id,
        "active_donor": active_donor,
    }


def may_see_private(
    who: Principal,
    *,
    owner_id: int,
    filed_by_id: int | None,
    ward_code: str | None,
    partner_id: int | None,
    active_donor: bool,
) -> bool:
    """Who may see a need's exact location and phone: the people in charge of it, its active donors
    (an accepted pledge, neither delivered nor cancelled: models.pledge.discloses), and the partner app
    it was filed through (with the scope). Through a partner key without `private:read`, nobody.
    The one place this rule lives."""
    if not who.partner_may_see_private:
        return False
    if in_charge_of(who, owner_id=owner_id, filed_by_id=filed_by_id, ward_code=ward_code) or active_donor:
        return True
    return who.account_id is None and who.partner_id is not None and who.partner_id == partner_id


def may_see_need(
    who: Principal,
    *,
    status: str,
    owner_id: int,
    filed_by_id: int | None,
    ward_code: str | None,
    partner_id: int | None,
    active_donor: bool,
) -> bool:
    """Public needs are seen by everyone; hidden ones (pending, under review, rejected) by those in charge,
    donors already pledged to it, and the partner app it came through."""
    if status not in HIDDEN_STATUSES:
        return True
    if in_charge_of(who, owner_id=owner_id, filed_by_id=filed_by_id, ward_code=ward_code) or active_donor:
        return True
    return who.account_id is None and who.partner_id is not None and who.partner_id == partner_id


def status_for(*, quantity: int, pledged: int, delivered: int) -> NeedStatus:
    """The status that follows from the pledged and delivered quantities of an active need."""
    if delivered >= quantity:
        return NeedStatus.FULFILLED
    if pledged >= quantity:
        return NeedStatus.PLEDGED
    if pledged > 0:
        return NeedStatus.PARTLY_PLEDGED
    return NeedStatus.OPEN


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (
        enum_check("category", NeedCategory, "category"),
        enum_check("urgency", Urgency, "urgency"),
        enum_check("status", NeedStatus, "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("quantity_pledged >= 0 AND quantity_pledged <= quantity", name="pledged_within_quantity"),
        CheckConstraint(
            "quantity_delivered >= 0 AND quantity_delivered <= quantity_pledged", name="delivered_within_pledged"
        ),
        Index(
            "ix_needs_open_expires_at",
            "expires_at",
            postgresql_where=text(status_in(ACTIVE_STATUSES)),
        ),
        # An import's row id, unique per filer: re-running the same file creates nothing new.
        Index("uq_needs_filed_by_id_external_id", "filed_by_id", "external_id", unique=True),
        Index("ix_needs_waiting_created_at", "created_at", postgresql_where=text(status_is(NeedStatus.OPEN))),
        Index(
            "ix_needs_hidden_by_ward",
            "ward_code",
            "created_at",
            postgresql_where=text(status_in((NeedStatus.PENDING_VERIFICATION, NeedStatus.UNDER_REVIEW))),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    # Who filed it for someone without a smartphone (operator, relative); NULL when the owner did.
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # The person it is for, when filed on their behalf; they claim it by signing up with this phone.
    beneficiary_name: Mapped[str | None] = mapped_column(String(80))
    beneficiary_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    details: Mapped[str | None] = mapped_column(String(2000))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit: Mapped[str] = mapped_column(String(40), nullable=False)
    urgency: Mapped[str] = mapped_column(Text, nullable=False)
    household_size: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[object] = point_column()
    lat: Mapped[float] = latitude_of(location)
    lon: Mapped[float] = longitude_of(location)
    # The public cell's centre (generated from location): what every public answer is computed from.
    cell: Mapped[object] = cell_column()
    cell_lat: Mapped[float] = latitude_of(cell)
    cell_lon: Mapped[float] = longitude_of(cell)
    rank_point: Mapped[object] = rank_point_column()
    contact_phone: Mapped[str] = mapped_column(String(20), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The ward its public cell's centre falls in (resolvers/areas.py), if the areas are imported.
    ward_code: Mapped[str | None] = mapped_column(Text, index=True)
    # The row id in the hotline's spreadsheet it was imported from.
    external_id: Mapped[str | None] = mapped_column(String(100))
    # The partner app it was filed through, if any (that partner may see it with `private:read`).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    # HMAC-SHA256 of the contact phone with the server's secret key: finds needs with the same phone
    # without an index of phones in clear.
    contact_phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Flagged at creation for verifiers (same phone, or similar text nearby); never rejected for it.
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"))
    # Verification: who (a verifier of the ward or an admin) and when; or why it was rejected.
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_reason: Mapped[str | None] = mapped_column(String(500))
    # Verified elsewhere: the trusted deployment whose attestation came with it, and that attestation
    # (cleared with the verification when an edit resets it).
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("trusted_deployments.id", ondelete="SET NULL"))
    received_attestation: Mapped[str | None] = mapped_column(Text, index=True)
    # Set when the requester was asked "still need help?"; cleared by renewNeed.
    expiry_prompted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=NeedStatus.OPEN.value)
    quantity_pledged: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    quantity_delivered: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    # Whom the help goes to, for the fairness part of the score (generated, migration 0026; the Python
    # twin is aidmap.fairness.beneficiary_key): the claimed account, else the person's phone, else the need.
    beneficiary_key: Mapped[str] = mapped_column(Text, Computed(BENEFICIARY_KEY_SQL, persisted=True), index=True)
    # How much farther than a donor's radius it reaches (metres), as last announced by the waiting job
    # (a NEED_WAITING event, aidmap/jobs/waiting.py); it stops growing once something is pledged.
    waiting_reach_m: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")


class NeedReport(Base):
    """An account's report that a need is abusive or false; 3 that count (from different trusted
    accounts) hide the need, as does one from a reviewer of its ward."""

    __tablename__ = "need_reports"

    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    # Whether it counts towards hiding the need: weighed once, when filed (resolvers/verification.py).
    counts: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
