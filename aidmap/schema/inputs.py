"""Input types: one per mutation, plus GeoPointInput."""

from __future__ import annotations

from datetime import datetime

import strawberry

from aidmap.schema.types import NeedCategory, Role, Urgency


@strawberry.input(description="A point in WGS 84 degrees: lat in [-90, 90], lon in [-180, 180].")
class GeoPointInput:
    lat: float
    lon: float


@strawberry.input
class SignUpInput:
    display_name: str
    phone: str
    password: str


@strawberry.input
class SignInInput:
    phone: str
    password: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str = strawberry.field(
        description="At least 10 characters, and not one of the most common passwords (TOO_SHORT, TOO_COMMON)."
    )


@strawberry.input(description="The person a need is filed for (they can claim it later with this phone).")
class OnBehalfOfInput:
    display_name: str
    phone: str


@strawberry.input
class CreateNeedInput:
    category: NeedCategory  # type: ignore[valid-type]
    title: str
    quantity: int
    unit: str
    urgency: Urgency  # type: ignore[valid-type]
    location: GeoPointInput
    contact_phone: str
    details: str | None = None
    household_size: int | None = None
    expires_at: datetime | None = None
    on_behalf_of: OnBehalfOfInput | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key and input returns the first result and writes nothing."
    )
    attestation: str | None = strawberry.field(
        default=None,
        description="Partner keys: another aidmap deployment's attestation of this need (a compact JWS from its "
        "Need.verification.attestation), from a deployment this server trusts. The need is then verified "
        '("verified by <ward>, attested by <deployment>"); one that does not check out is ATTESTATION_INVALID.',
    )


@strawberry.input(description="Only the fields given change.")
class UpdateNeedInput:
    need_id: strawberry.ID
    category: NeedCategory | None = None  # type: ignore[valid-type]
    title: str | None = None
    details: str | None = None
    quantity: int | None = None
    unit: str | None = None
    urgency: Urgency | None = None  # type: ignore[valid-type]
    household_size: int | None = None
    location: GeoPointInput | None = None
    contact_phone: str | None = None
    expires_at: datetime | None = None


@strawberry.input
class CancelNeedInput:
    need_id: strawberry.ID


@strawberry.input
class CreateOfferInput:
    category: NeedCategory  # type: ignore[valid-type]
    title: str
    quantity: int
    unit: str
    location: GeoPointInput
    radius_meters: float
    details: str | None = None
    available_until: datetime | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key and input returns the first result and writes nothing."
    )


@strawberry.input(description="Only the fields given change.")
class UpdateOfferInput:
    offer_id: strawberry.ID
    category: NeedCategory | None = None  # type: ignore[valid-type]
    title: str | None = None
    details: str | None = None
    quantity: int | None = None
    unit: str | None = None
    location: GeoPointInput | None = None
    radius_meters: float | None = None
    available_until: datetime | None = None


@strawberry.input
class WithdrawOfferInput:
    offer_id: strawberry.ID


@strawberry.input
class PledgeInput:
    need_id: strawberry.ID
    quantity: int
    offer_id: strawberry.ID | None = None
    collection_point_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Relay it through this collection point (collectionPoints): it must be within the offer's travel "
        "radius (offerId is then required) and deliver as far as the need, with the units left today. You drop it "
        "at the point; its manager carries it on and sees the need's address and phone, you do not.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key and input returns the first result and writes nothing."
    )


@strawberry.input(description="Admins only: a collection point and the account that runs it (its manager).")
class CreateCollectionPointInput:
    name: str
    address: str
    location: GeoPointInput
    reach_meters: float
    units_per_day: int
    manager_id: strawberry.ID


@strawberry.input(
    description="Admins only: change a collection point; fields left out keep their value. `open: false` closes it "
    "to new relays (those on their way stay); a new managerId takes over its open relays too."
)
class UpdateCollectionPointInput:
    collection_point_id: strawberry.ID
    name: str | None = None
    address: str | None = None
    reach_meters: float | None = None
    units_per_day: int | None = None
    manager_id: strawberry.ID | None = None
    open: bool | None = None


@strawberry.input
class CancelPledgeInput:
    pledge_id: strawberry.ID


@strawberry.input
class ConfirmDeliveryInput:
    pledge_id: strawberry.ID


@strawberry.input
class MarkDeliveredInput:
    pledge_id: strawberry.ID


@strawberry.input
class AcceptPledgeInput:
    pledge_id: strawberry.ID


@strawberry.input
class SendMessageInput:
    pledge_id: strawberry.ID
    body: str
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key and input returns the first result and writes nothing."
    )


@strawberry.input(description="expiresAt defaults to 14 days from now.")
class RenewNeedInput:
    need_id: strawberry.ID
    expires_at: datetime | None = None


@strawberry.input(
    description="available: false stops instant-help requests; near and radiusMeters are needed when true."
)
class SetAvailabilityInput:
    available: bool
    categories: list[NeedCategory] | None = None  # type: ignore[valid-type]
    near: GeoPointInput | None = None
    radius_meters: float | None = None


@strawberry.input
class RequestHelpNowInput:
    need_id: strawberry.ID


@strawberry.input
class AcceptHelpRequestInput:
    help_request_id: strawberry.ID


@strawberry.input
class ProposalInput:
    proposal_id: strawberry.ID


@strawberry.input(description="areaCodes: the wards or provinces a verifier answers for (verifier only).")
class GrantRoleInput:
    account_id: strawberry.ID
    role: Role  # type: ignore[valid-type]
    area_codes: list[str] | None = None


@strawberry.input
class RevokeRoleInput:
    account_id: strawberry.ID
    role: Role  # type: ignore[valid-type]


@strawberry.input
class ClaimNeedInput:
    need_id: strawberry.ID = strawberry.field(
        description="The need's id, or its number as the claim code's text and the filer's screen give it."
    )
    code: str | None = strawberry.field(
        default=None, description="The one-time claim code given to whoever filed the need (required)."
    )


@strawberry.input
class IssueClaimCodeInput:
    need_id: strawberry.ID


@strawberry.input
class VerifyNeedInput:
    need_id: strawberry.ID


@strawberry.input
class RejectNeedInput:
    need_id: strawberry.ID
    reason: str = strawberry.field(description="Shown to the requester and whoever filed the need.")


@strawberry.input
class ReportNeedInput:
    need_id: strawberry.ID
    reason: str
