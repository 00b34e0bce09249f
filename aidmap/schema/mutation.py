"""Root Mutation: each takes one `input` and returns `{ <object> errors }`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from aidmap import models
from aidmap.fairness.reach import max_reach_m
from aidmap.i18n import msg
from aidmap.models import need_fields
from aidmap.notify import dispatch
from aidmap.problems import SESSION_EXPIRED, UNAUTHENTICATED, Code, CountedProblems, Problem, Problems
from aidmap.resolvers import (
    accounts,
    claims,
    collection_points,
    idempotency,
    messages,
    needs,
    offers,
    pledges,
    proposals,
    roles,
    verification,
)
from aidmap.resolvers import help as help_requests
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.attestations import attestation_issuer
from aidmap.resolvers.needs import NeedFields
from aidmap.resolvers.offers import OfferFields
from aidmap.schema.context import Context
from aidmap.schema.errors import (
    AccountError,
    CollectionPointError,
    HelpError,
    MessageError,
    NeedError,
    OfferError,
    PledgeError,
    RoleError,
    to_errors,
)
from aidmap.schema.ids import pk_of
from aidmap.schema.inputs import (
    AcceptHelpRequestInput,
    AcceptPledgeInput,
    CancelNeedInput,
    CancelPledgeInput,
    ChangePasswordInput,
    ClaimNeedInput,
    ConfirmDeliveryInput,
    CreateCollectionPointInput,
    CreateNeedInput,
    CreateOfferInput,
    GrantRoleInput,
    IssueClaimCodeInput,
    MarkDeliveredInput,
    PledgeInput,
    ProposalInput,
    RejectNeedInput,
    RenewNeedInput,
    ReportNeedInput,
    RequestHelpNowInput,
    RevokeRoleInput,
    SendMessageInput,
    SetAvailabilityInput,
    SignInInput,
    SignUpInput,
    UpdateCollectionPointInput,
    UpdateNeedInput,
    UpdateOfferInput,
    VerifyNeedInput,
    WithdrawOfferInput,
)
from aidmap.schema.notifications import NotificationMutation
from aidmap.schema.types import (
    Account,
    Availability,
    CollectionPoint,
    HelpRequest,
    MatchProposal,
    Message,
    Need,
    Offer,
    Pledge,
    need_views,
)
from aidmap.schema.webhooks import ImportMutation, WebhookMutation

log = logging.getLogger(__name__)
R = TypeVar("R")
PARTNER_SIGN_IN = msg(
    "signIn does not take an API key: a partner app acts for the accounts it signed up with Aidmap-Act-As."
)
PARTNER_SESSION = msg(
    "Sessions are people's own: a partner key cannot sign out, sign out everywhere or change a password "
    "(an operator revokes a key with `aidmap partner revoke`)."
)
ErrorType = TypeVar(
    "ErrorType",
    AccountError,
    NeedError,
    OfferError,
    PledgeError,
    MessageError,
    HelpError,
    RoleError,
    CollectionPointError,
)

# Another deployment's attestation comes with needs a partner app moves over, never from a person's app.
ATTESTATION_NEEDS_KEY = Problem("attestation", msg("Only a partner key may send an attestation."), Code.FORBIDDEN)


@strawberry.type
class AuthPayload:
    token: str | None = None
    account: Account | None = None
    errors: list[AccountError]


@strawberry.type
class SignOutPayload:
    revoked_tokens: int = strawberry.field(
        description="How many bearer tokens were revoked (0 when there was nothing to revoke)."
    )
    errors: list[AccountError]


@strawberry.type
class ChangePasswordPayload:
    account: Account | None = None
    revoked_tokens: int = strawberry.field(
        default=0, description="How many other tokens of the account were revoked (this request's token stays valid)."
    )
    errors: list[AccountError]


def _own_session(ctx: Context) -> tuple[Viewer, str] | list[AccountError]:
    """The signed-in person and the hash of their own token, or why this request has none: sessions
    are ended and passwords changed with a person's own token, never through a partner key."""
    if ctx.partner is not None:
        return to_errors(AccountError, [Problem(None, PARTNER_SESSION, Code.FORBIDDEN)])
    if ctx.viewer is None or ctx.token_hash is None:
        return to_errors(AccountError, [SESSION_EXPIRED if ctx.token_rejected else UNAUTHENTICATED])
    return ctx.viewer, ctx.token_hash


