"""Webhook fields: partner apps register endpoints and read their deliveries (scope `webhooks`)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from aidmap import models
from aidmap.i18n import msg
from aidmap.jobs.webhooks import delivery_policy
from aidmap.problems import Code, Problem, Problems, UserInputError
from aidmap.resolvers import webhooks
from aidmap.schema.context import Context
from aidmap.schema.errors import NeedErrorCode, WebhookError, to_errors
from aidmap.schema.ids import pk_of, to_global_id
from aidmap.schema.inputs import GeoPointInput

WebhookEvent = strawberry.enum(
    Enum("WebhookEvent", {k.value: k.value for k in webhooks.WEBHOOK_EVENTS}),  # type: ignore[misc]
    description="Outbox events an endpoint can receive.",
)
DeliveryStatus = strawberry.enum(models.DeliveryStatus, name="WebhookDeliveryStatus")


@strawberry.type(description="A partner's endpoint. `secret` signs deliveries and is shown only at creation.")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[WebhookEvent]  # type: ignore[valid-type]
    radius_meters: float | None
    area_codes: list[str]
    created_at: datetime
    secret: str | None = None

    @classmethod
    def from_model(cls, hook: models.Webhook, *, with_secret: bool = False) -> Webhook:
        return cls(
            id=strawberry.ID(to_global_id("Webhook", hook.id)),
            url=hook.url,
            events=[WebhookEvent(e) for e in hook.events],  # type: ignore[misc]
            radius_meters=hook.radius_meters,
            area_codes=list(hook.area_codes),
            created_at=hook.created_at,
            secret=hook.secret if with_secret else None,
        )


@strawberry.type(description="One event sent (or being sent) to an endpoint.")
class WebhookDelivery:
    event_id: str
    status: DeliveryStatus  # type: ignore[valid-type]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


@strawberry.input
class CreateWebhookInput:
    url: str
    events: list[WebhookEvent]  # type: ignore[valid-type]
    near: GeoPointInput | None = None
    radius_meters: float | None = None
    area_codes: list[str] | None = None


@strawberry.type
class WebhookPayload:
    webhook: Webhook | None
    errors: list[WebhookError]


def _partner_id(ctx: Context) -> int | None:
    return ctx.partner.id if ctx.partner is not None and ctx.viewer is None else None


NOT_A_PARTNER = Problem(
    None, msg("Webhooks belong to partner apps: send the partner key, acting for nobody."), Code.FORBIDDEN
)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Partner apps: receive outbox events at a URL (at least once, in order, signed).")
    async def create_webhook(self, info: Info[Context, None], input: CreateWebhookInput) -> WebhookPayload:
        ctx = info.context
        partner_id = _partner_id(ctx)
        if partner_id is None:
            return WebhookPayload(webhook=None, errors=to_errors(WebhookError, [NOT_A_PARTNER]))
        try:
            async with ctx.sessions() as session, session.begin():
                hook = await webhooks.create(
                    session=session,
                    partner_id=partner_id,
                    url=input.url,
                    events=[models.EventKind(e.value if isinstance(e, Enum) else e) for e in input.events],
                    near=(input.near.lat, input.near.lon) if input.near is not None else None,
                    radius_m=input.radius_meters,
                    area_codes=input.area_codes or [],
                    policy=delivery_policy(ctx.settings),
                )
        except Problems as failure:
            return WebhookPayload(webhook=None, errors=to_errors(WebhookError, failure.problems))
        return WebhookPayload(webhook=Webhook.from_model(hook, with_secret=True), errors=[])

    @strawberry.mutation(description="Partner apps: stop an endpoint (its queued deliveries are dropped).")
    async def delete_webhook(self, info: Info[Context, None], webhook_id: strawberry.ID) -> WebhookPayload:
        ctx = info.context
        partner_id, pk = _partner_id(ctx), pk_of(webhook_id, "Webhook", "webhookId")
        if partner_id is None:
            return WebhookPayload(webhook=None, errors=to_errors(WebhookError, [NOT_A_PARTNER]))
        async with ctx.sessions() as session, session.begin():
            hook = await session.get(models.Webhook, pk) if pk is not None else None
            if hook is None or hook.partner_id != partner_id or hook.deleted_at is not None:
                problem = Problem("webhookId", msg("No webhook of yours has this id."), Code.NOT_FOUND)
                return WebhookPayload(webhook=None, errors=to_errors(WebhookError, [problem]))
            hook.deleted_at = datetime.now().astimezone()
            await session.execute(
                models.WebhookDelivery.__table__.delete().where(
                    models.WebhookDelivery.webhook_id == hook.id, models.WebhookDelivery.status == "PENDING"
                )
            )
        return WebhookPayload(webhook=Webhook.from_model(hook), errors=[])


ImportFormat = strawberry.enum(Enum("ImportFormat", {"CSV": "csv", "GEOJSON": "geojson"}))  # type: ignore[misc]
MAX_IMPORT_CHARS = 5_000_000
_NEED_CODES = {member.value: member for member in NeedErrorCode}  # type: ignore[attr-defined]


@strawberry.input
class ImportNeedsInput:
    format: ImportFormat  # type: ignore[valid-type]
    content: str = strawberry.field(
        description="The file's text (CSV with a header row, or a GeoJSON FeatureCollection)."
    )


@strawberry.type
class ImportFailure:
    line: int
    field: str | None
    message: str
    code: NeedErrorCode | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Why the row failed, as createNeed would say (ATTESTATION_INVALID, ...)."
    )


@strawberry.type
class ImportReport:
    imported: int
    skipped: int = strawberry.field(description="Rows whose external_id this operator had already imported.")
    failed: list[ImportFailure]
    errors: list[WebhookError]


@strawberry.type
class ImportMutation:
    @strawberry.mutation(description="Operators (or a partner acting for one, scope import): bulk-import needs.")
    async def import_needs(self, info: Info[Context, None], input: ImportNeedsInput) -> ImportReport:
        from aidmap.resolvers import imports
        from aidmap.resolvers.needs import IntakePolicy

        ctx = info.context

        def refused(problem: Problem) -> ImportReport:
            return ImportReport(imported=0, skipped=0, failed=[], errors=to_errors(WebhookError, [problem]))

        viewer = ctx.viewer
        if viewer is None:
            return refused(Problem(None, msg("Sign in to do this."), Code.UNAUTHENTICATED))
        if not ({"OPERATOR", "ADMIN"} & set(viewer.roles)):
            return refused(Problem(None, msg("Only operators and admins import needs."), Code.FORBIDDEN))
        if len(input.content) > MAX_IMPORT_CHARS:
            return refused(
                Problem(
                    "content",
                    msg("{field} must be at most {n} characters.", field="content", n=MAX_IMPORT_CHARS),
                    Code.TOO_LONG,
                )
            )
        fmt = input.format.value if isinstance(input.format, Enum) else str(input.format)
        try:
            rows = imports.parse(input.content, fmt)
        except imports.ImportFileError as error:
            return refused(Problem("content", str(error), Code.INVALID))
        policy = IntakePolicy(
            phone_key=ctx.settings.phone_hash_key(),
            require_verification=ctx.settings.require_verification,
            max_open_per_category=imports.MAX_ROWS,
            partner_id=ctx.partner.id if ctx.partner is not None else None,
        )
        report = await imports.import_rows(sessions=ctx.sessions, viewer=viewer, rows=rows, policy=policy)
        return ImportReport(
            imported=report.imported,
            skipped=report.skipped,
            failed=[
                ImportFailure(line=f.line, field=f.field, message=f.message, code=_NEED_CODES.get(f.code or ""))
                for f in report.failed
            ],
            errors=[],
        )


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Partner apps: my webhooks.")
    async def webhooks(self, info: Info[Context, None]) -> list[Webhook]:
        partner_id = _partner_id(info.context)
        if partner_id is None:
            raise UserInputError("authorization", NOT_A_PARTNER.message, Code.FORBIDDEN)
        async with info.context.reads() as session:
            rows = await session.execute(
                select(models.Webhook)
                .where(models.Webhook.partner_id == partner_id, models.Webhook.deleted_at.is_(None))
                .order_by(models.Webhook.id)
            )
            return [Webhook.from_model(h) for h in rows.scalars()]

    @strawberry.field(description="Partner apps: an endpoint's deliveries, newest first (failed ones included).")
    async def webhook_deliveries(
        self,
        info: Info[Context, None],
        webhook_id: strawberry.ID,
        status: DeliveryStatus | None = None,  # type: ignore[valid-type]
        first: int = 50,
    ) -> list[WebhookDelivery]:
        partner_id, pk = _partner_id(info.context), pk_of(webhook_id, "Webhook", "webhookId")
        if partner_id is None:
            raise UserInputError("authorization", NOT_A_PARTNER.message, Code.FORBIDDEN)
        async with info.context.reads() as session:
            rows = await webhooks.deliveries(
                session=session,
                partner_id=partner_id,
                webhook_id=pk or 0,
                status=models.DeliveryStatus(status) if status is not None else None,
                first=first,
            )
        if rows is None:
            raise UserInputError("webhookId", msg("No webhook of yours has this id."), Code.NOT_FOUND)
        return [
            WebhookDelivery(
                event_id=f"evt_{d.event_seq}",
                status=models.DeliveryStatus(d.status),
                attempts=d.attempts,
                last_status_code=d.last_status_code,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at,
                created_at=d.created_at,
                delivered_at=d.delivered_at,
            )  # fmt: skip
            for d in rows
        ]
