"""Who is told what, outside the open socket: outbox events become notifications (SMS, Web Push),
delivered like webhooks: at least once, in order per person and channel, never twice for the same
event, person and channel (a unique index), one process per lane at a time under a lease, and no
transaction open across a gateway's or push service's HTTP call.

Two steps, in every process (`notify_job`):

1. `queue_new_events`: one process at a time (the cursor row, FOR UPDATE SKIP LOCKED) reads the outbox
   past its cursor and writes a PENDING row per person, channel (and browser) that should hear of each
   event, with its text rendered in the person's language. A chat message is not queued for a person
   who has a websocket open: the socket has told them already (`live_sockets`).
2. `deliver_lane`: a lane (a person's SMS, or their pushes; instant help for urgent needs has lanes of
   its own, so quiet hours never hold it behind a deferred message) is leased and its head sent, then
   the next. Quiet hours defer the head to their end; the daily cap (per phone, claim-code texts included) and the monthly budget skip it
   (SKIPPED, with the reason, in `myNotifications`); a transient failure (5xx, 429, no answer) is retried
   after a doubling delay and is FAILED after `notify_attempts`; any other refusal is FAILED at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.db.sql import status_is
from aidmap.models.notification import Channel, NotificationStatus
from aidmap.models.notification import NotificationKind as K
from aidmap.net import http
from aidmap.notify import push as webpush
from aidmap.notify.sms import SmsFailed, SmsSender
from aidmap.notify.texts import language_for_phone, render

log = logging.getLogger(__name__)

ALL_KINDS = [k.value for k in K]
DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"
DEFAULT_QUIET = (22 * 60, 6 * 60)
SCAN_BATCH = 500
LEASE_S = 60.0
_SMS_LOCK = 0x41494453  # "AIDS": counting SMS against the caps, shared by every process
URGENT_LEVELS = ("HIGH", "CRITICAL")


@dataclass(frozen=True)
class NotifyPolicy:
    page_url: str
    time_zone: str = DEFAULT_TIME_ZONE
    quiet: tuple[int, int] = DEFAULT_QUIET
    retry_base_s: float = 30.0
    attempts: int = 5
    sms_per_day: int = 5
    sms_monthly_budget: int = 0
    budget_warn_ratio: float = 0.8
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:operations@aidmap.invalid"
    allow_private: bool = False
    push_deadline_s: float = 15.0
    # A socket is taken as open while its process refreshed it this recently (it does every recheck).
    socket_fresh_s: float = 10.0
    # Keys the HMAC of a phone, the daily cap's key (settings.phone_hash_key()).
    phone_key: bytes = b""


def policy_for(settings: Any) -> NotifyPolicy:
    from aidmap.settings import quiet_window

    return NotifyPolicy(
        page_url=settings.page_url(),
        time_zone=settings.time_zone,
        quiet=quiet_window(settings.quiet_hours) or DEFAULT_QUIET,
        retry_base_s=settings.notify_retry_seconds,
        attempts=max(1, settings.notify_attempts),
        sms_per_day=settings.sms_per_person_per_day,
        sms_monthly_budget=settings.sms_monthly_budget,
        budget_warn_ratio=settings.sms_budget_warn_ratio,
        vapid_private_key=settings.vapid_private_key,
        vapid_subject=settings.vapid_subject,
        allow_private=settings.push_allow_private,
        push_deadline_s=settings.webhook_timeout_seconds,
        socket_fresh_s=max(10.0, 3 * settings.socket_recheck_seconds),
        phone_key=settings.phone_hash_key(),
    )


@dataclass
class Outcomes:
    """What the job reports to the metrics: (channel, outcome) per attempt, the budget's share used."""

    count: Callable[[str, str], None] = lambda channel, outcome: None
    budget_used: Callable[[float], None] = lambda ratio: None
    warned_month: str | None = field(default=None)


# -- who is told what ----------------------------------------------------------------------------

