"""Reading the outbox: the listener's catch-up and a reconnecting subscriber's replay."""

from __future__ import annotations

from typing import Any

from aidmap.db.reader import Reader
from aidmap.events.fanout import NEED_KINDS, OFFER_KINDS, AreaFilter, LiveEvent, Topic
from aidmap.models import EventKind

_COLUMNS = (
    "seq, kind, need_id, offer_id, pledge_id, message_id, category, status, "
    "ST_X(geometry(location)) AS lon, ST_Y(geometry(location)) AS lat, audience, radius_meters, help_request_id, reach_from_meters, proposal_id"
)
REPLAY_LIMIT = 1000


def to_live_event(row: Any) -> LiveEvent:
    return LiveEvent(
        seq=row.seq,
        kind=EventKind(row.kind),
        need_id=row.need_id,
        offer_id=row.offer_id,
        pledge_id=row.pledge_id,
        message_id=row.message_id,
        category=row.category,
        status=row.status,
        lon=row.lon,
        lat=row.lat,
        audience=tuple(row.audience),
        radius_m=row.radius_meters,
        help_request_id=row.help_request_id,
        reach_from_m=row.reach_from_meters,
        proposal_id=row.proposal_id,
    )


async def latest_seq(reader: Reader) -> int:
    rows = await reader.fetch("SELECT coalesce(max(seq), 0) AS seq FROM events", {})
    return int(rows[0].seq)


async def events_after(reader: Reader, seq: int, *, limit: int = REPLAY_LIMIT) -> list[LiveEvent]:
    """All events after `seq`, in order (the listener's catch-up)."""
    sql = f"SELECT {_COLUMNS} FROM events WHERE seq > %(seq)s::bigint ORDER BY seq LIMIT %(limit)s::int"
    return [to_live_event(r) for r in await reader.fetch(sql, {"seq": seq, "limit": limit})]


async def area_events_after(reader: Reader, topic: Topic, area: AreaFilter, seq: int) -> list[LiveEvent]:
    """Missed events of one area subscription, in order: the same filter the fan-out applies."""
    kinds = sorted(NEED_KINDS if topic is Topic.NEEDS else OFFER_KINDS)
    subject = "need_id" if topic is Topic.NEEDS else "offer_id"
    sql = (
        f"SELECT {_COLUMNS} FROM events WHERE seq > %(seq)s::bigint AND kind = ANY(%(kinds)s::text[]) "
        f"AND {subject} IS NOT NULL AND (cardinality(%(categories)s::text[]) = 0 OR category = ANY(%(categories)s::text[])) "
        "AND ST_DWithin(location, geography(ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326)), "
        f"%(radius)s::float8 + {'coalesce(radius_meters, 0) + ' if topic is Topic.NEEDS else ''}1000) "
        "ORDER BY seq LIMIT %(limit)s::int"
    )
    params = {
        "seq": seq, "kinds": kinds, "categories": sorted(area.categories), "lon": area.lon, "lat": area.lat,
        "radius": area.radius_m, "limit": REPLAY_LIMIT,
    }  # fmt: skip
    # The SQL circle is a little wider; the exact check is the fan-out's own, so both agree.
    return [e for e in map(to_live_event, await reader.fetch(sql, params)) if area.matches(e)]


async def activity_events_after(reader: Reader, account_id: int, seq: int) -> list[LiveEvent]:
    sql = (
        f"SELECT {_COLUMNS} FROM events WHERE seq > %(seq)s::bigint AND audience @> ARRAY[%(account)s::bigint] "
        "ORDER BY seq LIMIT %(limit)s::int"
    )
    return [
        to_live_event(r) for r in await reader.fetch(sql, {"seq": seq, "account": account_id, "limit": REPLAY_LIMIT})
    ]
