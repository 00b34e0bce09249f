"""Webhooks: partners register endpoints; every process queues matching outbox events for them and
delivers each endpoint's queue in order, at least once, signed, retrying with backoff for 24 hours.

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
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.geo.privacy import snap_to_cell
from aidmap.models import DeliveryStatus, EventKind, ReadChannel, Webhook, WebhookDelivery, need_fields
from aidmap.models.need import Principal, may_see_need
from aidmap.models.projection import NeedProjection, project_need
from aidmap.resolvers.needs import log_private_reads
from aidmap.resolvers.problems import Code, Problems
from aidmap.resolvers.validation import Checker, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Aidmap-Signature"
EVENT_ID_HEADER = "Aidmap-Event-Id"
WEBHOOK_EVENTS = (
    EventKind.NEED_CREATED, EventKind.NEED_UPDATED, EventKind.NEED_CANCELLED, EventKind.NEED_EXPIRED,
    EventKind.NEED_RENEWED, EventKind.NEED_VERIFIED, EventKind.NEED_HIDDEN,
    EventKind.PLEDGE_CREATED, EventKind.PLEDGE_CANCELLED, EventKind.PLEDGE_DELIVERED,
    EventKind.OFFER_CREATED, EventKind.OFFER_UPDATED, EventKind.OFFER_WITHDRAWN,
)  # fmt: skip
MAX_PER_PARTNER = 20
SCAN_BATCH = 1000
TIMEOUT_S = 5.0  # each connect, send, read
ATTEMPT_DEADLINE_S = 15.0  # one whole attempt (connect + send + read)
MAX_RESPONSE_BYTES = 64 * 1024  # what is read of an endpoint's answer (only its status counts)


@dataclass(frozen=True)
class DeliveryPolicy:
    retry_base_s: float = 10.0  # first retry after this, doubling, at most an hour apart
    give_up_after: timedelta = timedelta(hours=24)
    allow_private_addresses: bool = False  # tests and private deployments deliver to 127.0.0.1
    attempt_deadline_s: float = ATTEMPT_DEADLINE_S


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


INSIDE_NETWORK = "Webhook URLs must reach the public internet, not addresses inside this network."


def _inside_network(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not part of it
    # Anything not globally routable: private, loopback, link-local (cloud metadata), shared (100.64/10)...
    return not ip.is_global or ip.is_multicast


def _refuse_private(url: str) -> str | None:
    """Why this URL may not be used (an address inside the server's network), or None."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return "The host of this URL cannot be resolved."
    if any(_inside_network(info[4][0]) for info in infos):
        return INSIDE_NETWORK
    return None


REFUSED = "refused: "  # how `_post` words an address inside the network (no retry can change that)


class AddressRefused(OSError):
    pass


def _vetted_socket(host: str, port: int, timeout: float | None, allow_private: bool) -> socket.socket:
    """A connection to `host`, made to an address checked at this moment.

    Checking the URL when the webhook is created is not enough: its host may resolve to an inside
    address later (DNS rebinding), so the names are resolved once here, every address is checked,
    and the socket connects to one of those very addresses (no second look-up in between).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not allow_private and any(_inside_network(info[4][0]) for info in infos):
        raise AddressRefused(f"{REFUSED}{host} resolves to an address inside this network")
    failure: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as error:
            sock.close()
            failure = error
    raise failure


class _VettedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, *, timeout: float, allow_private: bool) -> None:
        super().__init__(host, port, timeout=timeout)
        self.allow_private = allow_private

    def connect(self) -> None:
        self.sock = _vetted_socket(self.host, self.port, self.timeout, self.allow_private)


class _VettedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, *, timeout: float, allow_private: bool) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.allow_private = allow_private

    def connect(self) -> None:
        sock = _vetted_socket(self.host, self.port, self.timeout, self.allow_private)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


async def create(
    *,
    session: AsyncSession,
    partner_id: int,
    url: str,
    events: list[EventKind],
    near: tuple[float, float] | None,
    radius_m: float | None,
    area_codes: list[str],
    policy: DeliveryPolicy,
) -> Webhook:
    check = Checker()
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        check.add("url", "Give an http or https URL.", Code.INVALID)
    if not events:
        check.add("events", "Choose at least one event.", Code.REQUIRED)
    if (near is None) != (radius_m is None):
        check.add("radiusMeters", "Give both near and radiusMeters, or neither.", Code.REQUIRED)
    if near is not None and radius_m is not None:
        check.point("near", near[0], near[1])
        check.radius("radiusMeters", radius_m)
    if check.problems:
        raise Problems(check.problems)
    if not policy.allow_private_addresses:
        reason = await asyncio.to_thread(_refuse_private, url)
        if reason is not None:
            raise Problems.one("url", reason, Code.INVALID)
    count = (
        await session.execute(
            text("SELECT count(*) FROM webhooks WHERE partner_id = :p AND deleted_at IS NULL"), {"p": partner_id}
        )
    ).scalar_one()
    if count >= MAX_PER_PARTNER:
        raise Problems.one(None, f"At most {MAX_PER_PARTNER} webhooks per partner.", Code.QUOTA_EXCEEDED)
    latest = (await session.execute(text("SELECT coalesce(max(seq), 0) FROM events"))).scalar_one()
    webhook = Webhook(
        partner_id=partner_id,
        url=url.strip(),
        secret="whsec_" + secrets.token_urlsafe(32),
        events=sorted({e.value for e in events}),
        near=f"SRID=4326;POINT({near[1]} {near[0]})" if near is not None else None,
        radius_meters=radius_m,
        area_codes=sorted(set(area_codes)),
        cursor_seq=int(latest),  # from now on: a new endpoint does not receive the past
    )
    session.add(webhook)
    await session.flush()
    return webhook


async def deliveries(
    *, session: AsyncSession, partner_id: int, webhook_id: int, status: DeliveryStatus | None, first: int
) -> list[WebhookDelivery] | None:
    """The endpoint's deliveries, newest first; None when it is not this partner's."""
    owner = (await session.execute(select(Webhook.partner_id).where(Webhook.id == webhook_id))).scalar_one_or_none()
    if owner != partner_id:
        return None
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    rows = await session.execute(query.order_by(WebhookDelivery.event_seq.desc()).limit(min(max(first, 1), 100)))
    return list(rows.scalars())


# -- queueing ------------------------------------------------------------------------------------

_NEW_EVENTS = text(
    """
    SELECT e.seq, e.kind, e.need_id, n.status AS need_status, n.owner_id, n.filed_by_id, n.ward_code,
           n.partner_id AS need_partner_id,
           (w.near IS NULL OR (e.location IS NOT NULL AND ST_DWithin(e.location, w.near, w.radius_meters))) AS in_circle,
           (cardinality(w.area_codes) = 0 OR n.ward_code IN (
               WITH RECURSIVE area(code) AS (
                   SELECT unnest(w.area_codes)
                   UNION SELECT a.code FROM admin_areas a JOIN area ON a.parent_code = area.code
               ) SELECT code FROM area)) AS in_areas
    FROM events e JOIN webhooks w ON w.id = :webhook
    LEFT JOIN needs n ON n.id = e.need_id
    WHERE e.seq > :cursor ORDER BY e.seq LIMIT :limit
    """
)


async def queue_new_events(*, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Queue the outbox events each endpoint asked for (its cursor moves past everything it saw)."""
    queued = 0
    async with sessions() as session, session.begin():
        hooks = (
            await session.execute(select(Webhook).where(Webhook.deleted_at.is_(None)).with_for_update(skip_locked=True))
        ).scalars()
        for hook in list(hooks):
            rows = (
                await session.execute(_NEW_EVENTS, {"webhook": hook.id, "cursor": hook.cursor_seq, "limit": SCAN_BATCH})
            ).all()
            if not rows:
                continue
            partner = Principal(partner_id=hook.partner_id)
            for row in rows:
                if row.kind not in hook.events or not row.in_circle or not row.in_areas:
                    continue
                if row.need_id is not None and row.need_status is not None and not may_see_need(
                    partner, status=row.need_status, owner_id=row.owner_id, filed_by_id=row.filed_by_id,
                    ward_code=row.ward_code, partner_id=row.need_partner_id, active_donor=False,
                ) and row.kind != EventKind.NEED_HIDDEN.value:  # fmt: skip
                    continue  # a need this partner may not see (pending verification, under review)
                await session.execute(
                    text(
                        "INSERT INTO webhook_deliveries (webhook_id, event_seq) VALUES (:w, :s) "
                        "ON CONFLICT (webhook_id, event_seq) DO NOTHING"
                    ),
                    {"w": hook.id, "s": row.seq},
                )
                queued += 1
            hook.cursor_seq = rows[-1].seq
    return queued


# -- delivering ----------------------------------------------------------------------------------

_EVENT = text(
    """
    SELECT e.seq, e.kind, e.created_at, e.need_id, e.offer_id, e.pledge_id,
           n.title, n.category, n.status, n.quantity, n.quantity_pledged, n.quantity_delivered, n.unit, n.urgency,
           n.owner_id, n.filed_by_id, n.ward_code, n.partner_id, n.contact_phone, n.expires_at,
           ST_Y(geometry(n.location)) AS lat, ST_X(geometry(n.location)) AS lon,
           p.quantity AS pledge_quantity, p.status AS pledge_status,
           o.title AS offer_title, o.category AS offer_category, o.status AS offer_status,
           ST_Y(geometry(o.location)) AS offer_lat, ST_X(geometry(o.location)) AS offer_lon
    FROM events e
    LEFT JOIN needs n ON n.id = e.need_id
    LEFT JOIN pledges p ON p.id = e.pledge_id
    LEFT JOIN offers o ON o.id = e.offer_id
    WHERE e.seq = :seq
    """
)


def _global_id(type_name: str, pk: int) -> str:
    from aidmap.schema.ids import to_global_id

    return to_global_id(type_name, pk)


def need_projection(row: Any, *, partner_id: int, partner_private: bool) -> NeedProjection | None:
    """What this partner's endpoint may see of the event's need (a key acting for nobody); None when
    the event concerns no need that still exists."""
    if row.need_id is None or row.title is None:
        return None
    who = Principal(partner_id=partner_id, partner_may_see_private=partner_private)
    return project_need(who, row, active_donor=False)


def payload(row: Any, seen: NeedProjection | None) -> dict[str, Any]:
    """What an endpoint receives: the need as `need_projection` lets this partner see it (the exact
    point and phone only where the API would show them), the pledge or offer it concerns."""
    body: dict[str, Any] = {
        "id": f"evt_{row.seq}",
        "seq": row.seq,
        "kind": row.kind,
        "occurredAt": row.created_at.isoformat(),
    }
    if seen is not None:  # the fields a webhook carries: models/need_fields.py (WEBHOOK_FIELDS)
        body["need"] = need_fields.webhook_need(seen, global_id=_global_id("Need", row.need_id))
    if row.pledge_id is not None and row.pledge_quantity is not None:
        body["pledge"] = {
            "id": _global_id("Pledge", row.pledge_id),
            "quantity": row.pledge_quantity,
            "status": row.pledge_status,
        }
    if row.offer_id is not None and row.offer_title is not None:
        cell_lon, cell_lat = snap_to_cell(row.offer_lon, row.offer_lat)
        body["offer"] = {
            "id": _global_id("Offer", row.offer_id), "title": row.offer_title, "category": row.offer_category,
            "status": row.offer_status, "approximateLocation": {"lat": cell_lat, "lon": cell_lon},
        }  # fmt: skip
    return body


def _post(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, deadline_s: float = ATTEMPT_DEADLINE_S
) -> tuple[int | None, str | None]:
    """POST once: (HTTP status, None) or (None, why it failed). Redirects are not followed (a 3xx is a
    failed attempt): following one would let an endpoint send the request to any address."""
    parts = urlsplit(url)
    connection_class = _VettedHTTPS if parts.scheme == "https" else _VettedHTTP
    try:
        connection = connection_class(parts.hostname or "", parts.port, timeout=TIMEOUT_S, allow_private=allow_private)
    except ValueError as error:  # a port that is not a number
        return None, str(error)[:300]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # TIMEOUT_S bounds each connect, send and read; an endpoint that answers a byte every few
    # seconds passes every one of them, so the whole attempt also has a deadline: past it the
    # socket is shut down under the blocked call.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(deadline_s, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        if expired.is_set():
            return None, f"no complete answer within {deadline_s:g} s"
        return response.status, None
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set():
            return None, f"no complete answer within {deadline_s:g} s"
        return None, str(error)[:300] or type(error).__name__
    finally:
        watchdog.cancel()
        connection.close()


# An endpoint is claimed by one process for a while (a lease, committed at once), not locked by
# a transaction: no transaction or row lock is held across an HTTP call. A process that dies
# mid-delivery loses its lease after LEASE_S and another takes the endpoint over (at least once).
_CLAIM = text(
    """
    UPDATE webhooks SET lease_until = now() + make_interval(secs => :lease)
    WHERE id IN (
        SELECT w.id FROM webhooks w
        WHERE w.deleted_at IS NULL AND (w.lease_until IS NULL OR w.lease_until < now())
          AND w.id <> ALL(CAST(:busy AS bigint[]))
          AND EXISTS (SELECT 1 FROM webhook_deliveries d
                      WHERE d.webhook_id = w.id AND d.status = 'PENDING' AND d.next_attempt_at <= now())
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
                row = (await session.execute(_EVENT, {"seq": head.event_seq})).one()
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
                _post, url, body, headers,
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
    *, sessions: async_sessionmaker[AsyncSession], interval_s: float, policy: DeliveryPolicy, on_failure: Any = None
) -> Any:
    from aidmap.jobs.periodic import PeriodicJob

    # One task per endpoint: a slow endpoint holds only its own task, and the next ticks go on
    # claiming and serving the others.
    running: dict[int, asyncio.Task[int]] = {}

    async def step() -> None:
        await queue_new_events(sessions=sessions)
        for hook_id in await claim_due(sessions=sessions, policy=policy, busy=set(running)):
            task = asyncio.create_task(
                deliver_endpoint(hook_id, sessions=sessions, policy=policy, on_failure=on_failure),
                name=f"aidmap-webhook-{hook_id}",
            )
            running[hook_id] = task
            task.add_done_callback(lambda done, hook_id=hook_id: _finished(hook_id, done))

    def _finished(hook_id: int, task: asyncio.Task[int]) -> None:
        running.pop(hook_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivering webhook %s failed", hook_id, exc_info=task.exception())

    job = PeriodicJob(name="aidmap-webhooks", step=step, interval_s=interval_s)
    stop = job.stop

    async def stop_all() -> None:
        await stop()
        for task in list(running.values()):
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)

    job.stop = stop_all  # type: ignore[method-assign]
    return job