_EVENTS = text(
    """
    SELECT e.seq, e.kind, e.audience, coalesce(e.need_id, p.need_id) AS need_id,
           n.owner_id, n.filed_by_id, n.beneficiary_phone, n.category, n.urgency,
           coalesce(p.carrier_id, p.donor_id) AS donor_id, p.donor_id AS giver_id, p.cancelled_by_id, m.sender_id
    FROM events e
    LEFT JOIN pledges p ON p.id = e.pledge_id
    LEFT JOIN needs n ON n.id = coalesce(e.need_id, p.need_id)
    LEFT JOIN messages m ON m.id = e.message_id
    WHERE e.seq > :cursor ORDER BY e.seq LIMIT :limit
    """
)
_ACCOUNT = text(
    """
    SELECT a.id, a.phone, p.language, p.sms_kinds, p.push_kinds,
           EXISTS (SELECT 1 FROM live_sockets s WHERE s.account_id = a.id
                   AND s.seen_at > now() - make_interval(secs => :fresh)) AS online
    FROM accounts a LEFT JOIN notification_preferences p ON p.account_id = a.id
    WHERE a.id = :id
    """
)
_SUBSCRIPTIONS = text("SELECT id FROM push_subscriptions WHERE account_id = :id ORDER BY id")
_INSERT = text(
    """
    INSERT INTO notifications (event_seq, kind, channel, recipient, account_id, need_id, target, subscription_id,
                               lane, urgent, language, title, body, url)
    VALUES (:seq, :kind, :channel, :recipient, :account_id, :need_id, :target, :subscription_id,
            :lane, :urgent, :language, :title, :body, :url)
    ON CONFLICT (event_seq, recipient, target) DO NOTHING
    """
)
_LANE = text("INSERT INTO notification_lanes (lane) VALUES (:lane) ON CONFLICT (lane) DO NOTHING")


@dataclass(frozen=True)
class _Recipient:
    side: str  # "requester" or "donor": which text they get
    account_id: int | None  # None: the person a need was filed for, who has no account yet
    beneficiary: bool  # the need was filed for them: SMS by default


def _recipients(row: Any) -> list[_Recipient]:
    kind = row.kind
    if row.need_id is None or row.owner_id is None:
        return []
    unclaimed = row.beneficiary_phone is not None and row.owner_id == row.filed_by_id

    def requester(*, chat: bool = False) -> _Recipient:
        if unclaimed and not chat:  # the chat is the filer's (an operator, a relative) on the page
            return _Recipient("requester", None, True)
        return _Recipient("requester", row.owner_id, row.beneficiary_phone is not None)

    # donor_id is who brings the pledge: its donor, or for a relayed one the collection point's manager
    # (the carrier), who is the requester's other side in the chat; giver_id the donor who gave it, told
    # of what happens to it but never part of the chat (they must not be asked for the address).
    donor = _Recipient("donor", row.donor_id, False) if row.donor_id is not None else None
    giver = _Recipient("donor", row.giver_id, False) if row.giver_id not in (None, row.donor_id) else None
    if kind == K.PLEDGE_CREATED:
        # Relayed: the collection point's manager has a delivery to carry.
        return [requester()] + ([_Recipient("carrier", row.donor_id, False)] if giver is not None else [])
    if kind == K.PLEDGE_CANCELLED:
        if giver is None:  # the donor brings it: whichever side did not cancel is told
            return [requester()] if row.cancelled_by_id == row.donor_id else [donor] if donor else []
        # Relayed: everyone on it but whoever cancelled, the manager and donor in the relay's words.
        told = [] if row.cancelled_by_id == row.owner_id else [requester()]
        return told + [_Recipient("relay", a, False) for a in (row.donor_id, row.giver_id) if a != row.cancelled_by_id]
    if kind == K.PLEDGE_DELIVERED:
        # The requester confirmed it themselves; a person it was filed for hears it was marked delivered.
        return [r for r in (donor, giver, requester() if unclaimed else None) if r is not None]
    if kind == K.PLEDGE_MARKED_DELIVERED:
        # Whoever confirms is asked: the filer until the person claims the need (on the page, so no
        # SMS of its own by default), then the person.
        return [_Recipient("requester", row.owner_id, False) if unclaimed else requester()]
    if kind == K.MESSAGE_SENT:
        if row.sender_id == row.donor_id:
            return [requester(chat=True)]
        return [donor] if donor else []
    if kind == K.NEED_EXPIRING:
        return [requester()]
    if kind in (K.HELP_ASKED, K.NEED_PRIVATE_UPDATED):
        # Those asked for instant help; the donors on their way to a need whose address changed.
        return [_Recipient("donor", a, False) for a in row.audience]
    return []


