"""Waiting needs reach further (aidmap/fairness/reach.py, aidmap/jobs/waiting.py): in needsNearby (kind
WAITING), suggestions and instant help; always cell to cell and from public facts only."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import create_async_engine

from aidmap.db.engine import make_sessionmaker
from aidmap.fairness.reach import settings_reach
from aidmap.geo.privacy import snap_to_cell
from aidmap.jobs.waiting import announce_waiting
from aidmap.schema.ids import from_global_id
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import HANOI, account_pk, create_need, create_offer, pledge, sign_up
from tests.live import LiveClient

NEEDS_NEARBY = """subscription ($near: GeoPointInput!, $radius: Float!, $after: String) {
  needsNearby(near: $near, radiusMeters: $radius, after: $after) { cursor kind distanceMeters need { id status } } }"""
SUGGESTED = (
    """query ($id: ID!) { suggestedNeeds(offerId: $id) { need { id } distanceMeters score parts { distance } } }"""
)
SUGGESTED_OFFERS = (
    """query ($id: ID!) { suggestedOffers(needId: $id) { offer { id } distanceMeters parts { distance } } }"""
)
AVAILABLE = """mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) { errors { code } } }"""
REQUEST = """mutation ($input: RequestHelpNowInput!) {
  requestHelpNow(input: $input) { helpRequest { id round } errors { code } } }"""


def _north(km: float) -> dict[str, float]:
    return {"lat": HANOI["lat"] + km / 111.2, "lon": HANOI["lon"]}


def _announce(settings: Settings) -> int:
    async def go() -> int:
        engine = create_async_engine(settings.database_url or "")
        try:
            return await announce_waiting(sessions=make_sessionmaker(engine), reach=settings_reach(settings))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _age(db: psycopg.Connection[Any], need_id: str, hours: float) -> None:
    db.execute("UPDATE needs SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
               (hours * 3600, from_global_id(need_id)[1]))  # fmt: skip


def _event(client: LiveClient) -> dict[str, Any]:
    payload = client.next()
    assert "errors" not in payload, payload
    event: dict[str, Any] = payload["data"]["needsNearby"]
    return event


def test_the_waiting_job_grows_the_reach_in_steps_and_stops_at_a_pledge(
    api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    requester, donor = sign_up(api), sign_up(api)
    young, old, pledged = (create_need(api, requester, title=t) for t in ("young", "old", "pledged"))
    _age(db, young["id"], 11)
    _age(db, old["id"], 20)  # 8 h past the 12 h threshold at 0.5 km/h: 4 km
    _age(db, pledged["id"], 20)
    assert pledge(api, donor, pledged["id"], 1)["errors"] == []

    assert _announce(settings) == 1
    assert _announce(settings) == 0  # nothing grew since
    _age(db, old["id"], 22.5)  # 5.25 km, in whole steps of 1 km: 5
    assert _announce(settings) == 1
    _age(db, old["id"], 500)  # capped at 25 km
    assert _announce(settings) == 1
    assert _announce(settings) == 0
    rows = db.execute(
        "SELECT radius_meters, reach_from_meters, status FROM events WHERE kind = 'NEED_WAITING' ORDER BY seq"
    ).fetchall()
    assert rows == [(4000.0, None, "OPEN"), (5000.0, 4000.0, "OPEN"), (25000.0, 5000.0, "OPEN")]
    reaches = dict(db.execute("SELECT title, waiting_reach_m FROM needs").fetchall())
    assert reaches == {"young": 0.0, "old": 25000.0, "pledged": 0.0}


def test_needs_nearby_sends_waiting_to_the_circles_newly_reached(
    api: Api, live_server: LiveServer, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    requester, watcher, helper = sign_up(api), sign_up(api), sign_up(api)
    with (
        LiveClient(live_server.url, watcher) as near,
        LiveClient(live_server.url, watcher) as reached,
        LiveClient(live_server.url, watcher) as beyond,
    ):
        near.subscribe(NEEDS_NEARBY, {"near": _north(1), "radius": 3000})
        reached.subscribe(NEEDS_NEARBY, {"near": _north(6), "radius": 3000})
        beyond.subscribe(NEEDS_NEARBY, {"near": _north(9), "radius": 3000})
        near.nothing_within(0.3)
        need = create_need(api, requester, title="chờ lâu", quantity=4)
        created = _event(near)
        assert created["kind"] == "CREATED"
        _age(db, need["id"], 20)  # reach 3 + 4 = 7 km
        assert _announce(settings) == 1
        waiting = _event(reached)
        assert (waiting["kind"], waiting["need"]["id"]) == ("WAITING", need["id"])
        assert 5500 <= waiting["distanceMeters"] <= 6500  # cell to cell, beyond the circle's 3 km
        assert near.nothing_within(0.3) and beyond.nothing_within(0.1)

        # Its later changes reach the circles it reached (the status change included).
        assert pledge(api, helper, need["id"], 1)["errors"] == []
        assert _event(near)["kind"] == _event(reached)["kind"] == "UPDATED"
        assert beyond.nothing_within(0.3)

    # A reconnecting subscriber gets the same from its cursor.
    with LiveClient(live_server.url, watcher) as again:
        again.subscribe(NEEDS_NEARBY, {"near": _north(6), "radius": 3000, "after": created["cursor"]})
        replayed = [_event(again) for _ in range(2)]
        assert [e["kind"] for e in replayed] == ["WAITING", "UPDATED"]
        assert again.nothing_within(0.3)


def _until(check: Any) -> Any:
    for _ in range(100):  # the match index follows the event stream
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return check()


def test_suggestions_reach_a_waiting_need_beyond_the_radius_from_its_cell(
    api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    requester, donor, helper = sign_up(api), sign_up(api), sign_up(api)
    need = create_need(api, requester, title="xa", quantity=4)
    offer = create_offer(api, donor, location=_north(6), radiusMeters=3000)
    assert api.data(SUGGESTED, {"id": offer["id"]}, donor)["suggestedNeeds"] == []
    _age(db, need["id"], 20)
    assert _announce(settings) == 1

    answer = _until(lambda: api.data(SUGGESTED, {"id": offer["id"]}, donor)["suggestedNeeds"])
    assert [(s["need"]["id"], s["distanceMeters"], s["parts"]["distance"]) for s in answer] == [
        (need["id"], 6000.0, 0.0)
    ]
    offers = api.data(SUGGESTED_OFFERS, {"id": need["id"]}, requester)["suggestedOffers"]
    assert [(s["offer"]["id"], s["parts"]["distance"]) for s in offers] == [(offer["id"], 0.0)]

    # What the donor sees is the same wherever the person is inside the cell.
    lon, lat = snap_to_cell(HANOI["lon"], HANOI["lat"])
    for d_lon, d_lat in ((0.0015, 0.001), (-0.0015, -0.001)):
        assert snap_to_cell(lon + d_lon, lat + d_lat) == (lon, lat)
        db.execute(
            "UPDATE needs SET location = ST_MakePoint(%s, %s)::geography WHERE title = 'xa'", (lon + d_lon, lat + d_lat)
        )
        assert api.data(SUGGESTED, {"id": offer["id"]}, donor)["suggestedNeeds"] == answer
        assert api.data(SUGGESTED_OFFERS, {"id": need["id"]}, requester)["suggestedOffers"] == offers

    # Something pledged: it is no longer waiting, and reaches only the radius again.
    assert pledge(api, helper, need["id"], 1)["errors"] == []
    assert _until(lambda: not api.data(SUGGESTED, {"id": offer["id"]}, donor)["suggestedNeeds"])


def test_instant_help_asks_donors_a_waiting_need_reaches(
    api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    requester, near, far, farther = sign_up(api), sign_up(api), sign_up(api), sign_up(api)
    for token, km in ((near, 1), (far, 6), (farther, 12)):
        payload = api.data(AVAILABLE, {"input": {"available": True, "near": _north(km), "radiusMeters": 3000}}, token)
        assert payload["setAvailability"]["errors"] == []
    fresh = create_need(api, requester, title="mới", urgency="CRITICAL")
    waited = create_need(api, requester, title="chờ", urgency="CRITICAL")
    _age(db, waited["id"], 20)
    assert _announce(settings) == 1
    for need in (fresh, waited):
        assert api.data(REQUEST, {"input": {"needId": need["id"]}}, requester)["requestHelpNow"]["errors"] == []
    asked = db.execute(
        "SELECT n.title, array_agg(h.donor_id ORDER BY h.donor_id) FROM help_asks h "
        "JOIN help_requests r ON r.id = h.help_request_id JOIN needs n ON n.id = r.need_id GROUP BY n.title"
    ).fetchall()
    pks = {name: account_pk(db, token) for name, token in (("near", near), ("far", far))}
    assert dict(asked) == {"mới": [pks["near"]], "chờ": sorted([pks["near"], pks["far"]])}
