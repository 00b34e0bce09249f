"""Webhook delivery, the background job: every process delivers each endpoint's queue in order, at
least once, signed, retrying with backoff for 24 hours (DeliveryPolicy; what is queued and what a
delivery carries: aidmap/resolvers/webhooks.py; the HTTP client: aidmap/net/http.py).

Safe in several processes: an endpoint is leased (webhooks.lease_until) by the one process
working on it, so deliveries to one endpoint never overlap or reorder; each endpoint has its own
task, each attempt a total deadline, and no transaction stays open across an HTTP call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.db.sql import status_is
from aidmap.jobs.periodic import LaneJob
from aidmap.models import DeliveryStatus, ReadChannel, Webhook, WebhookDelivery
from aidmap.net import http
from aidmap.resolvers.needs import log_private_reads
from aidmap.resolvers.validation import utcnow
from aidmap.resolvers.webhooks import EVENT_ROW, need_projection, payload, queue_new_events

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Aidmap-Signature"
EVENT_ID_HEADER = "Aidmap-Event-Id"


@dataclass(frozen=True)
class DeliveryPolicy:
    retry_base_s: float = 10.0  # first retry after this, doubling, at most an hour apart
    give_up_after: timedelta = timedelta(hours=24)
    allow_private_addresses: bool = False  # tests and private deployments deliver to 127.0.0.1
    attempt_deadline_s: float = http.ATTEMPT_DEADLINE_S


def delivery_policy(settings: Any) -> DeliveryPolicy:
    return DeliveryPolicy(
        retry_base_s=settings.webhook_retry_seconds,
        allow_private_addresses=settings.webhook_allow_private,
        attempt_deadline_s=settings.webhook_timeout_seconds,
    )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Aidmap-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's secret>."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# An endpoint is claimed by one process for a while (a lease, committed at once), not locked by
# a transaction: no transaction or row lock is held across an HTTP call. A process that dies
# mid-delivery loses its lease after LEASE_S and another takes the endpoint over (at least once).
_CLAIM = text(
    f"""
    UPDATE webhooks SET lease_until = now() + make_interval(secs => :lease)
    WHERE id IN (
        SELECT w.id FROM webhooks w
        WHERE w.deleted_at IS NULL AND (w.lease_until IS NULL OR w.lease_until < now())
          AND w.id <> ALL(CAST(:busy AS bigint[]))
          AND EXISTS (SELECT 1 FROM webhook_deliveries d
                      WHERE d.webhook_id = w.id AND {status_is(DeliveryStatus.PENDING, column="d.status")} AND d.next_attempt_at <= now())
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
    """
)
_RENEW = text("UPDATE webhooks SET lease_until = now() + make_interval(secs => :lease) WHERE id = :id")
_RELEASE = text("UPDATE webhooks SET lease_until = NULL WHERE id = :id")


# Blocking HTTP calls run here, not in the loop's default pool (a few threads on a small machine,
# shared with everything else): endpoints slow up to their deadline each hold one of these.
_HTTP_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="aidmap-webhook")


def _lease_s(policy: DeliveryPolicy) -> float:
    return 2 * policy.attempt_deadline_s + 30  # longer than an attempt, renewed before each one


async def claim_due(
    *, sessions: async_sessionmaker[AsyncSession], policy: DeliveryPolicy, busy: set[int] | None = None
) -> list[int]:
    """Endpoints with a due delivery, now leased to this process (none already `busy` here)."""
    async with sessions() as session, session.begin():
        rows = await session.execute(_CLAIM, {"lease": _lease_s(policy), "busy": sorted(busy or ())})
        return [row.id for row in rows]


async def deliver_endpoint(
    hook_id: int, *, sessions: async_sessionmaker[AsyncSession], policy: DeliveryPolicy, on_failure: Any = None
) -> int:
    """Deliver a leased endpoint's due queue in event order, one short transaction before and one
    after each attempt; returns how many were delivered. Releases the lease."""
    delivered = 0
    try:
        while True:
            async with sessions() as session, session.begin():
                await session.execute(_RENEW, {"id": hook_id, "lease": _lease_s(policy)})
                hook = await session.get(Webhook, hook_id)
                if hook is None or hook.deleted_at is not None:
                    return delivered
                head = (
                    await session.execute(
                        select(WebhookDelivery)
                        .where(
                            WebhookDelivery.webhook_id == hook.id,
                            WebhookDelivery.status == DeliveryStatus.PENDING.value,
                        )
                        .order_by(WebhookDelivery.event_seq)
                        .limit(1)
                    )
                ).scalar_one_or_none()
                if head is None or head.next_attempt_at > utcnow():
                    return delivered  # later events wait behind the head: order per endpoint
                partner = (
                    await session.execute(text("SELECT scopes FROM partners WHERE id = :p"), {"p": hook.partner_id})
                ).scalar_one()
                row = (await session.execute(EVENT_ROW, {"seq": head.event_seq})).one()
                seen = need_projection(row, partner_id=hook.partner_id, partner_private="private:read" in partner)
                body = json.dumps(payload(row, seen), ensure_ascii=False, separators=(",", ":")).encode()
                now = int(time.time())
                headers = {
                    "Content-Type": "application/json", "User-Agent": "aidmap-webhooks/1",
                    SIGNATURE_HEADER: sign(hook.secret, now, body), EVENT_ID_HEADER: f"evt_{head.event_seq}",
                    "Aidmap-Delivery-Attempt": str(head.attempts + 1),
                }  # fmt: skip
                url, delivery_id, attempts, created_at = hook.url, head.id, head.attempts, head.created_at
                # A delivery that carries private fields is a read the requester sees in Need.locationReads.
                private_read = (row.need_id, hook.partner_id) if seen is not None and seen.private else None
            # Committed: the HTTP call runs with no transaction open and no row locked.
            post = functools.partial(
                http.post, url, body, headers,
                allow_private=policy.allow_private_addresses, deadline_s=policy.attempt_deadline_s,
            )  # fmt: skip
            status, error = await asyncio.get_running_loop().run_in_executor(_HTTP_THREADS, post)
            ok = status is not None and 200 <= status < 300
            values: dict[str, Any] = {"attempts": attempts + 1, "last_status_code": status, "last_error": error}
            if ok:
                values |= {"status": DeliveryStatus.DELIVERED.value, "delivered_at": utcnow()}
                delivered += 1
            else:
                if on_failure is not None:
                    on_failure()
                if utcnow() - created_at >= policy.give_up_after:
                    values["status"] = DeliveryStatus.FAILED.value  # the partner sees it in webhookDeliveries
                else:
                    backoff = min(policy.retry_base_s * 2**attempts, 3600)
                    values["next_attempt_at"] = utcnow() + timedelta(seconds=backoff)
            async with sessions() as session, session.begin():
                await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))
                if ok and private_read is not None:
                    await log_private_reads(
                        session=session, need_ids=[private_read[0]], reader_id=None, partner_id=private_read[1],
                        channel=ReadChannel.WEBHOOK,
                    )  # fmt: skip
            if not ok and "next_attempt_at" in values:
                return delivered
    finally:
        with contextlib.suppress(Exception):  # the lease runs out by itself if this fails
            async with sessions() as session, session.begin():
                await session.execute(_RELEASE, {"id": hook_id})


async def deliver_due(
    *, sessions: async_sessionmaker[AsyncSession], policy: DeliveryPolicy, on_failure: Any = None
) -> int:
    """Claim every endpoint with a due delivery and deliver them all concurrently; returns how
    many were delivered (for tests and one-off runs; the job keeps one task per endpoint)."""
    hook_ids = await claim_due(sessions=sessions, policy=policy)
    counts = await asyncio.gather(
        *(deliver_endpoint(h, sessions=sessions, policy=policy, on_failure=on_failure) for h in hook_ids)
    )
    return sum(counts)


def webhook_job(
    *, sessions: async_sessionmaker[AsyncSession], interval_s: float, policy: DeliveryPolicy, on_failure: Any = None,
    wake: asyncio.Event | None = None,
) -> LaneJob:
    """On new events (`wake`) and every interval: queue new events, then deliver each due endpoint in a
    task of its own (a slow endpoint holds only its own task, and the next ticks go on claiming and
    serving the others)."""
    return LaneJob(
        name="aidmap-webhooks", lane_name=lambda hook_id: f"aidmap-webhook-{hook_id}",
        prepare=lambda: queue_new_events(sessions=sessions),
        claim=lambda busy: claim_due(sessions=sessions, policy=policy, busy=busy),
        deliver=lambda hook_id: deliver_endpoint(hook_id, sessions=sessions, policy=policy, on_failure=on_failure),
        failed="delivering webhook %s failed", interval_s=interval_s, wake=wake,
    )  # fmt: skip