async def queue_new_events(*, sessions: async_sessionmaker[AsyncSession], policy: NotifyPolicy) -> int:
    """Turn new outbox events into PENDING notifications; returns how many were queued."""
    queued = 0
    async with sessions() as session, session.begin():
        cursor = (
            await session.execute(text("SELECT seq FROM notification_cursor WHERE id = 1 FOR UPDATE SKIP LOCKED"))
        ).scalar_one_or_none()
        if cursor is None:
            return 0  # another process is at it
        rows = (await session.execute(_EVENTS, {"cursor": cursor, "limit": SCAN_BATCH})).all()
        if not rows:
            return 0
        from aidmap.schema.ids import to_global_id

        for row in rows:
            if row.kind not in ALL_KINDS:
                continue
            urgent = row.kind == K.HELP_ASKED and row.urgency in URGENT_LEVELS
            url = f"{policy.page_url}/#need={to_global_id('Need', row.need_id)}" if row.need_id else policy.page_url
            for person in _recipients(row):
                queued += await _queue_for(session, row, person, urgent=urgent, url=url, policy=policy)
        await session.execute(text("UPDATE notification_cursor SET seq = :s WHERE id = 1"), {"s": rows[-1].seq})
    return queued


async def _queue_for(
    session: AsyncSession, row: Any, person: _Recipient, *, urgent: bool, url: str, policy: NotifyPolicy
) -> int:
    lanes: list[tuple[str, str, int | None]] = []  # (channel, target, subscription)
    if person.account_id is None:
        recipient, account_id, phone = f"beneficiary:{row.need_id}", None, row.beneficiary_phone
        language, lanes = language_for_phone(phone), [(Channel.SMS, "SMS", None)]
    else:
        found = (
            await session.execute(_ACCOUNT, {"id": person.account_id, "fresh": policy.socket_fresh_s})
        ).one_or_none()
        if found is None or (row.kind == K.MESSAGE_SENT and found.online):
            return 0  # an open socket has shown the message already: no duplicate
        recipient, account_id = f"account:{found.id}", found.id
        language = found.language or language_for_phone(found.phone)
        sms_kinds = found.sms_kinds if found.sms_kinds is not None else (ALL_KINDS if person.beneficiary else [])
        push_kinds = found.push_kinds if found.push_kinds is not None else ALL_KINDS
        if row.kind in sms_kinds:
            lanes.append((Channel.SMS, "SMS", None))
        if row.kind in push_kinds:
            subscriptions = (await session.execute(_SUBSCRIPTIONS, {"id": found.id})).scalars()
            lanes += [(Channel.PUSH, f"PUSH:{s}", s) for s in subscriptions]
    words = render(row.kind, person.side, language, row.category)
    queued = 0
    for channel, target, subscription in lanes:
        lane = f"{recipient}:{channel.value}" + (":urgent" if urgent else "")
        body = words.sms(url, language) if channel == Channel.SMS else words.body
        result = await session.execute(
            _INSERT,
            {
                "seq": row.seq, "kind": row.kind, "channel": channel.value, "recipient": recipient,
                "account_id": account_id, "need_id": row.need_id, "target": target, "subscription_id": subscription,
                "lane": lane, "urgent": urgent, "language": language, "title": words.title, "body": body, "url": url,
            },
        )  # fmt: skip
        await session.execute(_LANE, {"lane": lane})
        queued += result.rowcount or 0  # type: ignore[attr-defined]
    return queued


# -- quiet hours ---------------------------------------------------------------------------------


def quiet_until(now: datetime, time_zone: str, start: int, end: int) -> datetime | None:
    """The end of the person's quiet hours if `now` falls in them (local time), else None."""
    if start == end:
        return None
    local = now.astimezone(ZoneInfo(time_zone))
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    until = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(UTC)


# -- delivering ----------------------------------------------------------------------------------

_PENDING = status_is(NotificationStatus.PENDING, column="n.status")