@strawberry.type
class NeedPayload:
    need: Need | None = None
    errors: list[NeedError]
    claim_code: str | None = strawberry.field(
        default=None,
        description="createNeed with onBehalfOf: the one-time code the person enters in claimNeed. "
        "Shown once (a retry with the same idempotency key has none: use issueClaimCode).",
    )


@strawberry.type
class ClaimCodePayload:
    claim_code: str | None = None
    errors: list[NeedError]


@strawberry.type
class OfferPayload:
    offer: Offer | None = None
    errors: list[OfferError]


@strawberry.type
class PledgePayload:
    pledge: Pledge | None = None
    errors: list[PledgeError]


async def _in_transaction(
    ctx: Context, error_type: type[ErrorType], action: Callable[[AsyncSession, Viewer], Awaitable[R]]
) -> tuple[R | None, list[ErrorType]]:
    """Run a signed-in write in one transaction; Problems roll it back and become payload errors."""
    if ctx.viewer is None:
        return None, to_errors(error_type, [SESSION_EXPIRED if ctx.token_rejected else UNAUTHENTICATED])
    viewer = ctx.viewer
    try:
        async with ctx.sessions() as session, session.begin():
            try:
                return await action(session, viewer), []
            except CountedProblems as counted:
                failure: Problems = counted  # leaving the block normally commits the count
        return None, to_errors(error_type, failure.problems)
    except Problems as failure:
        return None, to_errors(error_type, failure.problems)


def _idempotent(
    key: str | None,
    operation: str,
    given: object,
    model: type[Any],
    make: Callable[[AsyncSession, Viewer], Awaitable[R]],
) -> Callable[[AsyncSession, Viewer], Awaitable[R]]:
    """Wrap a create so a retry with the same idempotency key returns the first result and writes nothing."""
    if key is None:
        return make
    digest = idempotency.input_hash(given)

    async def action(session: AsyncSession, viewer: Viewer) -> R:
        existing = await idempotency.claim(
            session=session, account_id=viewer.account_id, key=key, operation=operation, digest=digest
        )
        if existing is not None:
            found = await session.get(model, existing)
            assert found is not None
            return found  # type: ignore[no-any-return]
        made = await make(session, viewer)
        await idempotency.remember(session=session, account_id=viewer.account_id, key=key, result_id=made.id)  # type: ignore[attr-defined]
        return made

    return action


def _pk(global_id: str, type_name: str, field: str) -> int:
    pk = pk_of(global_id, type_name, field)
    if pk is None:
        raise Problems.one(field, msg("No {kind} has this id.", kind=type_name.lower()), Code.NOT_FOUND)
    return pk


def _claimed_need(reference: str) -> int:
    """claimNeed's needId: the need's global id, or its number as the SMS and the operator's screen
    give it ("request 123"), read out over the phone: digits, not case-sensitive base64."""
    # Copied from the text ("request 123.") or typed with spaces of any kind: digits are what count.
    digits = "".join(reference.split()).lstrip("#").rstrip(".,;:")
    if digits.isascii() and digits.isdigit() and 0 < len(digits) <= 18:
        return int(digits)
    return _pk(reference, "Need", "needId")


def _need_fields(data: CreateNeedInput | UpdateNeedInput) -> NeedFields:
    """The input's need fields (models.need_fields.INPUT_FIELDS, same names in snake_case) as the service takes them."""
    given: dict[str, Any] = {}
    for f in need_fields.INPUT_FIELDS:
        value = getattr(data, f.name)
        if value is None:
            continue
        if f.kind is need_fields.Kind.POINT:
            value = (value.lat, value.lon)
        elif f.choices is not None:
            value = f.choices(value)
        given[f.name] = value
    return NeedFields(given)


def _offer_fields(data: CreateOfferInput | UpdateOfferInput) -> OfferFields:
    location = data.location
    return OfferFields(
        category=models.NeedCategory(data.category) if data.category is not None else None,
        title=data.title,
        details=data.details,
        quantity=data.quantity,
        unit=data.unit,
        lat=location.lat if location is not None else None,
        lon=location.lon if location is not None else None,
        radius_meters=data.radius_meters,
        available_until=data.available_until,
    )


