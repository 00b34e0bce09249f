"""The privacy rule, as a property: for a viewer who may not see a need's (or an offer's, or a donor's)
exact point, every answer is a function of its public cell alone.

Two worlds are built, the same in everything (the same accounts, needs, offers, availability and
operations, in the same order, so the same ids and cursors) except that in the second every exact
point is moved to another random place inside its own ~500 m cell. Public viewers (anonymous, an
unrelated account, a partner key without `private:read`, donors for the needs, the requester for
the offers) then run a battery an attacker would: searches from many origins with radii down to
3 m and at the exact distance +-1 m, paged to the end; `needsNearby` / `offersNearby` streams,
tiny circles included; suggestions from offers placed around the needs; an instant-help cascade.
Every response must be byte-identical in both worlds: ids, order, distances, scores and their
parts, page boundaries, cursors, which events reach which subscriber, which donor is asked in
which round, which ward a need is said to be in (one need's cell straddles two wards and world B
moves it across the boundary), which pairs a matching round proposes and their weights. On code
that searched or matched on the exact point, the tiny circles, the radii at the exact distance and
the order of needs sharing a cell all differ; with wards taken from the exact point, the ward.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import random
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx2
import psycopg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from aidmap.app import create_app
from aidmap.cli import partners
from aidmap.db.connect import connect
from aidmap.db.cursors import distance_cursor
from aidmap.db.engine import make_sessionmaker
from aidmap.fairness.areas import settings_area
from aidmap.fairness.reach import settings_reach
from aidmap.geo.distance import haversine_m
from aidmap.geo.privacy import CELL_LAT_DEG, _cell_lon_deg, snap_to_cell
from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.resolvers.proposals import run_round
from aidmap.schema.ids import from_global_id, to_global_id
from aidmap.settings import Settings
from tests.conftest import Api, serving
from tests.factories import create_need, create_offer, pledge, sign_up
from tests.live import LiveClient

CENTRE = (105.8542, 21.0285)  # (lon, lat), Hoàn Kiếm
Point = tuple[float, float]

NEEDS = """
query ($near: GeoPointInput!, $radius: Float!, $first: Int!, $after: String, $categories: [NeedCategory!]) {
  needs(near: $near, radiusMeters: $radius, first: $first, after: $after, categories: $categories) {
    edges { cursor distanceMeters node { id title urgency approximateLocation { lat lon } exactLocation { lat lon }
      contactPhone ward { code } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
TRIAGE = """
query ($near: GeoPointInput!, $radius: Float!, $first: Int!, $after: String, $categories: [NeedCategory!]) {
  needs(near: $near, radiusMeters: $radius, first: $first, after: $after, categories: $categories, orderBy: URGENCY,
        urgencies: [CRITICAL, HIGH, LOW]) {
    edges { cursor distanceMeters node { id title urgency approximateLocation { lat lon } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
# "Urgent only" (the page's box): nearest first among the HIGH and CRITICAL needs, each level
# searched on its own and the pages merged by distance, so the merge's order must be the cells' too.
URGENT_ONLY = """
query ($near: GeoPointInput!, $radius: Float!, $first: Int!, $after: String, $categories: [NeedCategory!]) {
  needs(near: $near, radiusMeters: $radius, first: $first, after: $after, categories: $categories,
        urgencies: [CRITICAL, HIGH]) {
    edges { cursor distanceMeters node { id title urgency approximateLocation { lat lon } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
OFFERS = """
query ($near: GeoPointInput!, $radius: Float!, $first: Int!, $after: String) {
  offers(near: $near, radiusMeters: $radius, first: $first, after: $after) {
    edges { cursor distanceMeters node { id title approximateLocation { lat lon } exactLocation { lat lon } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
SUGGESTED_NEEDS = """
query ($id: ID!) { suggestedNeeds(offerId: $id, first: 20) {
  distanceMeters score parts { distance urgency waiting quantity fairness } need { id exactLocation { lat } } } }"""
SUGGESTED_OFFERS = """
query ($id: ID!) { suggestedOffers(needId: $id, first: 20) {
  distanceMeters score parts { distance urgency waiting quantity fairness } offer { id exactLocation { lat } } } }"""
NEEDS_NEARBY = """
subscription ($near: GeoPointInput!, $radius: Float!, $categories: [NeedCategory!]) {
  needsNearby(near: $near, radiusMeters: $radius, categories: $categories) {
    cursor kind distanceMeters need { id status quantityPledged approximateLocation { lat lon } exactLocation { lat } }
  }
}"""
OFFERS_NEARBY = """
subscription ($near: GeoPointInput!, $radius: Float!) {
  offersNearby(near: $near, radiusMeters: $radius) {
    cursor kind distanceMeters offer { id approximateLocation { lat lon } exactLocation { lat } } }
}"""
MY_PROPOSALS = (
    "{ myProposals { id quantity score status need { id exactLocation { lat } } offer { id } collectionPoint { id } } }"
)
RELAY = """mutation ($input: PledgeInput!) { pledge(input: $input) {
  pledge { quantity collectionPoint { id unitsLeftToday } need { id quantityPledged exactLocation { lat } } }
  errors { field code } } }"""
POINTS = """query ($near: GeoPointInput!) { collectionPoints(near: $near, radiusMeters: 50000) {
  id reachMeters unitsLeftToday } }"""
ACTIVITY = "subscription { myActivity { cursor kind helpRequest { id status round } need { id } } }"
AVAILABLE = """mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) { errors { code } } }"""
HELP_NOW = """mutation ($input: RequestHelpNowInput!) { requestHelpNow(input: $input) { errors { code } } }"""


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Everything both worlds share, and the exact points, which they do not."""

    needs: list[dict[str, Any]]
    offers: list[dict[str, Any]]
    helpers: list[dict[str, Any]]  # donors available for instant help
    origins: list[Point]  # where the attacker measures from (chosen knowing world A's points)


def _point(p: Point) -> dict[str, float]:
    return {"lon": p[0], "lat": p[1]}


def _around(rng: random.Random, km: float) -> Point:
    angle, dist = rng.uniform(0, 2 * math.pi), km * 1000 * math.sqrt(rng.random())
    return (
        CENTRE[0] + dist * math.cos(angle) / (111_195 * math.cos(math.radians(CENTRE[1]))),
        CENTRE[1] + dist * math.sin(angle) / 111_195,
    )


def moved_within_cell(p: Point, rng: random.Random) -> Point:
    """Another point of the same grid cell, uniformly at random (never the same point)."""
    cell = snap_to_cell(*p)
    half_lat, half_lon = CELL_LAT_DEG / 2, _cell_lon_deg(cell[1]) / 2
    while True:
        q = (cell[0] + rng.uniform(-half_lon, half_lon), cell[1] + rng.uniform(-half_lat, half_lat))
        if snap_to_cell(*q) == cell and haversine_m(*p, *q) > 20:
            return q


WARDS = BUNDLED / "01_ha_noi.geojson"


def boundary_pair(url: str) -> tuple[Point, Point]:
    """Two points of one cell near the centre that lie in different wards: a need moved from one to
    the other must not change which ward anyone is told it is in, nor anything computed from wards."""
    import_files(url, [WARDS])
    rng = random.Random(5)
    with connect(url) as db:
        for _ in range(400):
            p = _around(rng, 1.5)
            q = moved_within_cell(p, rng)
            wards = db.execute(
                "SELECT (SELECT code FROM admin_areas WHERE level = 'ward' AND ST_Covers(geom, ST_Point(%s, %s, 4326))),"
                " (SELECT code FROM admin_areas WHERE level = 'ward' AND ST_Covers(geom, ST_Point(%s, %s, 4326)))",
                (*p, *q),
            ).fetchone()
            if wards[0] is not None and wards[1] is not None and wards[0] != wards[1]:
                return p, q
    raise AssertionError("no cell across a ward boundary near the centre")


def scenario(seed: int, across: tuple[Point, Point]) -> tuple[Scenario, Scenario]:
    rng = random.Random(seed)
    needs = [
        {
            "title": f"need {i}",
            "category": "FOOD" if i % 3 else "MEDICINE",
            "urgency": "CRITICAL" if i == 0 else rng.choice(["LOW", "NORMAL", "HIGH"]),
            "quantity": rng.randint(1, 6),
            # Several needs in one cell, so their order inside it is tested too.
            "point": _around(rng, 0.4) if i < 5 else _around(rng, 2.5),
        }
        for i in range(14)
    ]
    # The last need's cell straddles two wards; world B moves it across the boundary.
    needs.append({"title": "need 14", "category": "FOOD", "urgency": "HIGH", "quantity": 3, "point": across[0]})
    offers = [
        {"title": f"offer {i}", "category": "FOOD", "radius": rng.choice([700.0, 1500.0, 4000.0]),
         "quantity": rng.randint(1, 8), "point": _around(rng, 2.0)}
        for i in range(4)
    ]  # fmt: skip
    helpers = [{"point": _around(rng, 1.5), "radius": rng.choice([1500.0, 4000.0])} for _ in range(5)]
    targets = [n["point"] for n in needs[:4]] + [offers[0]["point"]]
    origins = [CENTRE, *targets, *(_around(rng, 2.0) for _ in range(3))]
    a = Scenario(needs=needs, offers=offers, helpers=helpers, origins=origins)
    move = random.Random(seed + 1)
    b = Scenario(
        needs=[{**n, "point": moved_within_cell(n["point"], move)} for n in needs[:-1]]
        + [{**needs[-1], "point": across[1]}],
        offers=[{**o, "point": moved_within_cell(o["point"], move)} for o in offers],
        helpers=[{**h, "point": moved_within_cell(h["point"], move)} for h in helpers],
        origins=origins,  # the attacker's questions do not change with the secret
    )
    return a, b


def _drain(client: LiveClient, quiet: float) -> list[dict[str, Any]]:
    got = []
    while True:
        try:
            got.append(client.next(timeout=quiet))
        except TimeoutError:
            return got


@contextlib.contextmanager
def _world(settings: Settings, url: str) -> Iterator[Api]:
    app = create_app(dataclasses.replace(settings, database_url=url), database_url=url)
    with serving(app) as base, httpx2.Client(base_url=base, timeout=30) as http:
        yield Api(http)  # type: ignore[arg-type]


def run_world(settings: Settings, url: str, world: Scenario, reference: Scenario) -> list[tuple[str, Any]]:
    """Build the world, then play the attacker; the transcript of every public answer."""
    transcript: list[tuple[str, Any]] = []
    rng = random.Random(99)  # the attacker's own choices: the same in both worlds
    with _world(settings, url) as api:
        live_url = str(api.http.base_url).rstrip("/")  # type: ignore[attr-defined]
        import_files(url, [WARDS])  # needs get their ward: verifiers, webhooks' areas, matching by ward
        requester, stranger = sign_up(api), sign_up(api)
        donors = [sign_up(api) for _ in world.offers]
        pledger = sign_up(api)  # sees need 2's point once pledged: not one of the public viewers
        helpers = [sign_up(api) for _ in world.helpers]
        key = partners.create(
            url=url, name="no private", scopes=partners.parse_scopes("needs:read,offers:read"),
            rate_limit_per_minute=100_000, allowed_origins=[],
        )[1]  # fmt: skip
        viewers = [None, stranger, key]
        target = reference.needs[0]["point"]  # the attacker knows (or guesses) world A's point

        with contextlib.ExitStack() as stack:
            subscriptions = []
            for who, query, variables in [
                (None, NEEDS_NEARBY, {"near": _point(target), "radius": 3.0}),
                (None, NEEDS_NEARBY, {"near": _point(target), "radius": 60.0}),
                (stranger, NEEDS_NEARBY, {"near": _point(reference.needs[1]["point"]), "radius": 250.0}),
                (key, NEEDS_NEARBY, {"near": _point(CENTRE), "radius": 800.0, "categories": ["FOOD"]}),
                (None, NEEDS_NEARBY, {"near": _point(CENTRE), "radius": 5000.0}),
                (None, OFFERS_NEARBY, {"near": _point(reference.offers[0]["point"]), "radius": 30.0}),
                (stranger, OFFERS_NEARBY, {"near": _point(CENTRE), "radius": 1800.0}),
            ]:
                client = stack.enter_context(LiveClient(live_url, who))
                client.subscribe(query, variables)
                subscriptions.append(client)
            activity = []
            for token in helpers:
                client = stack.enter_context(LiveClient(live_url, token))
                client.subscribe(ACTIVITY)
                activity.append(client)
            for client in [*subscriptions, *activity]:
                assert client.nothing_within(0.2)  # registered before anything happens

            need_ids = [
                create_need(api, requester, title=n["title"], category=n["category"], urgency=n["urgency"],
                            quantity=n["quantity"], location=_point(n["point"]))["id"]
                for n in world.needs
            ]  # fmt: skip
            offer_ids = [
                create_offer(api, donor, title=o["title"], category=o["category"], quantity=o["quantity"],
                             radiusMeters=o["radius"], location=_point(o["point"]))["id"]
                for donor, o in zip(donors, world.offers, strict=True)
            ]  # fmt: skip
            pledge(api, pledger, need_ids[2], 1)
            # Waiting time is a score part: the same (full) wait in both worlds, whenever each was built.
            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as db:
                db.execute("UPDATE needs SET created_at = now() - interval '10 days'")

            for i, client in enumerate(subscriptions):
                transcript.append((f"subscription {i}", _drain(client, 0.6)))

            for origin in world.origins:
                for radius in (3.0, 60.0, 400.0, 1200.0, 5000.0, *_exact_radii(origin, reference)):
                    who = rng.choice(viewers)
                    first = rng.choice([1, 3, 20])
                    categories = rng.choice([None, ["FOOD"]])
                    transcript.append(
                        (f"needs {origin} {radius} {first}", _pages(api, NEEDS, "needs", who, origin, radius, first,
                                                                    categories))
                    )  # fmt: skip
                for radius in (60.0, 1200.0, *_exact_radii(origin, reference)):
                    # Most urgent first: the order inside each urgency and the page ends are the cells' too.
                    transcript.append(
                        (f"triage {origin} {radius}", _pages(api, TRIAGE, "needs", rng.choice(viewers), origin, radius,
                                                             2, None))
                    )  # fmt: skip
                    transcript.append(
                        (f"urgent only {origin} {radius}", _pages(api, URGENT_ONLY, "needs", rng.choice(viewers),
                                                                  origin, radius, 2, None))
                    )  # fmt: skip
                transcript.append(
                    (f"offers {origin}", _pages(api, OFFERS, "offers", rng.choice(viewers), origin, 2500.0, 2, None))
                )
                # A bookmark made from a need's id, replayed at radii just inside and just outside
                # that need's exact distance: whether it ends the list at once (beyond the radius) or
                # pages on is decided by its cell, never by where the need really is.
                for need_id in need_ids[:4]:
                    bookmark = distance_cursor(from_global_id(need_id)[1])
                    for radius in (400.0, *_exact_radii(origin, reference)):
                        variables = {"near": _point(origin), "radius": radius, "first": 3, "after": bookmark}
                        transcript.append((f"bookmark {need_id} {origin} {radius}", api.post(NEEDS, variables)))
            for donor, offer_id in zip(donors, offer_ids, strict=True):
                transcript.append((f"suggestedNeeds {offer_id}", api.post(SUGGESTED_NEEDS, {"id": offer_id}, donor)))
            for need_id in need_ids[:5]:
                transcript.append(
                    (f"suggestedOffers {need_id}", api.post(SUGGESTED_OFFERS, {"id": need_id}, requester))
                )

            # Collection points whose reach ends exactly at world A's need points (the attacker's best
            # guess): whether a relay through one is taken, and what the points say after, are the cells'
            # too; then the round below may propose through them as well.
            sign_up(api)  # the points' manager, the newest account when they are opened (max(id) below)
            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as db:
                for n in reference.needs[:4]:
                    db.execute(
                        "INSERT INTO collection_points (name, address, location, reach_meters, units_per_day, manager_id)"
                        " SELECT 'p', 'a', ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s, 100, max(id)"
                        " FROM accounts",
                        (*CENTRE, haversine_m(*CENTRE, *n["point"])),
                    )
                point_ids = [r[0] for r in db.execute("SELECT id FROM collection_points ORDER BY id")]
            relayer = sign_up(api)
            relay_offers = [
                create_offer(api, relayer, category=n["category"], quantity=20, radiusMeters=2000.0,
                             location=_point(CENTRE))["id"]
                for n in world.needs[:4]
            ]  # fmt: skip
            for point_id in point_ids:
                for need_id, relay_offer in zip(need_ids[:4], relay_offers, strict=True):
                    variables = {"input": {"needId": need_id, "quantity": 1, "offerId": relay_offer,
                                           "collectionPointId": to_global_id("CollectionPoint", point_id)}}  # fmt: skip
                    transcript.append((f"relay {point_id} {need_id}", api.post(RELAY, variables, relayer)))
            transcript.append(("collectionPoints", api.post(POINTS, {"near": _point(CENTRE)}, stranger)))

            # A matching round, with the deployment's fairness, reach and ward weights: which donor is
            # proposed which need, and each pair's weight, are the cells' too.
            proposed = _matching_round(settings, url)
            transcript.append(("matching round", proposed))
            for i, donor in enumerate(donors):
                transcript.append((f"myProposals {i}", api.post(MY_PROPOSALS, {}, donor)))

            for token, h in zip(helpers, world.helpers, strict=True):
                answer = api.data(
                    AVAILABLE, {"input": {"available": True, "near": _point(h["point"]), "radiusMeters": h["radius"]}},
                    token,
                )  # fmt: skip
                assert answer["setAvailability"]["errors"] == []
            transcript.append(("requestHelpNow", api.post(HELP_NOW, {"input": {"needId": need_ids[0]}}, requester)))
            # Rounds are 1 s apart (settings.help_timeout_seconds): wait out the whole cascade.
            for i, client in enumerate(activity):
                transcript.append((f"helper {i}", _drain(client, 3.5 if i == 0 else 0.5)))
        # The repeated searches went the compiled way (schema/fast/compiled.py) too, so the rule is proved there.
        assert _compiled_answers(live_url) > 0
    return transcript


def _matching_round(settings: Settings, url: str) -> int:
    async def go() -> int:
        engine = create_async_engine(url)
        try:
            report = await run_round(
                sessions=make_sessionmaker(engine), fairness_weight=settings.matching_fairness_weight,
                reach=settings_reach(settings), proposal_ttl=timedelta(hours=24), area=settings_area(settings),
                area_days=settings.fairness_area_days,
            )  # fmt: skip
            return 0 if report is None else report.proposals
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _compiled_answers(base: str) -> float:
    for line in httpx2.get(base + "/metrics").text.splitlines():
        if line.startswith("aidmap_graphql_compiled_requests_total"):
            return float(line.split()[-1])
    raise AssertionError("no compiled-path counter in /metrics")


def _exact_radii(origin: Point, reference: Scenario) -> list[float]:
    """The binary-search attack's last step: radii just inside and outside world A's exact distances."""
    radii = []
    for n in reference.needs[:3]:
        d = haversine_m(*origin, *n["point"])
        if 1 < d < 50_000:
            radii += [d - 1.0, d + 1.0]
    return radii


def _pages(
    api: Api, query: str, root: str, who: str | None, origin: Point, radius: float, first: int, categories: Any
) -> list[Any]:
    pages: list[Any] = []
    after = None
    while len(pages) < 30:
        variables = {"near": _point(origin), "radius": radius, "first": first, "after": after}
        if categories:
            variables["categories"] = categories
        body = api.post(query, variables, who)
        pages.append(body)
        info = body.get("data", {}) and body["data"][root]["pageInfo"]
        if not info or not info["hasNextPage"]:
            return pages
        after = info["endCursor"]
    return pages


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2021, 7])
def test_moving_exact_points_inside_their_cells_changes_no_public_answer(
    settings: Settings, fresh_database: Callable[[], str], seed: int
) -> None:
    a, b = scenario(seed, boundary_pair(fresh_database()))
    first = run_world(settings, fresh_database(), a, reference=a)
    second = run_world(settings, fresh_database(), b, reference=a)

    assert [label for label, _ in first] == [label for label, _ in second]
    for (label, answer_a), (_, answer_b) in zip(first, second, strict=True):
        assert json.dumps(answer_a, sort_keys=True) == json.dumps(answer_b, sort_keys=True), label

    # The battery is not vacuous: it saw needs, events, scores and a cascade.
    answers = dict(first)
    assert any(e["data"]["needs"]["edges"] for k, pages in first if k.startswith("needs") for e in pages)
    assert answers["subscription 4"] and all("errors" not in e for e in answers["subscription 4"])
    assert any(body["data"]["suggestedNeeds"] for k, body in first if k.startswith("suggestedNeeds"))
    assert answers["matching round"] > 0
    assert any(e["node"]["ward"] for k, pages in first if k.startswith("needs") for p in pages
               for e in p["data"]["needs"]["edges"])  # fmt: skip
    assert any(body["data"]["myProposals"] for k, body in first if k.startswith("myProposals"))
    relays = [body["data"]["pledge"]["errors"] for k, body in first if k.startswith("relay")]
    assert [] in relays and [{"field": "collectionPointId", "code": "OUT_OF_RANGE"}] in relays, relays
    asked = [e for k, events in first if k.startswith("helper") for e in events]
    assert sum(e["data"]["myActivity"]["kind"] == "HELP_ASKED" for e in asked) >= 3, asked
    # Nobody public saw an exact point or phone anywhere in it.
    text = json.dumps(first)
    assert '"exactLocation": {' not in text and '"contactPhone": "' not in text