_CLAIM = text(
    f"""
    UPDATE notification_lanes SET lease_until = now() + make_interval(secs => :lease)
    WHERE lane IN (
        SELECT l.lane FROM notification_lanes l
        WHERE (l.lease_until IS NULL OR l.lease_until < now()) AND l.lane <> ALL(CAST(:busy AS text[]))
          AND (SELECT n.next_attempt_at FROM notifications n WHERE n.lane = l.lane AND {_PENDING}
               ORDER BY n.event_seq, n.id LIMIT 1) <= now()
        LIMIT 200 FOR UPDATE SKIP LOCKED
    )
    RETURNING lane
    """
)
_RENEW = text("UPDATE notification_lanes SET lease_until = now() + make_interval(secs => :lease) WHERE lane = :lane")
_RELEASE = text("UPDATE notification_lanes SET lease_until = NULL WHERE lane = :lane")
_HEAD = text(
    f"""
    SELECT n.*, a.phone AS account_phone, b.beneficiary_phone,
           coalesce(p.time_zone, :tz) AS time_zone, coalesce(p.quiet_start, :qs) AS quiet_start,
           coalesce(p.quiet_end, :qe) AS quiet_end,
           s.endpoint, s.p256dh, s.auth
    FROM notifications n
    LEFT JOIN accounts a ON a.id = n.account_id
    LEFT JOIN needs b ON b.id = n.need_id AND n.account_id IS NULL
    LEFT JOIN notification_preferences p ON p.account_id = n.account_id
    LEFT JOIN push_subscriptions s ON s.id = n.subscription_id
    WHERE n.lane = :lane AND {_PENDING}
    ORDER BY n.event_seq, n.id LIMIT 1
    """
)
_UPDATE = "UPDATE notifications SET {} WHERE id = :id"


async def _set(session: AsyncSession, notification_id: int, **values: Any) -> None:
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    await session.execute(text(_UPDATE.format(assignments)), {"id": notification_id, **values})


async def claim_due(*, sessions: async_sessionmaker[AsyncSession], busy: set[str] | None = None) -> list[str]:
    async with sessions() as session, session.begin():
        rows = await session.execute(_CLAIM, {"lease": LEASE_S, "busy": sorted(busy or ())})
        return [row.lane for row in rows]


_SMS = status_is(Channel.SMS, column="channel")
_NOT_FAILED = status_is(NotificationStatus.FAILED, negate=True)
_TODAY = text(
    f"""
    SELECT (SELECT count(*) FROM notifications WHERE phone_hash = :p AND {_SMS}
            AND charged_at > now() - interval '24 hours' AND {_NOT_FAILED})
         + (SELECT count(*) FROM sms_charges WHERE phone_hash = :p AND charged_at > now() - interval '24 hours')
    """
)
_MONTH = text(
    f"""
    SELECT (SELECT count(*) FROM notifications WHERE {_SMS} AND {_NOT_FAILED}
            AND charged_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
         + (SELECT count(*) FROM sms_charges
            WHERE charged_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
           to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')
    """
)


def phone_hash(phone_e164: str, policy: NotifyPolicy) -> str:
    from aidmap.resolvers.duplicates import phone_hash as digest

    return digest(phone_e164, policy.phone_key)


