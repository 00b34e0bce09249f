"""Notification fields: what I was told outside the socket (`myNotifications`), how I want to be told
(`myNotificationSettings`, `setNotificationSettings`) and this browser's Web Push subscription."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import strawberry
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from strawberry.types import Info

from aidmap import models
from aidmap.i18n import msg
from aidmap.notify import dispatch
from aidmap.notify.push import endpoint_problem, key_problem, public_key_of
from aidmap.notify.texts import language_for_phone
from aidmap.problems import SESSION_EXPIRED, UNAUTHENTICATED, Code, Problem, UserInputError
from aidmap.schema.context import Context
from aidmap.schema.errors import NotificationError, to_errors
from aidmap.schema.ids import to_global_id
from aidmap.settings import minutes_of

NotificationKind = strawberry.enum(models.NotificationKind, description="What a notification is about.")
NotificationChannel = strawberry.enum(models.Channel, name="NotificationChannel")
NotificationStatus = strawberry.enum(models.NotificationStatus, name="NotificationStatus")
MAX_PAGE = 100


@strawberry.type(description="One message sent (or waiting, or held back) outside the socket.")
class Notification:
    id: strawberry.ID
    kind: NotificationKind  # type: ignore[valid-type]
    channel: NotificationChannel  # type: ignore[valid-type]
    status: NotificationStatus  # type: ignore[valid-type]
    title: str
    body: str = strawberry.field(description="The text as sent (an SMS carries the link too).")
    url: str
    attempts: int
    reason: str | None = strawberry.field(description="Why it waits, was skipped or failed.")
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


@strawberry.type
class NotificationSettings:
    language: str = strawberry.field(description="vi or en.")
    time_zone: str
    quiet_hours_start: str = strawberry.field(description="HH:MM local; equal to the end: no quiet hours.")
    quiet_hours_end: str
    sms_kinds: list[NotificationKind]  # type: ignore[valid-type]
    push_kinds: list[NotificationKind]  # type: ignore[valid-type]
    push_subscriptions: int


@strawberry.input
class NotificationSettingsInput:
    language: str | None = None
    time_zone: str | None = None
    quiet_hours_start: str | None = None
    quiet_hours_end: str | None = None
    sms_kinds: list[NotificationKind] | None = None  # type: ignore[valid-type]
    push_kinds: list[NotificationKind] | None = None  # type: ignore[valid-type]


@strawberry.type
class NotificationSettingsPayload:
    settings: NotificationSettings | None
    errors: list[NotificationError]


@strawberry.input
class PushSubscriptionInput:
    endpoint: str
    p256dh: str = strawberry.field(description="keys.p256dh of the browser's PushSubscription (base64url).")
    auth: str = strawberry.field(description="keys.auth of the browser's PushSubscription (base64url).")


@strawberry.input
class PushUnsubscribeInput:
    endpoint: str


@strawberry.type
class PushSubscriptionPayload:
    subscribed: bool
    errors: list[NotificationError]


def _minutes(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _parse_minutes(value: str) -> int | None:
    return minutes_of(value)


def _kinds(values: list[object] | None) -> list[str] | None:
    if values is None:
        return None
    return sorted({v.value if isinstance(v, Enum) else str(v) for v in values})  # type: ignore[attr-defined]


def _viewer_or_errors(ctx: Context) -> list[NotificationError] | None:
    if ctx.viewer is None:
        return to_errors(NotificationError, [SESSION_EXPIRED if ctx.token_rejected else UNAUTHENTICATED])
    return None


async def _settings(ctx: Context, account_id: int) -> NotificationSettings:
    async with ctx.reads() as session:
        pref = await session.get(models.NotificationPreference, account_id)
        phone = (await session.execute(select(models.Account.phone).where(models.Account.id == account_id))).scalar()
        subscriptions = len(
            (
                await session.execute(
                    select(models.PushSubscription.id).where(models.PushSubscription.account_id == account_id)
                )
            ).all()
        )
        beneficiary = (
            await session.execute(
                select(models.Need.id)
                .where(models.Need.owner_id == account_id, models.Need.beneficiary_phone.is_not(None))
                .limit(1)
            )
        ).first() is not None
    policy = dispatch.policy_for(ctx.settings)
    sms = (
        pref.sms_kinds
        if pref is not None and pref.sms_kinds is not None
        else (dispatch.ALL_KINDS if beneficiary else [])
    )
    push = pref.push_kinds if pref is not None and pref.push_kinds is not None else dispatch.ALL_KINDS
    return NotificationSettings(
        language=(pref.language if pref is not None else None) or language_for_phone(phone),
        time_zone=(pref.time_zone if pref is not None else None) or policy.time_zone,
        quiet_hours_start=_minutes(_or(pref.quiet_start if pref is not None else None, policy.quiet[0])),
        quiet_hours_end=_minutes(_or(pref.quiet_end if pref is not None else None, policy.quiet[1])),
        sms_kinds=[NotificationKind(k) for k in sms],  # type: ignore[misc]
        push_kinds=[NotificationKind(k) for k in push],  # type: ignore[misc]
        push_subscriptions=subscriptions,
    )


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="What I was told outside the socket (SMS, Web Push), newest first.")
    async def my_notifications(self, info: Info[Context, None], first: int = 20) -> list[Notification]:
        ctx = info.context
        if ctx.viewer is None:
            raise UserInputError("authorization", msg("Sign in to see this."), Code.UNAUTHENTICATED)
        if not 1 <= first <= MAX_PAGE:
            raise UserInputError(
                "first", msg("{field} must be between 1 and {n}.", field="first", n=MAX_PAGE), Code.OUT_OF_RANGE
            )
        async with ctx.reads() as session:
            rows = await session.execute(
                select(models.Notification)
                .where(models.Notification.account_id == ctx.viewer.account_id)
                .order_by(models.Notification.created_at.desc(), models.Notification.id.desc())
                .limit(first)
            )
            return [
                Notification(
                    id=strawberry.ID(to_global_id("Notification", n.id)),
                    kind=NotificationKind(n.kind),
                    channel=NotificationChannel(n.channel),  # type: ignore[misc]
                    status=NotificationStatus(n.status),
                    title=n.title,
                    body=n.body,
                    url=n.url,  # type: ignore[misc]
                    attempts=n.attempts,
                    reason=n.reason,
                    created_at=n.created_at,
                    next_attempt_at=n.next_attempt_at if n.status == "PENDING" else None,
                    sent_at=n.sent_at,
                )  # fmt: skip
                for n in rows.scalars()
            ]

    @strawberry.field(description="How I am told: language, time zone, quiet hours, the kinds on each channel.")
    async def my_notification_settings(self, info: Info[Context, None]) -> NotificationSettings:
        ctx = info.context
        if ctx.viewer is None:
            raise UserInputError("authorization", msg("Sign in to see this."), Code.UNAUTHENTICATED)
        return await _settings(ctx, ctx.viewer.account_id)

    @strawberry.field(description="The VAPID public key for PushManager.subscribe (null: Web Push is off).")
    def push_public_key(self, info: Info[Context, None]) -> str | None:
        key = info.context.settings.vapid_private_key
        return public_key_of(key) if key else None


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="Choose how I am told; fields left out keep their value.")
    async def set_notification_settings(
        self, info: Info[Context, None], input: NotificationSettingsInput
    ) -> NotificationSettingsPayload:
        ctx = info.context
        refused = _viewer_or_errors(ctx)
        if refused is not None:
            return NotificationSettingsPayload(settings=None, errors=refused)
        assert ctx.viewer is not None
        problems: list[Problem] = []
        values: dict[str, object] = {}
        if input.language is not None:
            if input.language not in ("vi", "en"):
                problems.append(Problem("language", msg("Choose vi or en."), Code.INVALID))
            values["language"] = input.language
        if input.time_zone is not None:
            try:
                valid = input.time_zone in available_timezones() and ZoneInfo(input.time_zone) is not None
            except (ZoneInfoNotFoundError, ValueError):
                valid = False
            if not valid:
                problems.append(
                    Problem("timeZone", msg("Give an IANA time zone, such as Asia/Ho_Chi_Minh."), Code.INVALID)
                )
            values["time_zone"] = input.time_zone
        for name, column, given in (
            ("quietHoursStart", "quiet_start", input.quiet_hours_start),
            ("quietHoursEnd", "quiet_end", input.quiet_hours_end),
        ):
            if given is not None:
                minutes = _parse_minutes(given)
                if minutes is None:
                    problems.append(Problem(name, msg("Give a local time as HH:MM, such as 22:00."), Code.INVALID))
                values[column] = minutes
        if input.sms_kinds is not None:
            values["sms_kinds"] = _kinds(input.sms_kinds)  # type: ignore[arg-type]
        if input.push_kinds is not None:
            values["push_kinds"] = _kinds(input.push_kinds)  # type: ignore[arg-type]
        if problems:
            return NotificationSettingsPayload(settings=None, errors=to_errors(NotificationError, problems))
        if values:
            async with ctx.sessions() as session, session.begin():
                statement = insert(models.NotificationPreference).values(account_id=ctx.viewer.account_id, **values)
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["account_id"], set_={**values, "updated_at": datetime.now().astimezone()}
                    )
                )
        return NotificationSettingsPayload(settings=await _settings(ctx, ctx.viewer.account_id), errors=[])

    @strawberry.mutation(description="Receive Web Push in this browser (its PushSubscription, after the person asked).")
    async def subscribe_push(self, info: Info[Context, None], input: PushSubscriptionInput) -> PushSubscriptionPayload:
        ctx = info.context
        refused = _viewer_or_errors(ctx)
        if refused is not None:
            return PushSubscriptionPayload(subscribed=False, errors=refused)
        assert ctx.viewer is not None
        problems = []
        if not ctx.settings.vapid_private_key:
            problems.append(Problem(None, msg("Web Push is not configured on this server."), Code.INVALID_STATE))
        reason = endpoint_problem(input.endpoint, allow_private=ctx.settings.push_allow_private)
        if reason is not None:
            problems.append(Problem("endpoint", reason, Code.INVALID))
        reason = key_problem(input.p256dh, input.auth)
        if reason is not None:
            problems.append(Problem("p256dh", reason, Code.INVALID))
        if problems:
            return PushSubscriptionPayload(subscribed=False, errors=to_errors(NotificationError, problems))
        account_id = ctx.viewer.account_id
        async with ctx.sessions() as session, session.begin():
            # The account's row lock serialises its subscribes, so racing ones never pass the cap.
            await session.execute(select(models.Account.id).where(models.Account.id == account_id).with_for_update())
            statement = insert(models.PushSubscription).values(
                account_id=account_id, endpoint=input.endpoint, p256dh=input.p256dh, auth=input.auth
            )
            # A browser that subscribes again (or under another account) replaces its row, as the newest.
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["endpoint"],
                    set_={"account_id": account_id, "p256dh": input.p256dh, "auth": input.auth,
                          "created_at": func.now()},
                )
            )  # fmt: skip
            # At most max_push_subscriptions per account: each one is a push (and an HTTP call) per event.
            kept = (
                select(models.PushSubscription.id)
                .where(models.PushSubscription.account_id == account_id)
                .order_by(models.PushSubscription.created_at.desc(), models.PushSubscription.id.desc())
                .limit(max(1, ctx.settings.max_push_subscriptions))
            )
            await session.execute(
                delete(models.PushSubscription).where(
                    models.PushSubscription.account_id == account_id, models.PushSubscription.id.not_in(kept)
                )
            )
        return PushSubscriptionPayload(subscribed=True, errors=[])

    @strawberry.mutation(description="Stop Web Push in this browser.")
    async def unsubscribe_push(self, info: Info[Context, None], input: PushUnsubscribeInput) -> PushSubscriptionPayload:
        ctx = info.context
        refused = _viewer_or_errors(ctx)
        if refused is not None:
            return PushSubscriptionPayload(subscribed=False, errors=refused)
        assert ctx.viewer is not None
        if endpoint_problem(input.endpoint, allow_private=True) is not None:
            problem = Problem("endpoint", msg("No push subscription of yours has this endpoint."), Code.NOT_FOUND)
            return PushSubscriptionPayload(subscribed=False, errors=to_errors(NotificationError, [problem]))
        async with ctx.sessions() as session, session.begin():
            await session.execute(
                delete(models.PushSubscription).where(
                    models.PushSubscription.endpoint == input.endpoint,
                    models.PushSubscription.account_id == ctx.viewer.account_id,
                )
            )
        return PushSubscriptionPayload(subscribed=False, errors=[])
