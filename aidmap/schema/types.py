"""Object types of the API: Node, Account, Need, Offer, Pledge and their connections."""

from __future__ import annotations

import operator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from aidmap import models
from aidmap.geo.distance import haversine_m
from aidmap.geo.privacy import round_distance, snap_to_cell
from aidmap.models import need_fields
from aidmap.models.need import reviews
from aidmap.models.projection import NeedProjection, project_need
from aidmap.resolvers import needs as need_resolvers
from aidmap.resolvers import verification
from aidmap.schema.context import Context
from aidmap.schema.ids import to_global_id

NeedCategory = strawberry.enum(models.NeedCategory, description="What kind of help is needed or offered.")
NeedStatus = strawberry.enum(models.NeedStatus)
Urgency = strawberry.enum(models.Urgency)
NeedOrder = strawberry.enum(
    models.NeedOrder,
    description="DISTANCE: nearest cell first. URGENCY: most urgent first (CRITICAL, HIGH, NORMAL, LOW), then nearest.",
)
OfferStatus = strawberry.enum(models.OfferStatus)
PledgeStatus = strawberry.enum(models.PledgeStatus)


@strawberry.type(description="A point on the Earth in WGS 84 degrees.")
class GeoPoint:
    lat: float
    lon: float


@strawberry.interface(description="An object with a global ID (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


Role = strawberry.enum(models.Role)
AreaLevel = strawberry.enum(models.AreaLevel, name="AreaLevel")


@strawberry.type(
    description="A person using aidmap. As a node, seen only by itself, admins, the people it shares a pledge "
    "or a need with and the partner app that signed it up. The phone number is shown only to its owner."
)
class Account(Node):
    display_name: str
    _phone: strawberry.Private[str]
    _roles: strawberry.Private[list[str]]
    _pk: strawberry.Private[int]
    # signIn / signUp answer with the caller's own account before the request carries its token.
    _own: strawberry.Private[bool] = False

    def _is_self(self, info: Info[Context, None]) -> bool:
        viewer = info.context.viewer
        return self._own or (viewer is not None and viewer.account_id == self._pk)

    @strawberry.field
    def phone(self, info: Info[Context, None]) -> str | None:
        return self._phone if self._is_self(info) else None

    @strawberry.field(description="Shown to the account itself and to admins.")
    def roles(self, info: Info[Context, None]) -> list[str]:
        viewer = info.context.viewer
        allowed = self._is_self(info) or (viewer is not None and models.Role.ADMIN.value in viewer.roles)
        return list(self._roles) if allowed else []

    @classmethod
    def from_model(cls, account: models.Account, *, own: bool = False) -> Account:
        return cls(
            id=strawberry.ID(to_global_id("Account", account.id)),
            display_name=account.display_name,
            _phone=account.phone,
            _roles=list(account.roles),
            _pk=account.id,
            _own=own,
        )


# Every field that returns someone's Account holds to the Account node's rule (Context.visible_account).
ACCOUNT_FIELD = (
    "Null unless the viewer may see this account: itself, admins, the people it shares a pledge or a need "
    "with and the partner app that signed it up."
)

PrivateField = strawberry.enum(models.PrivateField)


@strawberry.type
class Beneficiary:
    display_name: str
    phone: str | None


ReadChannel = strawberry.enum(models.ReadChannel, description="How a private field was handed out.")


@strawberry.type(description="One read of a need's exact location or phone by someone other than the requester.")
class LocationRead:
    reader_name: str = strawberry.field(
        description="The person who read it; the partner app's name when its key read it for nobody."
    )
    partner_name: str | None = strawberry.field(description="The partner app the read went through, if any.")
    field: PrivateField  # type: ignore[valid-type]
    via: ReadChannel  # type: ignore[valid-type]
    read_at: datetime


@strawberry.type(description="A province or ward (phường / xã).")
class AdminArea:
    code: str
    name: str
    name_en: str | None
    full_name: str | None
    level: str

    @classmethod
    def from_model(cls, area: models.AdminArea) -> AdminArea:
        return cls(code=area.code, name=area.name, name_en=area.name_en, full_name=area.full_name, level=area.level)


@strawberry.type(description="An area with its outline, for drawing maps without a tile server.")
class AreaOutline:
    area: AdminArea
    geojson: str = strawberry.field(
        description="The outline as a GeoJSON Polygon or MultiPolygon (simplified to ~30 m)."
    )


@strawberry.type
class NeedCount:
    category: NeedCategory  # type: ignore[valid-type]
    status: NeedStatus  # type: ignore[valid-type]
    count: int


@strawberry.type(description="What happened in an area (and every area in it): for admins and its verifiers.")
class AreaStats:
    area: AdminArea
    counts: list[NeedCount] = strawberry.field(description="Needs by category and status.")
    people_helped: int = strawberry.field(
        description="People in households that received at least one delivery (a household without a size counts 1)."
    )
    median_seconds_to_first_pledge: float | None = strawberry.field(
        description="Median time from posting a need to its first pledge; null when nothing was pledged."
    )


@strawberry.type(description="A ward's check of a need, shown to donors.")
class Verification:
    verified_at: datetime
    area: AdminArea | None = strawberry.field(description="The ward it was verified for (the need's ward).")
    attestation: str | None = strawberry.field(
        default=None,
        description="The verification as a signed statement partners check offline: a compact JWS (EdDSA, "
        "Ed25519; keys at /.well-known/jwks.json, revocations at /attestations/status) over the need's id, ward "
        "code, the verifier's role, when, a hash of its public fields and an expiry. For a need attested by "
        "another deployment, that deployment's. Null once revoked or expired.",
    )
    attested_by: str | None = strawberry.field(
        default=None,
        description='The trusted deployment whose attestation came with the need ("verified by <ward>, attested '
        'by <deployment>"); null when it was verified here.',
    )


@strawberry.type(description="A report that a need is abusive or false.")
class NeedReport:
    reason: str
    created_at: datetime


# The Need type's plain fields (models/need_fields.py, in_type), read from a row in one C call; enum
# members by value as a dict look-up (~5x cheaper than calling the enum).
_PLAIN_NAMES = tuple(f.name for f in need_fields.TYPE_FIELDS)
_read_plain = operator.attrgetter(*_PLAIN_NAMES)
_PLAIN_CHOICES = tuple(
    (f.name, {member.value: member for member in f.choices}) for f in need_fields.TYPE_FIELDS if f.choices
)


def _plain_need_fields(need: Any) -> dict[str, Any]:
    plain = dict(zip(_PLAIN_NAMES, _read_plain(need), strict=True))
    for name, members in _PLAIN_CHOICES:
        plain[name] = members[plain[name]]
    return plain


@strawberry.type(description="Something a person needs: food, medicine, a laptop for school, a consultation...")
class Need(Node):
    category: NeedCategory  # type: ignore[valid-type]
    title: str
    details: str | None
    quantity: int
    unit: str
    urgency: Urgency  # type: ignore[valid-type]
    household_size: int | None
    status: NeedStatus  # type: ignore[valid-type]
    quantity_pledged: int
    quantity_delivered: int
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    is_mine: bool = strawberry.field(description="True when the viewer posted this need.")
    approximate_location: GeoPoint = strawberry.field(
        description="The centre of the ~500 m grid cell holding the need; the same for every viewer."
    )
    _exact: strawberry.Private[GeoPoint | None]
    _phone: strawberry.Private[str | None]
    _pk: strawberry.Private[int]
    _owner_id: strawberry.Private[int]
    _filed_by_id: strawberry.Private[int | None]
    _beneficiary: strawberry.Private[tuple[str | None, str | None]]
    _ward_code: strawberry.Private[str | None]
    _verified_at: strawberry.Private[datetime | None]
    _attested_by_id: strawberry.Private[int | None]
    _received_attestation: strawberry.Private[str | None]
    _rejected_reason: strawberry.Private[str | None]
    _duplicate_of: strawberry.Private[int | None]
    _via: strawberry.Private[models.ReadChannel]

    def _reviewer(self, ctx: Context) -> bool:
        """Admins and verifiers of the need's ward: who sees duplicate flags and reports."""
        viewer = ctx.viewer
        return viewer is not None and reviews(viewer.principal, ward_code=self._ward_code)

    @strawberry.field(description='"Verified by <ward>": when a verifier of its ward (or an admin) checked it.')
    async def verification(self, info: Info[Context, None]) -> Verification | None:
        if self._verified_at is None or self.status == models.NeedStatus.REJECTED:
            return None
        loaders = info.context.loaders
        area = await loaders.areas.load(self._ward_code) if self._ward_code else None
        if self._attested_by_id is not None:
            token, by = self._received_attestation, await loaders.deployments.load(self._attested_by_id)
        else:
            token, by = await loaders.attestations.load(self._pk), None
        return Verification(
            verified_at=self._verified_at, area=AdminArea.from_model(area) if area else None, attestation=token,
            attested_by=by,
        )  # fmt: skip

    @strawberry.field(description="Why a verifier rejected it: for the requester, the filer and reviewers.")
    def rejected_reason(self, info: Info[Context, None]) -> str | None:
        viewer = info.context.viewer
        if viewer is None or not (
            viewer.account_id in (self._owner_id, self._filed_by_id) or self._reviewer(info.context)
        ):
            return None
        return self._rejected_reason

    @strawberry.field(
        description="A live need this one may duplicate (same phone, or similar text within 200 m and 7 days): "
        "for verifiers of its ward and admins, to check, when they review the other need too; the need is not "
        "rejected for it."
    )
    async def possible_duplicate_of(self, info: Info[Context, None]) -> Need | None:
        if self._duplicate_of is None or not self._reviewer(info.context):
            return None
        row = await info.context.loaders.needs.load(self._duplicate_of)
        # Only a need the reader reviews too: a verifier of one ward who files probes there (a
        # phone, a point, a title) must not learn from the flag that a need of another ward has
        # that contact phone or lies within 200 m of the probe.
        if row is None or not reviews(info.context.viewer.principal, ward_code=row.ward_code):  # type: ignore[union-attr]
            return None
        return (await visible_need_views(info.context, [row]))[0]

    @strawberry.field(
        description="Reports on this need (reporters stay anonymous): for verifiers of its ward and admins."
    )
    async def reports(self, info: Info[Context, None]) -> list[NeedReport]:
        if not self._reviewer(info.context):
            return []
        async with info.context.reads() as session:
            rows = await verification.reports_for(session=session, need_id=self._pk)
        return [NeedReport(reason=r.reason, created_at=r.created_at) for r in rows]

    @strawberry.field(description="True when the viewer filed this need for someone else.")
    def filed_by_me(self, info: Info[Context, None]) -> bool:
        viewer = info.context.viewer
        return viewer is not None and self._filed_by_id == viewer.account_id

    @strawberry.field(description="The person it was filed for: shown to the requester and the filer only.")
    def on_behalf_of(self, info: Info[Context, None]) -> Beneficiary | None:
        viewer = info.context.viewer
        name, phone = self._beneficiary
        if name is None or viewer is None or viewer.account_id not in (self._owner_id, self._filed_by_id):
            return None
        return Beneficiary(display_name=name, phone=phone)

    def _log_read(self, info: Info[Context, None], field: models.PrivateField) -> None:
        """Every read of a private field but the requester's own, with the partner app it went through."""
        who = info.context.principal
        if who.account_id != self._owner_id:
            info.context.access_log.record(
                need_id=self._pk, reader_id=who.account_id, partner_id=who.partner_id, field=field, channel=self._via
            )

    @strawberry.field(description="Null unless the viewer is the requester or a donor with an active pledge on it.")
    def exact_location(self, info: Info[Context, None]) -> GeoPoint | None:
        if self._exact is not None:
            self._log_read(info, models.PrivateField.EXACT_LOCATION)
        return self._exact

    @strawberry.field(description="Null unless the viewer is the requester or a donor with an active pledge on it.")
    def contact_phone(self, info: Info[Context, None]) -> str | None:
        if self._phone is not None:
            self._log_read(info, models.PrivateField.CONTACT_PHONE)
        return self._phone

    @strawberry.field(description="Who saw this need's exact location or phone, newest first: for the requester only.")
    async def location_reads(self, info: Info[Context, None], first: int = 50) -> list[LocationRead]:
        viewer = info.context.viewer
        if viewer is None or viewer.account_id != self._owner_id:
            return []
        async with info.context.reads() as session:
            rows = await need_resolvers.location_reads(session=session, need_id=self._pk, first=min(max(first, 1), 100))
        return [
            LocationRead(
                reader_name=name or partner or "",
                partner_name=partner,
                field=models.PrivateField(field),
                via=models.ReadChannel(channel),
                read_at=read_at,
            )  # fmt: skip
            for name, partner, field, channel, read_at in rows
        ]

    @strawberry.field(description="The ward of the need's public cell (its centre), when the areas are imported.")
    async def ward(self, info: Info[Context, None]) -> AdminArea | None:
        if self._ward_code is None:
            return None
        area = await info.context.loaders.areas.load(self._ward_code)
        return AdminArea.from_model(area) if area is not None else None

    @strawberry.field(
        description="Pledges on this need: all of them for the requester and for whoever filed it for them "
        "(before and after the claim, to follow up), a donor's own for a donor, and a carrier's own for a "
        "collection point's manager."
    )
    async def pledges(self, info: Info[Context, None]) -> list[Pledge]:
        viewer = info.context.viewer
        if viewer is None:
            return []
        rows = await info.context.loaders.pledges_by_need.load(self._pk)
        if viewer.account_id not in (self._owner_id, self._filed_by_id):
            rows = [p for p in rows if viewer.account_id in (p.donor_id, p.carrier_id)]
        return [Pledge.from_model(p) for p in rows]

    @strawberry.field(
        description="The latest instant-help request (requestHelpNow) on this need, for the requester and whoever "
        "filed it: what the page shows after a reload. Null for anyone else, or when none was made."
    )
    async def help_request(self, info: Info[Context, None]) -> HelpRequest | None:
        viewer = info.context.viewer
        if viewer is None or viewer.account_id not in (self._owner_id, self._filed_by_id):
            return None
        row = await info.context.loaders.help_by_need.load(self._pk)
        return HelpRequest.from_model(row) if row is not None else None

    @classmethod
    def from_projection(
        cls, projection: NeedProjection, *, is_mine: bool, via: models.ReadChannel = models.ReadChannel.API
    ) -> Need:
        """The API view of what models/projection.py lets this viewer see (the only way to build one)."""
        need = projection.need
        cell_lon, cell_lat = projection.approximate
        exact = GeoPoint(lat=projection.exact[1], lon=projection.exact[0]) if projection.exact is not None else None
        return cls(
            id=strawberry.ID(to_global_id("Need", need.id)),
            **_plain_need_fields(need),
            is_mine=is_mine,
            approximate_location=GeoPoint(lat=cell_lat, lon=cell_lon),
            _exact=exact,
            _phone=projection.contact_phone,
            _pk=need.id,
            _owner_id=need.owner_id,
            _filed_by_id=need.filed_by_id,
            _beneficiary=(need.beneficiary_name, need.beneficiary_phone),
            _ward_code=need.ward_code,
            _verified_at=need.verified_at,
            _attested_by_id=need.attested_by_id,
            _received_attestation=need.received_attestation,
            _rejected_reason=need.rejected_reason,
            _duplicate_of=need.possible_duplicate_of_id,
            _via=via,
        )


async def pledged_by_viewer(ctx: Context, rows: list[models.Need]) -> set[int]:
    """Which of these needs (rows with id, owner_id, filed_by_id) the viewer is an active donor of."""
    viewer = ctx.viewer
    if viewer is None:
        return set()
    others = [n.id for n in rows if viewer.account_id not in (n.owner_id, n.filed_by_id)]
    if not others:
        return set()
    async with ctx.reads() as session:
        return await need_resolvers.actively_pledged_need_ids(session=session, viewer=viewer, need_ids=others)


async def need_views(ctx: Context, rows: list[models.Need]) -> list[Need]:
    """API views of needs the viewer is known to be involved with (their own, their pledges' needs),
    with private fields only where the viewer may see them (at most one query per call)."""
    who, pledged = ctx.principal, await pledged_by_viewer(ctx, rows)
    mine = ctx.viewer.account_id if ctx.viewer is not None else None
    return [
        Need.from_projection(project_need(who, n, active_donor=n.id in pledged), is_mine=n.owner_id == mine)
        for n in rows
    ]


async def visible_need_views(ctx: Context, rows: list[models.Need]) -> list[Need | None]:
    """Like need_views, for needs looked up by id: None where the viewer may not see the need at all
    (hidden while pending verification, under review or rejected), the same as for an unknown id."""
    who, pledged = ctx.principal, await pledged_by_viewer(ctx, rows)
    mine = ctx.viewer.account_id if ctx.viewer is not None else None
    projections = [project_need(who, n, active_donor=n.id in pledged) for n in rows]
    return [Need.from_projection(p, is_mine=p.need.owner_id == mine) if p.visible else None for p in projections]


def public_distance(origin_lon: float, origin_lat: float, cell_lon: float, cell_lat: float) -> float:
    """The distance every viewer is shown: from the public cell's centre, to 100 m."""
    return round_distance(haversine_m(origin_lon, origin_lat, cell_lon, cell_lat))


@strawberry.type(description="Something a donor can give within a radius of their location.")
class Offer(Node):
    category: NeedCategory  # type: ignore[valid-type]
    title: str
    details: str | None
    quantity: int
    quantity_pledged: int
    unit: str
    radius_meters: float
    available_until: datetime
    status: OfferStatus  # type: ignore[valid-type]
    created_at: datetime
    is_mine: bool
    approximate_location: GeoPoint
    exact_location: GeoPoint | None = strawberry.field(description="Null unless the viewer made the offer.")
    _donor_id: strawberry.Private[int]

    @strawberry.field(description=ACCOUNT_FIELD)
    async def donor(self, info: Info[Context, None]) -> Account | None:
        account = await info.context.visible_account(self._donor_id)
        return Account.from_model(account) if account is not None else None

    @classmethod
    def from_model(cls, offer: models.Offer, ctx: Context) -> Offer:
        mine = ctx.viewer is not None and ctx.viewer.account_id == offer.donor_id
        cell_lon, cell_lat = snap_to_cell(offer.lon, offer.lat)
        return cls(
            id=strawberry.ID(to_global_id("Offer", offer.id)),
            category=models.NeedCategory(offer.category),
            title=offer.title,
            details=offer.details,
            quantity=offer.quantity,
            quantity_pledged=offer.quantity_pledged,
            unit=offer.unit,
            radius_meters=offer.radius_meters,
            available_until=offer.available_until,
            status=models.OfferStatus(offer.status),
            created_at=offer.created_at,
            is_mine=mine,
            approximate_location=GeoPoint(lat=cell_lat, lon=cell_lon),
            exact_location=GeoPoint(lat=offer.lat, lon=offer.lon) if mine else None,
            _donor_id=offer.donor_id,
        )


@strawberry.type(description="A donor's commitment of a quantity to a need. Seen only by the donor and the requester.")
class Pledge(Node):
    quantity: int
    status: PledgeStatus  # type: ignore[valid-type]
    created_at: datetime
    delivered_at: datetime | None
    cancelled_at: datetime | None
    accepted_at: datetime | None = strawberry.field(
        description="When the donor was given the need's exact location and phone: when pledged, or when the "
        "requester (or filer) accepted it if the server asks for acceptance; null until then."
    )
    marked_delivered_at: datetime | None = strawberry.field(
        description="When the donor said they delivered it (markDelivered): the requester is asked to confirm. "
        "The pledge stays PLEDGED until they do."
    )
    _need_id: strawberry.Private[int]
    _donor_id: strawberry.Private[int]
    _offer_id: strawberry.Private[int | None]
    _collection_point_id: strawberry.Private[int | None]

    @strawberry.field(
        description="Relayed: the collection point the donor drops it at; its manager carries it to the requester "
        "and, not the donor, sees the need's exact location and phone. Null when the donor delivers it."
    )
    async def collection_point(self, info: Info[Context, None]) -> CollectionPoint | None:
        return await _collection_point(info, self._collection_point_id)

    @strawberry.field
    async def need(self, info: Info[Context, None]) -> Need:
        row = await info.context.loaders.needs.load(self._need_id)
        assert row is not None
        return (await need_views(info.context, [row]))[0]

    @strawberry.field(description=ACCOUNT_FIELD)
    async def donor(self, info: Info[Context, None]) -> Account | None:
        account = await info.context.visible_account(self._donor_id)
        return Account.from_model(account) if account is not None else None

    @strawberry.field
    async def offer(self, info: Info[Context, None]) -> Offer | None:
        if self._offer_id is None:
            return None
        row = await info.context.loaders.offers.load(self._offer_id)
        return Offer.from_model(row, info.context) if row is not None else None

    @classmethod
    def from_model(cls, pledge: models.Pledge) -> Pledge:
        return cls(
            id=strawberry.ID(to_global_id("Pledge", pledge.id)),
            quantity=pledge.quantity,
            status=models.PledgeStatus(pledge.status),
            created_at=pledge.created_at,
            delivered_at=pledge.delivered_at,
            cancelled_at=pledge.cancelled_at,
            accepted_at=pledge.accepted_at,
            marked_delivered_at=pledge.marked_delivered_at,
            _need_id=pledge.need_id,
            _donor_id=pledge.donor_id,
            _offer_id=pledge.offer_id,
            _collection_point_id=pledge.collection_point_id,
        )


@strawberry.type
class NeedEdge:
    cursor: str
    node: Need
    distance_meters: float = strawberry.field(
        description="Metres from the search centre to the need's public cell, to 100 m (the same for every viewer)."
    )


@strawberry.type
class NeedConnection:
    edges: list[NeedEdge]
    page_info: PageInfo


@strawberry.type
class OfferEdge:
    cursor: str
    node: Offer
    distance_meters: float


@strawberry.type
class OfferConnection:
    edges: list[OfferEdge]
    page_info: PageInfo


@strawberry.type
class MyNeedEdge:
    cursor: str
    node: Need


@strawberry.type
class MyNeedConnection:
    edges: list[MyNeedEdge]
    page_info: PageInfo


@strawberry.type
class MyOfferEdge:
    cursor: str
    node: Offer


@strawberry.type
class MyOfferConnection:
    edges: list[MyOfferEdge]
    page_info: PageInfo


@strawberry.type
class PledgeEdge:
    cursor: str
    node: Pledge


@strawberry.type
class PledgeConnection:
    edges: list[PledgeEdge]
    page_info: PageInfo


@strawberry.type(description="A message between the requester and the donor of one pledge.")
class Message(Node):
    body: str
    created_at: datetime
    is_mine: bool
    _sender_id: strawberry.Private[int]
    _pledge_id: strawberry.Private[int]

    @strawberry.field(description=ACCOUNT_FIELD)
    async def sender(self, info: Info[Context, None]) -> Account | None:
        account = await info.context.visible_account(self._sender_id)
        return Account.from_model(account) if account is not None else None

    @classmethod
    def from_model(cls, message: models.Message, ctx: Context) -> Message:
        return cls(
            id=strawberry.ID(to_global_id("Message", message.id)),
            body=message.body,
            created_at=message.created_at,
            is_mine=ctx.viewer is not None and ctx.viewer.account_id == message.sender_id,
            _sender_id=message.sender_id,
            _pledge_id=message.pledge_id,
        )


@strawberry.type(description="Why a suggestion ranks where it does: each part is in [0, 1] (see geo/score.py).")
class ScoreParts:
    distance: float
    urgency: float
    waiting: float
    quantity: float
    fairness: float


@strawberry.type
class OfferSuggestion:
    offer: Offer
    distance_meters: float
    score: float
    parts: ScoreParts


@strawberry.type
class NeedSuggestion:
    need: Need
    distance_meters: float
    score: float
    parts: ScoreParts


HelpRequestStatus = strawberry.enum(models.HelpRequestStatus)


@strawberry.type(description="An instant-help request: asked round by round to the nearest available donors.")
class HelpRequest(Node):
    status: HelpRequestStatus  # type: ignore[valid-type]
    round: int
    created_at: datetime
    _need_id: strawberry.Private[int]
    _pledge_id: strawberry.Private[int | None]

    @strawberry.field
    async def need(self, info: Info[Context, None]) -> Need:
        row = await info.context.loaders.needs.load(self._need_id)
        assert row is not None
        return (await need_views(info.context, [row]))[0]

    @classmethod
    def from_model(cls, request: models.HelpRequest) -> HelpRequest:
        return cls(
            id=strawberry.ID(to_global_id("HelpRequest", request.id)),
            status=models.HelpRequestStatus(request.status),
            round=request.round,
            created_at=request.created_at,
            _need_id=request.need_id,
            _pledge_id=request.pledge_id,
        )


ProposalStatus = strawberry.enum(models.ProposalStatus, name="ProposalStatus")


@strawberry.type(
    description="A collection point: a public place (a ward office, a charity's depot) where donors drop what "
    "they pledge through it, for its couriers to carry on to needs up to reachMeters away. Its place is exact: "
    "it is not anyone's home."
)
class CollectionPoint:
    id: strawberry.ID
    name: str
    address: str
    location: GeoPoint
    reach_meters: float = strawberry.field(description="How far from the point its couriers deliver.")
    units_per_day: int = strawberry.field(description="How many units its couriers carry a day (UTC days).")
    _pk: strawberry.Private[int]
    _units_left: strawberry.Private[int | None]

    @strawberry.field(
        description="What its couriers can still carry today (UTC): unitsPerDay less today's relayed pledges."
    )
    async def units_left_today(self, info: Info[Context, None]) -> int:
        if self._units_left is not None:
            return self._units_left
        return await info.context.loaders.units_left.load(self._pk)

    @classmethod
    def from_model(cls, point: models.CollectionPoint, units_left: int | None = None) -> CollectionPoint:
        return cls(
            id=strawberry.ID(to_global_id("CollectionPoint", point.id)),
            name=point.name,
            address=point.address,
            location=GeoPoint(lat=point.lat, lon=point.lon),
            reach_meters=point.reach_meters,
            units_per_day=point.units_per_day,
            _pk=point.id,
            _units_left=units_left,
        )


async def _collection_point(info: Info[Context, None], point_id: int | None) -> CollectionPoint | None:
    if point_id is None:
        return None
    point = await info.context.loaders.collection_points.load(point_id)
    return CollectionPoint.from_model(point) if point is not None else None


@strawberry.type(
    description="A pledge a matching round proposes to an offer's donor (AIDMAP_MATCHING_ROUND_MINUTES): "
    "acceptProposal makes the pledge, declineProposal turns it down; either way the pair is not proposed again."
)
class MatchProposal:
    id: strawberry.ID
    quantity: int
    score: float = strawberry.field(
        description="The round's weight of the pair: the score (cell to cell) plus the fairness weight times its "
        "fairness part plus the area weight times its ward's deficit (how much less the ward was helped lately "
        "than the city), times (radius / distance) ^ decay when the need is beyond the offer's radius."
    )
    status: ProposalStatus  # type: ignore[valid-type]
    created_at: datetime
    expires_at: datetime
    _need_id: strawberry.Private[int]
    _offer_id: strawberry.Private[int]
    _pledge_id: strawberry.Private[int | None]
    _collection_point_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The collection point it goes through (the donor drops it there, its couriers carry it on); "
        "null when the donor delivers it."
    )
    async def collection_point(self, info: Info[Context, None]) -> CollectionPoint | None:
        return await _collection_point(info, self._collection_point_id)

    @strawberry.field
    async def need(self, info: Info[Context, None]) -> Need:
        row = await info.context.loaders.needs.load(self._need_id)
        assert row is not None
        return (await need_views(info.context, [row]))[0]

    @strawberry.field
    async def offer(self, info: Info[Context, None]) -> Offer:
        row = await info.context.loaders.offers.load(self._offer_id)
        assert row is not None
        return Offer.from_model(row, info.context)

    @classmethod
    def from_model(cls, row: models.MatchProposal) -> MatchProposal:
        return cls(
            id=strawberry.ID(to_global_id("MatchProposal", row.id)),
            quantity=row.quantity,
            score=row.score,
            status=models.ProposalStatus(row.status),
            created_at=row.created_at,
            expires_at=row.expires_at,
            _need_id=row.need_id,
            _offer_id=row.offer_id,
            _pledge_id=row.pledge_id,
            _collection_point_id=row.collection_point_id,
        )


@strawberry.type(description="Whether, where and for what a donor can be asked for instant help.")
class Availability:
    available: bool
    categories: list[NeedCategory]  # type: ignore[valid-type]
    near: GeoPoint | None
    radius_meters: float | None

    @classmethod
    def from_model(cls, row: models.DonorAvailability) -> Availability:
        near = GeoPoint(lat=row.lat, lon=row.lon) if row.lat is not None and row.lon is not None else None
        return cls(
            available=row.available,
            categories=[models.NeedCategory(c) for c in row.categories],
            near=near,
            radius_meters=row.radius_meters,
        )