async def _refusal(
    session: AsyncSession, phone_e164: str, policy: NotifyPolicy, outcomes: Outcomes
) -> tuple[str | None, str]:
    """Why an SMS to this phone may not go now (its day's cap, the month's budget), or None; and the
    phone's HMAC, the cap's key. Takes the lock that the caller's charge is written under, so
    processes racing at the edge never exceed either."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SMS_LOCK})
    key = phone_hash(phone_e164, policy)
    # Per phone, not per need or account: a stranger filing needs for one number shares its cap.
    today = (await session.execute(_TODAY, {"p": key})).scalar_one()
    if today >= policy.sms_per_day:
        return f"daily SMS limit ({policy.sms_per_day}) reached", key
    if policy.sms_monthly_budget > 0:
        month = (await session.execute(_MONTH)).one()
        used, label = int(month[0]), month[1]
        outcomes.budget_used(used / policy.sms_monthly_budget)
        if used >= policy.sms_monthly_budget:
            return f"monthly SMS budget ({policy.sms_monthly_budget}) spent", key
        if (used + 1) >= policy.budget_warn_ratio * policy.sms_monthly_budget and outcomes.warned_month != label:
            outcomes.warned_month = label
            log.warning(
                "SMS budget nearly spent: %d of %d this month (AIDMAP_SMS_MONTHLY_BUDGET)",
                used + 1, policy.sms_monthly_budget,
            )  # fmt: skip
        outcomes.budget_used((used + 1) / policy.sms_monthly_budget)
    return None, key


async def _charge_sms(
    session: AsyncSession, head: Any, phone: str, policy: NotifyPolicy, outcomes: Outcomes
) -> str | None:
    """Count this SMS against the phone's day and the deployment's month, or say why it may not go."""
    refusal, key = await _refusal(session, phone, policy, outcomes)
    if refusal is None:
        await _set(session, head.id, charged_at=datetime.now(UTC), phone_hash=key)
    return refusal


async def charge_text(
    session: AsyncSession, phone_e164: str, policy: NotifyPolicy, *, purpose: str, outcomes: Outcomes | None = None
) -> str | None:
    """The same caps for an SMS sent outside the notifications (a claim code): charged if it may go,
    else why not. The caller commits, then sends."""
    refusal, key = await _refusal(session, phone_e164, policy, outcomes or Outcomes())
    if refusal is None:
        await session.execute(
            text("INSERT INTO sms_charges (phone_hash, purpose) VALUES (:p, :purpose)"), {"p": key, "purpose": purpose}
        )
    return refusal


# Pushes have threads of their own, apart from the webhooks' (aidmap/jobs/webhooks.py
# _HTTP_THREADS): push endpoints are URLs any signed-up person hands us, so tarpits among them must
# not delay a partner's webhooks. A lane sends one push at a time: a person holds at most one thread
# per lane (two: their urgent lane), up to the push deadline.
_PUSH_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="aidmap-push")


async def _send_push(head: Any, policy: NotifyPolicy) -> tuple[int | None, str | None]:
    request = webpush.build(
        {"kind": head.kind, "eventId": f"evt_{head.event_seq}", "notificationId": head.id, "title": head.title,
         "body": head.body, "url": head.url},
        endpoint=head.endpoint, p256dh=head.p256dh, auth=head.auth, private_key=policy.vapid_private_key,
        subject=policy.vapid_subject, urgent=head.urgent,
    )  # fmt: skip
    post = functools.partial(
        http.post, request.url, request.body, request.headers,
        allow_private=policy.allow_private, deadline_s=policy.push_deadline_s,
    )  # fmt: skip
    return await asyncio.get_running_loop().run_in_executor(_PUSH_THREADS, post)


async def deliver_lane(
    lane: str, *, sessions: async_sessionmaker[AsyncSession], sms: SmsSender, policy: NotifyPolicy,
    outcomes: Outcomes, now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:  # fmt: skip
    """Send a leased lane's due notifications in event order; returns how many were delivered.
    Releases the lease."""
    delivered = 0
    try:
        while True:
            async with sessions() as session, session.begin():
                await session.execute(_RENEW, {"lane": lane, "lease": LEASE_S})
                head = (
                    await session.execute(
                        _HEAD, {"lane": lane, "tz": policy.time_zone, "qs": policy.quiet[0], "qe": policy.quiet[1]}
                    )
                ).one_or_none()
                moment = now()
                if head is None or head.next_attempt_at > moment:
                    return delivered
                channel = head.channel
                skip: str | None = None
                until = quiet_until(moment, head.time_zone, head.quiet_start, head.quiet_end)
                if until is not None and not head.urgent:
                    if head.kind == K.HELP_ASKED:
                        skip = "quiet hours (an instant-help ask is over by morning)"
                    else:
                        local = until.astimezone(ZoneInfo(head.time_zone)).strftime("%H:%M")
                        await _set(session, head.id, next_attempt_at=until, reason=f"quiet hours until {local}")
                        return delivered  # later ones wait behind it: order per person
                if skip is None and channel == Channel.SMS:
                    phone = head.account_phone or head.beneficiary_phone
                    if phone is None:
                        skip = "no phone"
                    elif head.charged_at is None:
                        skip = await _charge_sms(session, head, phone, policy, outcomes)
                if skip is None and channel == Channel.PUSH and (head.endpoint is None or not policy.vapid_private_key):
                    skip = "no push subscription" if head.endpoint is None else "Web Push is not configured"
                if skip is not None:
                    await _set(session, head.id, status=NotificationStatus.SKIPPED.value, reason=skip)
                    outcomes.count(channel, "skipped")
                    continue
            # Committed: the gateway call runs with no transaction open and no row locked.
            if channel == Channel.SMS:
                result = await sms.send(phone, head.body)
                failed = result if isinstance(result, SmsFailed) else None
                status = failed.status if failed else 201
                error, transient = (failed.reason, failed.transient) if failed else (None, False)
                refused = False
            else:
                status, error = await _send_push(head, policy)
                # An address inside the network stays refused: no retry (which would hold the lane).
                refused = status is None and (error or "").startswith(http.REFUSED)
                transient = not refused and (status is None or status == 429 or status >= 500)
                if status is not None and 200 <= status < 300:
                    error = None
                elif error is None:
                    error = f"the push service answered {status}"
            ok = error is None
            attempts = head.attempts + 1
            async with sessions() as session, session.begin():
                if ok:
                    await _set(
                        session, head.id, status=NotificationStatus.DELIVERED.value, attempts=attempts,
                        last_status_code=status, sent_at=datetime.now(UTC), reason=None,
                    )  # fmt: skip
                    outcomes.count(channel, "delivered")
                    delivered += 1
                    continue
                if transient and attempts < policy.attempts:
                    backoff = min(policy.retry_base_s * 2 ** (attempts - 1), 3600)
                    await _set(
                        session, head.id, attempts=attempts, last_status_code=status, reason=(error or "")[:300],
                        next_attempt_at=datetime.now(UTC) + timedelta(seconds=backoff),
                    )  # fmt: skip
                    outcomes.count(channel, "retried")
                    return delivered  # the lane waits for its head: order per person
                # Refused, or transient past the bound. A refused SMS is not counted against the caps.
                await _set(
                    session, head.id, status=NotificationStatus.FAILED.value, attempts=attempts,
                    last_status_code=status, reason=(error or "")[:300],
                )  # fmt: skip
                if channel == Channel.PUSH and (refused or status in (404, 410)) and head.subscription_id is not None:
                    # The browser unsubscribed (or the subscription expired), or the endpoint is inside
                    # this network: forget it.
                    await session.execute(
                        text("DELETE FROM push_subscriptions WHERE id = :id"), {"id": head.subscription_id}
                    )
                outcomes.count(channel, "failed")
    finally:
        with contextlib.suppress(Exception):  # the lease runs out by itself if this fails
            async with sessions() as session, session.begin():
                await session.execute(_RELEASE, {"lane": lane})


async def run_once(
    *,
    sessions: async_sessionmaker[AsyncSession],
    sms: SmsSender,
    policy: NotifyPolicy,
    outcomes: Outcomes | None = None,
) -> int:
    """Queue, then deliver every due lane (tests and one-off runs; the job keeps a task per lane)."""
    outcomes = outcomes or Outcomes()
    await queue_new_events(sessions=sessions, policy=policy)
    lanes = await claim_due(sessions=sessions)
    counts = await asyncio.gather(
        *(deliver_lane(lane, sessions=sessions, sms=sms, policy=policy, outcomes=outcomes) for lane in lanes)
    )
    return sum(counts)


def notify_job(
    *, sessions: async_sessionmaker[AsyncSession], sms: SmsSender, policy: NotifyPolicy, interval_s: float,
    outcomes: Outcomes, wake: asyncio.Event | None = None,
) -> Any:  # fmt: skip
    from aidmap.jobs.periodic import LaneJob

    # One task per lane: a slow gateway holds only its own lanes.
    return LaneJob(
        name="aidmap-notify", lane_name=lambda lane: f"aidmap-notify-{lane}",
        prepare=lambda: queue_new_events(sessions=sessions, policy=policy),
        claim=lambda busy: claim_due(sessions=sessions, busy=busy),
        deliver=lambda lane: deliver_lane(lane, sessions=sessions, sms=sms, policy=policy, outcomes=outcomes),
        failed="delivering notifications of %s failed", interval_s=interval_s, on_stop=sms.aclose, wake=wake,
    )  # fmt: skip