async def _text_claim_code(ctx: Context, need_id: int, phone: str, code: str) -> None:
    """The claim code also goes to the person's phone through the configured SMS gateway (by default the
    log): queued once the transaction has committed, sent in the background, so the filer is answered
    at once and has the code whatever becomes of the text. It counts against the phone's daily cap
    and the monthly budget, shared with notifications: past either the code is not texted (the filer
    reads it to the person)."""
    policy = dispatch.policy_for(ctx.settings)
    async with ctx.sessions() as session, session.begin():
        refusal = await dispatch.charge_text(session, phone, policy, purpose="claim code", outcomes=_CLAIM_OUTCOMES)
    if refusal is not None:
        log.info("SMS claim code not sent: %s", refusal)
        return
    text = claims.sms_text(code=code, need_ref=str(need_id), phone=phone)
    ctx.sms.submit(phone, text, purpose="claim code")


# Warns of the monthly budget once a month per process, as the notify job does.
_CLAIM_OUTCOMES = dispatch.Outcomes()


async def _need_payload(ctx: Context, row: models.Need | None, errors: list[NeedError]) -> NeedPayload:
    return NeedPayload(need=(await need_views(ctx, [row]))[0] if row is not None else None, errors=errors)


def _offer_payload(ctx: Context, row: models.Offer | None, errors: list[OfferError]) -> OfferPayload:
    return OfferPayload(offer=Offer.from_model(row, ctx) if row is not None else None, errors=errors)


def _pledge_payload(row: models.Pledge | None, errors: list[PledgeError]) -> PledgePayload:
    return PledgePayload(pledge=Pledge.from_model(row) if row is not None else None, errors=errors)


@strawberry.type
class MessagePayload:
    message: Message | None = None
    errors: list[MessageError]


@strawberry.type
class AvailabilityPayload:
    availability: Availability | None = None
    errors: list[HelpError]


@strawberry.type
class ProposalPayload:
    proposal: MatchProposal | None = None
    pledge: Pledge | None = None
    errors: list[PledgeError]


@strawberry.type
class HelpRequestPayload:
    help_request: HelpRequest | None = None
    pledge: Pledge | None = None
    errors: list[HelpError]


@strawberry.type
class CollectionPointPayload:
    collection_point: CollectionPoint | None = None
    errors: list[CollectionPointError]


@strawberry.type
class RolePayload:
    account: Account | None = None
    errors: list[RoleError]


@strawberry.type
class ReportPayload:
    reported: bool
    errors: list[NeedError]


