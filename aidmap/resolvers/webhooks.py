"""Webhooks, the partner's side: registering an endpoint, its deliveries, which outbox events it
is queued (only what this partner may see), and what each delivery carries. Delivering them (in
order, signed, retried with backoff) is the background job in aidmap/jobs/webhooks.py.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aidmap.geo.privacy import snap_to_cell
from aidmap.i18n import msg
from aidmap.models import DeliveryStatus, EventKind, Webhook, WebhookDelivery, need_fields
from aidmap.models.need import Principal, may_see_need
from aidmap.models.projection import NeedProjection, project_need
from aidmap.net import http
from aidmap.problems import Code, Problems
from aidmap.resolvers.validation import Checker

if TYPE_CHECKING:
    from aidmap.jobs.webhooks import DeliveryPolicy

WEBHOOK_EVENTS = (
    EventKind.NEED_CREATED, EventKind.NEED_UPDATED, EventKind.NEED_CANCELLED, EventKind.NEED_EXPIRED,
    EventKind.NEED_RENEWED, EventKind.NEED_VERIFIED, EventKind.NEED_HIDDEN,
    EventKind.PLEDGE_CREATED, EventKind.PLEDGE_CANCELLED, EventKind.PLEDGE_DELIVERED,
    EventKind.NEED_PRIVATE_UPDATED, EventKind.PLEDGE_MARKED_DELIVERED,
    EventKind.OFFER_CREATED, EventKind.OFFER_UPDATED, EventKind.OFFER_WITHDRAWN,
)  # fmt: skip
# Told only to the partner app the need was filed through: what changed is private (the exact
# point within its cell, the phone), or it asks whoever is in charge of the need to act (confirm a
# delivery). Anyone else's endpoint learning of it would learn that the secret changed.
FILERS_ONLY = frozenset({EventKind.NEED_PRIVATE_UPDATED.value, EventKind.PLEDGE_MARKED_DELIVERED.value})
MAX_PER_PARTNER = 20
SCAN_BATCH = 1000
INSIDE_NETWORK = msg("Webhook URLs must reach the public internet, not addresses inside this network.")


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
        check.add("url", msg("Give an http or https URL."), Code.INVALID)
    if not events:
        check.add("events", msg("Choose at least one event."), Code.REQUIRED)
    if (near is None) != (radius_m is None):
        check.add("radiusMeters", msg("Give both near and radiusMeters, or neither."), Code.REQUIRED)
    if near is not None and radius_m is not None:
        check.point("near", near[0], near[1])
        check.radius("radiusMeters", radius_m)
    if check.problems:
        raise Problems(check.problems)
    if not policy.allow_private_addresses:
        reason = await asyncio.to_thread(http.refuse_private, url, inside=INSIDE_NETWORK)
        if reason is not None:
            raise Problems.one("url", reason, Code.INVALID)
    count = (
        await session.execute(
            text("SELECT count(*) FROM webhooks WHERE partner_id = :p AND deleted_at IS NULL"), {"p": partner_id}
        )
    ).scalar_one()
    if count >= MAX_PER_PARTNER:
        raise Problems.one(None, msg("At most {n} webhooks per partner.", n=MAX_PER_PARTNER), Code.QUOTA_EXCEEDED)
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
            scopes = (
                await session.execute(text("SELECT scopes FROM partners WHERE id = :p"), {"p": hook.partner_id})
            ).scalar_one()
            for row in rows:
                if row.kind not in hook.events or not row.in_circle or not row.in_areas:
                    continue
                if row.kind in FILERS_ONLY and row.need_partner_id != hook.partner_id:
                    continue
                if row.kind == EventKind.NEED_PRIVATE_UPDATED.value and "private:read" not in scopes:
                    continue  # told of a change to what this key may not see, it would learn that it changed
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


# -- what a delivery carries ---------------------------------------------------------------------

# The event's own columns; the need's, by their names, after them (models/need_fields.py WEBHOOK_COLUMNS:
# a field added to the webhook view is read here too), so the two must not share a name.
_EVENT_COLUMNS = ("seq", "kind", "created_at", "need_id", "offer_id", "pledge_id")
_shared = set(_EVENT_COLUMNS) & set(need_fields.WEBHOOK_COLUMNS)
if _shared:
    raise RuntimeError(f"need columns a webhook reads that the event row already has: {sorted(_shared)}")
EVENT_ROW = text(
    f"""
    SELECT {", ".join(f"e.{c}" for c in _EVENT_COLUMNS)},
           {need_fields.select_list("n", need_fields.WEBHOOK_COLUMNS)},
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
    if row.need_id is None or row.status is None:  # status: NOT NULL, so None only when the need is gone
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