@strawberry.type
class Mutation(WebhookMutation, ImportMutation, NotificationMutation):
    @strawberry.mutation(description="Create an account; returns a bearer token for the Authorization header.")
    async def sign_up(self, info: Info[Context, None], input: SignUpInput) -> AuthPayload:
        settings, partner = info.context.settings, info.context.partner
        # A partner app signs its people up from its own servers, within its key's limits.
        address = info.context.client_address() if partner is None else None
        throttle = accounts.SignInThrottle.from_settings(settings)
        try:
            async with (
                accounts.phone_taken_budget(info.context.sessions, throttle, address),
                info.context.sessions() as session,
                session.begin(),
            ):
                account, token = await accounts.sign_up(
                    session=session,
                    display_name=input.display_name,
                    phone=input.phone,
                    password=input.password,
                    hash_profile=settings.password_hash_profile,
                    ttl_days=settings.token_ttl_days,
                    partner_id=partner.id if partner is not None else None,
                )
        except Problems as failure:
            return AuthPayload(errors=to_errors(AccountError, failure.problems))
        # A partner app acts for the person with its key and `Aidmap-Act-As: <account id>`, within its
        # scopes; handing it a bearer token as well would let it step outside them.
        own = partner is None  # the caller holds the new token: the account is theirs to see whole
        return AuthPayload(token=token if own else None, account=Account.from_model(account, own=own), errors=[])

    @strawberry.mutation(description="Sign in with phone and password; returns a fresh bearer token.")
    async def sign_in(self, info: Info[Context, None], input: SignInInput) -> AuthPayload:
        settings = info.context.settings
        if info.context.partner is not None:
            # A token would outlive the key and ignore its scopes (signUp withholds it for the same
            # reason); checking the password at all would make the key a guessing oracle.
            problem = Problem(None, PARTNER_SIGN_IN, Code.FORBIDDEN)
            return AuthPayload(errors=to_errors(AccountError, [problem]))
        try:
            account, token = await accounts.sign_in(
                sessions=info.context.sessions,
                phone=input.phone,
                password=input.password,
                hash_profile=settings.password_hash_profile,
                ttl_days=settings.token_ttl_days,
                throttle=accounts.SignInThrottle.from_settings(settings),
                address=info.context.client_address(),
                device=info.context.viewer,
                device_token=info.context.bearer_token(),
            )
        except Problems as failure:
            return AuthPayload(errors=to_errors(AccountError, failure.problems))
        return AuthPayload(token=token, account=Account.from_model(account, own=True), errors=[])

    @strawberry.mutation(
        description="End this session: the bearer token of this request stops working, over HTTP at once and on "
        "open websockets within a few seconds (closed with 4403)."
    )
    async def sign_out(self, info: Info[Context, None]) -> SignOutPayload:
        own = _own_session(info.context)
        if isinstance(own, list):
            return SignOutPayload(revoked_tokens=0, errors=own)
        async with info.context.sessions() as session, session.begin():
            revoked = await accounts.sign_out(session=session, token_hash=own[1])
        await info.context.settle_revocation()
        return SignOutPayload(revoked_tokens=revoked, errors=[])

    @strawberry.mutation(
        description="End every session of this account, this one included (a lost phone, a shared computer)."
    )
    async def sign_out_everywhere(self, info: Info[Context, None]) -> SignOutPayload:
        own = _own_session(info.context)
        if isinstance(own, list):
            return SignOutPayload(revoked_tokens=0, errors=own)
        async with info.context.sessions() as session, session.begin():
            revoked = await accounts.sign_out_everywhere(session=session, account_id=own[0].account_id)
        await info.context.settle_revocation()
        return SignOutPayload(revoked_tokens=revoked, errors=[])

    @strawberry.mutation(
        description="Set a new password (at least 10 characters, not a common one); every other session of the "
        "account ends, this one stays. Wrong current passwords back off like signIn: TOO_MANY_ATTEMPTS."
    )
    async def change_password(self, info: Info[Context, None], input: ChangePasswordInput) -> ChangePasswordPayload:
        own = _own_session(info.context)
        if isinstance(own, list):
            return ChangePasswordPayload(errors=own)
        viewer, token_hash = own
        settings = info.context.settings
        throttle = accounts.SignInThrottle.from_settings(settings)
        try:
            revoked = await accounts.change_password(
                sessions=info.context.sessions,
                account_id=viewer.account_id,
                token_hash=token_hash,
                current_password=input.current_password,
                new_password=input.new_password,
                hash_profile=settings.password_hash_profile,
                throttle=throttle,
            )
        except Problems as failure:
            return ChangePasswordPayload(errors=to_errors(AccountError, failure.problems))
        await info.context.settle_revocation()
        async with info.context.sessions() as session:
            account = await session.get(models.Account, viewer.account_id)
        assert account is not None
        return ChangePasswordPayload(account=Account.from_model(account), revoked_tokens=revoked, errors=[])

    @strawberry.mutation
    async def create_need(self, info: Info[Context, None], input: CreateNeedInput) -> NeedPayload:
        fields = _need_fields(input)
        behalf = (input.on_behalf_of.display_name, input.on_behalf_of.phone) if input.on_behalf_of else None
        ctx = info.context
        policy = needs.IntakePolicy(
            phone_key=ctx.settings.phone_hash_key(),
            require_verification=ctx.settings.require_verification,
            max_open_per_category=ctx.settings.max_open_needs_per_category,
            partner_id=ctx.partner.id if ctx.partner is not None else None,
            filed_for_others_per_day=ctx.settings.filed_for_others_per_day,
        )
        codes: list[str] = []
        if input.attestation is not None and ctx.partner is None:
            return NeedPayload(need=None, errors=to_errors(NeedError, [ATTESTATION_NEEDS_KEY]))

        async def make(session: AsyncSession, viewer: Viewer) -> models.Need:
            need = await needs.create(
                session=session, viewer=viewer, fields=fields, policy=policy, on_behalf_of=behalf,
                attestation=input.attestation,
            )  # fmt: skip
            if behalf is not None:
                codes.append(await claims.issue(session=session, need_id=need.id, key=policy.phone_key))
            return need

        row, errors = await _in_transaction(
            ctx, NeedError, _idempotent(input.idempotency_key, "createNeed", input, models.Need, make)
        )
        payload = await _need_payload(info.context, row, errors)
        payload.claim_code = codes[0] if codes and row is not None else None
        if payload.claim_code is not None and row is not None and row.beneficiary_phone:
            await _text_claim_code(ctx, row.id, row.beneficiary_phone, payload.claim_code)
        return payload

    @strawberry.mutation
    async def update_need(self, info: Info[Context, None], input: UpdateNeedInput) -> NeedPayload:
        fields = _need_fields(input)
        phone_key = info.context.settings.phone_hash_key()
        require_verification = info.context.settings.require_verification
        issuer = attestation_issuer(info.context.settings)

        async def action(session: AsyncSession, viewer: Viewer) -> models.Need:
            need_id = _pk(input.need_id, "Need", "needId")
            return await needs.update(
                session=session, viewer=viewer, need_id=need_id, fields=fields, phone_key=phone_key,
                require_verification=require_verification, issuer=issuer,
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, NeedError, action)
        return await _need_payload(info.context, row, errors)

    @strawberry.mutation(description="Cancel a need; its open pledges are cancelled too.")
    async def cancel_need(self, info: Info[Context, None], input: CancelNeedInput) -> NeedPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Need:
            return await needs.cancel(session=session, viewer=viewer, need_id=_pk(input.need_id, "Need", "needId"))

        row, errors = await _in_transaction(info.context, NeedError, action)
        return await _need_payload(info.context, row, errors)

    @strawberry.mutation(description='Answer "still need help?": move the expiry out; an expired need opens again.')
    async def renew_need(self, info: Info[Context, None], input: RenewNeedInput) -> NeedPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Need:
            need_id = _pk(input.need_id, "Need", "needId")
            return await needs.renew(session=session, viewer=viewer, need_id=need_id, expires_at=input.expires_at)

        row, errors = await _in_transaction(info.context, NeedError, action)
        return await _need_payload(info.context, row, errors)

    @strawberry.mutation
    async def create_offer(self, info: Info[Context, None], input: CreateOfferInput) -> OfferPayload:
        fields = _offer_fields(input)
        limit = info.context.settings.max_open_offers
        make = lambda s, v: offers.create(session=s, viewer=v, fields=fields, max_open=limit)  # noqa: E731
        row, errors = await _in_transaction(
            info.context, OfferError, _idempotent(input.idempotency_key, "createOffer", input, models.Offer, make)
        )
        return _offer_payload(info.context, row, errors)

    @strawberry.mutation
    async def update_offer(self, info: Info[Context, None], input: UpdateOfferInput) -> OfferPayload:
        fields = _offer_fields(input)

        async def action(session: AsyncSession, viewer: Viewer) -> models.Offer:
            offer_id = _pk(input.offer_id, "Offer", "offerId")
            return await offers.update(session=session, viewer=viewer, offer_id=offer_id, fields=fields)

        row, errors = await _in_transaction(info.context, OfferError, action)
        return _offer_payload(info.context, row, errors)

    @strawberry.mutation
    async def withdraw_offer(self, info: Info[Context, None], input: WithdrawOfferInput) -> OfferPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Offer:
            return await offers.withdraw(
                session=session, viewer=viewer, offer_id=_pk(input.offer_id, "Offer", "offerId")
            )

        row, errors = await _in_transaction(info.context, OfferError, action)
        return _offer_payload(info.context, row, errors)

    @strawberry.mutation(description="Commit a quantity to a need, optionally from one of your offers.")
    async def pledge(self, info: Info[Context, None], input: PledgeInput) -> PledgePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Pledge:
            need_id = _pk(input.need_id, "Need", "needId")
            offer_id = _pk(input.offer_id, "Offer", "offerId") if input.offer_id is not None else None
            point_id = (
                _pk(input.collection_point_id, "CollectionPoint", "collectionPointId")
                if input.collection_point_id is not None
                else None
            )
            return await pledges.create(
                session=session,
                viewer=viewer,
                need_id=need_id,
                quantity=input.quantity,
                offer_id=offer_id,
                max_active=info.context.settings.max_active_pledges,
                disclosure_limit=info.context.settings.disclosure_limit_per_day,
                accept_at_once=info.context.settings.disclose_on == "pledge",
                collection_point_id=point_id,
            )

        row, errors = await _in_transaction(
            info.context, PledgeError, _idempotent(input.idempotency_key, "pledge", input, models.Pledge, action)
        )
        return _pledge_payload(row, errors)

    @strawberry.mutation(
        description="Accept a matching round's proposal: a pledge from the offer to the need, with every rule of "
        "`pledge` (quotas, the disclosure limit, what is still open)."
    )
    async def accept_proposal(self, info: Info[Context, None], input: ProposalInput) -> ProposalPayload:
        settings = info.context.settings

        async def action(session: AsyncSession, viewer: Viewer) -> tuple[models.MatchProposal, models.Pledge]:
            return await proposals.accept(
                session=session, viewer=viewer, proposal_id=_pk(input.proposal_id, "MatchProposal", "proposalId"),
                max_active=settings.max_active_pledges, disclosure_limit=settings.disclosure_limit_per_day,
                accept_at_once=settings.disclose_on == "pledge",
            )  # fmt: skip

        result, errors = await _in_transaction(info.context, PledgeError, action)
        if result is None:
            return ProposalPayload(errors=errors)
        return ProposalPayload(
            proposal=MatchProposal.from_model(result[0]), pledge=Pledge.from_model(result[1]), errors=[]
        )

    @strawberry.mutation(description="Decline a matching round's proposal (it is not proposed again).")
    async def decline_proposal(self, info: Info[Context, None], input: ProposalInput) -> ProposalPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.MatchProposal:
            return await proposals.decline(
                session=session, viewer=viewer, proposal_id=_pk(input.proposal_id, "MatchProposal", "proposalId")
            )

        row, errors = await _in_transaction(info.context, PledgeError, action)
        return ProposalPayload(proposal=MatchProposal.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(description="Either side cancels a pledge before delivery.")
    async def cancel_pledge(self, info: Info[Context, None], input: CancelPledgeInput) -> PledgePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Pledge:
            return await pledges.cancel(
                session=session, viewer=viewer, pledge_id=_pk(input.pledge_id, "Pledge", "pledgeId")
            )

        row, errors = await _in_transaction(info.context, PledgeError, action)
        return _pledge_payload(row, errors)

    @strawberry.mutation(description="The requester confirms that a pledge was delivered.")
    async def confirm_delivery(self, info: Info[Context, None], input: ConfirmDeliveryInput) -> PledgePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Pledge:
            pledge_id = _pk(input.pledge_id, "Pledge", "pledgeId")
            return await pledges.confirm_delivery(session=session, viewer=viewer, pledge_id=pledge_id)

        row, errors = await _in_transaction(info.context, PledgeError, action)
        return _pledge_payload(row, errors)

    @strawberry.mutation(
        description="The donor says they delivered a pledge: the requester (or whoever filed the need for them) "
        "is told and asked to confirm with confirmDelivery. The pledge stays PLEDGED until then."
    )
    async def mark_delivered(self, info: Info[Context, None], input: MarkDeliveredInput) -> PledgePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Pledge:
            pledge_id = _pk(input.pledge_id, "Pledge", "pledgeId")
            return await pledges.mark_delivered(session=session, viewer=viewer, pledge_id=pledge_id)

        row, errors = await _in_transaction(info.context, PledgeError, action)
        return _pledge_payload(row, errors)

    @strawberry.mutation(
        description="The requester, or whoever filed the need, accepts a pledge: only then does its donor see "
        "the need's exact location and phone (when the server runs with AIDMAP_DISCLOSE_ON=accept)."
    )
    async def accept_pledge(self, info: Info[Context, None], input: AcceptPledgeInput) -> PledgePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Pledge:
            pledge_id = _pk(input.pledge_id, "Pledge", "pledgeId")
            return await pledges.accept(session=session, viewer=viewer, pledge_id=pledge_id)

        row, errors = await _in_transaction(info.context, PledgeError, action)
        return _pledge_payload(row, errors)

    @strawberry.mutation(description="Write to the other party of a pledge (requester <-> donor).")
    async def send_message(self, info: Info[Context, None], input: SendMessageInput) -> MessagePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Message:
            pledge_id = _pk(input.pledge_id, "Pledge", "pledgeId")
            return await messages.send(session=session, viewer=viewer, pledge_id=pledge_id, body=input.body)

        row, errors = await _in_transaction(
            info.context, MessageError, _idempotent(input.idempotency_key, "sendMessage", input, models.Message, action)
        )
        return MessagePayload(message=Message.from_model(row, info.context) if row else None, errors=errors)

    @strawberry.mutation(description="Be (or stop being) one of the donors asked for instant help nearby.")
    async def set_availability(self, info: Info[Context, None], input: SetAvailabilityInput) -> AvailabilityPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.DonorAvailability:
            return await help_requests.set_availability(
                session=session,
                viewer=viewer,
                available=input.available,
                categories=[models.NeedCategory(c) for c in input.categories or ()],
                lat=input.near.lat if input.near else None,
                lon=input.near.lon if input.near else None,
                radius_m=input.radius_meters,
            )

        row, errors = await _in_transaction(info.context, HelpError, action)
        return AvailabilityPayload(availability=Availability.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(description="Ask the 3 nearest available donors now; the next 3 if nobody accepts in time.")
    async def request_help_now(self, info: Info[Context, None], input: RequestHelpNowInput) -> HelpRequestPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.HelpRequest:
            return await help_requests.request_help(
                session=session, viewer=viewer, need_id=_pk(input.need_id, "Need", "needId"),
                max_reach_m=max_reach_m(info.context.settings),
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, HelpError, action)
        return HelpRequestPayload(help_request=HelpRequest.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Accept an instant-help request you were asked; the first to accept gets a pledge."
    )
    async def accept_help_request(self, info: Info[Context, None], input: AcceptHelpRequestInput) -> HelpRequestPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> tuple[models.HelpRequest, models.Pledge]:
            request_id = _pk(input.help_request_id, "HelpRequest", "helpRequestId")
            settings = info.context.settings
            return await help_requests.accept(
                session=session, viewer=viewer, help_request_id=request_id,
                max_active=settings.max_active_pledges, disclosure_limit=settings.disclosure_limit_per_day,
            )  # fmt: skip

        result, errors = await _in_transaction(info.context, HelpError, action)
        if result is None:
            return HelpRequestPayload(errors=errors)
        return HelpRequestPayload(
            help_request=HelpRequest.from_model(result[0]), pledge=Pledge.from_model(result[1]), errors=[]
        )

    @strawberry.mutation(description="Admins only: give an account a role (a verifier with its areas).")
    async def grant_role(self, info: Info[Context, None], input: GrantRoleInput) -> RolePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Account:
            account_id = _pk(input.account_id, "Account", "accountId")
            return await roles.grant(
                session=session, viewer=viewer, account_id=account_id, role=models.Role(input.role),
                area_codes=input.area_codes or [],
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, RoleError, action)
        if row is not None:
            await info.context.settle_revocation()  # a role or a ward may have been taken away
        return RolePayload(account=Account.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Admins only: open a collection point (a ward office, a charity's depot) run by an account, "
        "its manager: donors within their travel radius of it pledge through it, and its couriers carry up to "
        "unitsPerDay units a day to needs up to reachMeters away. Matching rounds propose through it too."
    )
    async def create_collection_point(
        self, info: Info[Context, None], input: CreateCollectionPointInput
    ) -> CollectionPointPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.CollectionPoint:
            return await collection_points.create(
                session=session, viewer=viewer, name=input.name, address=input.address, lat=input.location.lat,
                lon=input.location.lon, reach_meters=input.reach_meters, units_per_day=input.units_per_day,
                manager_id=_pk(input.manager_id, "Account", "managerId"),
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, CollectionPointError, action)
        return CollectionPointPayload(
            collection_point=CollectionPoint.from_model(row, units_left=row.units_per_day) if row else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Admins only: change a collection point (its name, address, reach, units a day, manager), or "
        "close it (`open: false`) to new relays. A new manager takes over the relays on their way, and the old one "
        "no longer sees their needs."
    )
    async def update_collection_point(
        self, info: Info[Context, None], input: UpdateCollectionPointInput
    ) -> CollectionPointPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.CollectionPoint:
            return await collection_points.update(
                session=session, viewer=viewer,
                point_id=_pk(input.collection_point_id, "CollectionPoint", "collectionPointId"),
                name=input.name, address=input.address, reach_meters=input.reach_meters,
                units_per_day=input.units_per_day, active=input.open,
                manager_id=_pk(input.manager_id, "Account", "managerId") if input.manager_id is not None else None,
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, CollectionPointError, action)
        return CollectionPointPayload(collection_point=CollectionPoint.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(description="Admins only: take a role away (a verifier loses its areas).")
    async def revoke_role(self, info: Info[Context, None], input: RevokeRoleInput) -> RolePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Account:
            account_id = _pk(input.account_id, "Account", "accountId")
            return await roles.revoke(
                session=session, viewer=viewer, account_id=account_id, role=models.Role(input.role)
            )

        row, errors = await _in_transaction(info.context, RoleError, action)
        if row is not None:
            await info.context.settle_revocation()  # a role or a ward may have been taken away
        return RolePayload(account=Account.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Take over a need someone filed for you: your account's phone must match, and `code` is the "
        "one-time claim code they were given when filing. Every refusal (no such need for your phone, a wrong, "
        "expired or locked code) answers CLAIM_CODE_WRONG; 5 failed claims make the account wait 15 minutes "
        "(TOO_MANY_ATTEMPTS)."
    )
    async def claim_need(self, info: Info[Context, None], input: ClaimNeedInput) -> NeedPayload:
        code_key = info.context.settings.phone_hash_key()
        throttle = accounts.SignInThrottle.from_settings(info.context.settings)
        address = info.context.client_address()

        async def action(session: AsyncSession, viewer: Viewer) -> models.Need:
            need_id = _claimed_need(input.need_id)
            account = await session.get(models.Account, viewer.account_id)
            assert account is not None
            keys = claims.attempt_keys(throttle, account_id=viewer.account_id, address=address)
            return await needs.claim(
                session=session, viewer=viewer, need_id=need_id, phone=account.phone, code=input.code,
                code_key=code_key, attempt_keys=keys,
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, NeedError, action)
        return await _need_payload(info.context, row, errors)

    @strawberry.mutation(
        description="Whoever filed a need for someone: a new one-time claim code (the earlier one stops working)."
    )
    async def issue_claim_code(self, info: Info[Context, None], input: IssueClaimCodeInput) -> ClaimCodePayload:
        code_key = info.context.settings.phone_hash_key()

        async def action(session: AsyncSession, viewer: Viewer) -> tuple[str, int, str]:
            need_id = _pk(input.need_id, "Need", "needId")
            code = await needs.new_claim_code(session=session, viewer=viewer, need_id=need_id, code_key=code_key)
            need = await session.get(models.Need, need_id)  # loaded (and locked) by new_claim_code
            assert need is not None and need.beneficiary_phone is not None
            return code, need_id, need.beneficiary_phone

        issued, errors = await _in_transaction(info.context, NeedError, action)
        if issued is None:
            return ClaimCodePayload(claim_code=None, errors=errors)
        code, need_id, phone = issued
        await _text_claim_code(info.context, need_id, phone, code)
        return ClaimCodePayload(claim_code=code, errors=errors)

    @strawberry.mutation(description="Verifiers of the need's ward and admins: make a pending or reported need public.")
    async def verify_need(self, info: Info[Context, None], input: VerifyNeedInput) -> NeedPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Need:
            return await verification.verify(
                session=session, viewer=viewer, need_id=_pk(input.need_id, "Need", "needId"),
                issuer=attestation_issuer(info.context.settings),
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, NeedError, action)
        return await _need_payload(info.context, row, errors)

    @strawberry.mutation(
        description="Verifiers of the need's ward and admins: reject it, with a reason for the requester."
    )
    async def reject_need(self, info: Info[Context, None], input: RejectNeedInput) -> NeedPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> models.Need:
            need_id = _pk(input.need_id, "Need", "needId")
            return await verification.reject(session=session, viewer=viewer, need_id=need_id, reason=input.reason)

        row, errors = await _in_transaction(info.context, NeedError, action)
        return await _need_payload(info.context, row, errors)

    @strawberry.mutation(
        description="Report an abusive or false need; reports from 3 trusted accounts (older than a day, with a "
        "delivery confirmed by a requester older than a day or on a verified need; weighed when filed), or one "
        "from a verifier of its ward, hide it for review."
    )
    async def report_need(self, info: Info[Context, None], input: ReportNeedInput) -> ReportPayload:
        hide_at, trust_hours = info.context.settings.reports_to_hide, info.context.settings.reporter_trust_hours

        async def action(session: AsyncSession, viewer: Viewer) -> models.Need:
            need_id = _pk(input.need_id, "Need", "needId")
            return await verification.report(
                session=session, viewer=viewer, need_id=need_id, reason=input.reason, hide_at=hide_at,
                trust_hours=trust_hours,
            )  # fmt: skip

        row, errors = await _in_transaction(info.context, NeedError, action)
        return ReportPayload(reported=row is not None, errors=errors)
