"""The attack the grid is for: an unauthorised donor queries one need from many places and fits its position.

Distances are computed from the need's fixed ~500 m cell and rounded to 100 m, so the
best least-squares fit lands on the cell, not the person: on average it must stay at
least a quarter of a cell (125 m) from the true point.
"""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import psycopg

from aidmap.db.cursors import event_cursor
from aidmap.geo.distance import METERS_PER_DEGREE_LAT, haversine_m
from aidmap.geo.privacy import CELL_SIZE_M, snap_to_cell
from tests.conftest import Api, LiveServer
from tests.factories import create_need, create_offer, sign_up
from tests.live import LiveClient

WITHDRAW = "mutation ($input: WithdrawOfferInput!) { withdrawOffer(input: $input) { errors { code } } }"
CANCEL = "mutation ($input: CancelNeedInput!) { cancelNeed(input: $input) { errors { code } } }"

NEARBY = """query ($near: GeoPointInput!) {
  needs(near: $near, radiusMeters: 6000, first: 100) { edges { distanceMeters node { id exactLocation { lat } } } } }"""


def _least_squares(observations: list[tuple[float, float, float]], start: tuple[float, float]) -> tuple[float, float]:
    """Gauss-Newton fit of the point whose distances to the origins best match the observations."""
    lat0 = start[1]
    mx = METERS_PER_DEGREE_LAT * math.cos(math.radians(lat0))
    my = METERS_PER_DEGREE_LAT
    pts = [((lon - start[0]) * mx, (lat - start[1]) * my, d) for lon, lat, d in observations]
    x, y = 0.0, 0.0
    for _ in range(50):
        jtj = [[0.0, 0.0], [0.0, 0.0]]
        jtr = [0.0, 0.0]
        for ox, oy, d in pts:
            dist = math.hypot(x - ox, y - oy) or 1e-9
            jx, jy, r = (x - ox) / dist, (y - oy) / dist, dist - d
            jtj[0][0] += jx * jx
            jtj[0][1] += jx * jy
            jtj[1][1] += jy * jy
            jtr[0] += jx * r
            jtr[1] += jy * r
        det = jtj[0][0] * jtj[1][1] - jtj[0][1] ** 2
        if abs(det) < 1e-12:
            break
        dx = (jtj[1][1] * jtr[0] - jtj[0][1] * jtr[1]) / det
        dy = (jtj[0][0] * jtr[1] - jtj[0][1] * jtr[0]) / det
        x, y = x - dx, y - dy
        if math.hypot(dx, dy) < 0.01:
            break
    return start[0] + x / mx, start[1] + y / my


def test_many_origins_cannot_locate_a_need_closer_than_a_quarter_cell(api: Api) -> None:
    rng = random.Random(1)
    requester, attacker = sign_up(api), sign_up(api)
    truth = {}
    for _ in range(25):
        point = {"lat": 21.0 + rng.uniform(0, 0.05), "lon": 105.8 + rng.uniform(0, 0.05)}
        truth[create_need(api, requester, location=point)["id"]] = point

    observations: dict[str, list[tuple[float, float, float]]] = {need_id: [] for need_id in truth}
    for _ in range(40):
        origin = {"lat": 21.0 + rng.uniform(-0.02, 0.07), "lon": 105.8 + rng.uniform(-0.02, 0.07)}
        for edge in api.data(NEARBY, {"near": origin}, attacker)["needs"]["edges"]:
            assert edge["node"]["exactLocation"] is None
            observations[edge["node"]["id"]].append((origin["lon"], origin["lat"], edge["distanceMeters"]))

    errors, to_cell = [], []
    for need_id, point in truth.items():
        seen = observations[need_id]
        assert len(seen) >= 10
        start = (point["lon"] + 0.01, point["lat"] + 0.01)  # the attacker's guess need not be good
        lon, lat = _least_squares(seen, start)
        errors.append(haversine_m(lon, lat, point["lon"], point["lat"]))
        to_cell.append(haversine_m(lon, lat, *snap_to_cell(point["lon"], point["lat"])))

    mean_error = sum(errors) / len(errors)
    assert mean_error >= CELL_SIZE_M / 4, f"the fit came within {mean_error:.0f} m on average"
    # The attack itself works: it finds the cell. The cell is what protects the person.
    assert sum(to_cell) / len(to_cell) < mean_error / 2


# -- The other channels (issue 13): each attack an outsider can run, each held to the same bar. ----------

RADIUS_PROBE = """query ($near: GeoPointInput!, $radius: Float!) {
  needs(near: $near, radiusMeters: $radius, first: 100) { edges { node { id } } } }"""
SUGGESTED = """query ($id: ID!) { suggestedNeeds(offerId: $id, first: 50) { parts { distance } need { id } } }"""
ORDER = """query ($near: GeoPointInput!) {
  needs(near: $near, radiusMeters: 3000, categories: [FOOD], first: 100) { edges { node { id } } } }"""
CELL_REPLAY = """subscription ($near: GeoPointInput!, $radius: Float!, $after: String) {
  needsNearby(near: $near, radiusMeters: $radius, after: $after) { need { id } } }"""
MEAN_CELL_DISTANCE_M = 0.383 * CELL_SIZE_M  # mean distance from a square's centre to a uniform point in it


def _targets(api: Api, requester: str, rng: random.Random, n: int = 20) -> dict[str, tuple[float, float]]:
    """n needs at random points of Hà Nội, at least 1 km apart (so each attack sees one at a time)."""
    truth: dict[str, tuple[float, float]] = {}
    while len(truth) < n:
        point = (105.78 + rng.uniform(0, 0.12), 20.98 + rng.uniform(0, 0.1))
        if all(haversine_m(*point, *other) > 1000 for other in truth.values()):
            need = create_need(api, requester, location={"lon": point[0], "lat": point[1]}, quantity=5)
            truth[need["id"]] = point
    return truth


def _offset(point: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    return (
        point[0] + east_m / (METERS_PER_DEGREE_LAT * math.cos(math.radians(point[1]))),
        point[1] + north_m / METERS_PER_DEGREE_LAT,
    )


def _assert_far(estimates: dict[str, tuple[float, float]], truth: dict[str, tuple[float, float]], attack: str) -> None:
    errors = [haversine_m(*estimates[k], *truth[k]) for k in truth]
    mean = sum(errors) / len(errors)
    assert len(errors) >= 20
    print(f"{attack}: the best estimate is {mean:.0f} m from the person on average")  # shown with pytest -rP
    assert mean >= CELL_SIZE_M / 4, f"{attack}: the estimate came within {mean:.0f} m on average"


def test_binary_search_on_the_radius_finds_the_cell_not_the_person(api: Api) -> None:
    """From three origins, the smallest radius that still returns the need, found to 0.3 m, then trilaterated."""
    rng = random.Random(13)
    requester, attacker = sign_up(api), sign_up(api)
    truth = _targets(api, requester, rng)
    estimates = {}
    for need_id, point in truth.items():
        guess = _offset(point, 300, -200)  # the attacker's rough idea (a cell's worth off)
        observations = []
        for east, north in ((1500, 0), (-800, 1300), (-800, -1300)):
            origin = _offset(guess, east, north)
            low, high = 0.0, 5000.0
            for _ in range(14):
                middle = (low + high) / 2
                edges = api.data(RADIUS_PROBE, {"near": {"lon": origin[0], "lat": origin[1]}, "radius": middle},
                                 attacker)["needs"]["edges"]  # fmt: skip
                if any(e["node"]["id"] == need_id for e in edges):
                    high = middle
                else:
                    low = middle
            observations.append((origin[0], origin[1], high))
        estimates[need_id] = _least_squares(observations, guess)
    _assert_far(estimates, truth, "radius binary search")


def test_score_parts_from_three_planted_offers_find_the_cell_not_the_person(api: Api) -> None:
    """A donor places three offers around a need and trilaterates from `parts.distance` (1 - d / radius)."""
    rng = random.Random(14)
    requester, attacker = sign_up(api), sign_up(api)
    truth = _targets(api, requester, rng)
    estimates = {}
    for need_id, point in truth.items():
        guess = _offset(point, -250, 250)
        observations = []
        for east, north in ((1200, 0), (-600, 1000), (-600, -1000)):
            spot = _offset(guess, east, north)
            offer = create_offer(api, attacker, location={"lon": spot[0], "lat": spot[1]}, radiusMeters=3000)
            parts = []
            for _ in range(100):  # the match index follows the event stream
                parts = [s["parts"]["distance"] for s in api.data(SUGGESTED, {"id": offer["id"]}, attacker)[
                    "suggestedNeeds"] if s["need"]["id"] == need_id]  # fmt: skip
                if parts:
                    break
                time.sleep(0.05)
            assert parts, "the offer should reach the need"
            # A well-read attacker measures from its offer's cell, as the score does (docs: cell to cell).
            observations.append((*snap_to_cell(*spot), (1 - parts[0]) * 3000))
            api.data(WITHDRAW, {"input": {"offerId": offer["id"]}}, attacker)
        estimates[need_id] = _least_squares(observations, guess)
    _assert_far(estimates, truth, "score parts")


def test_order_against_a_planted_need_finds_the_cell_not_the_person(api: Api) -> None:
    """The attacker plants a need of its own at the target's cell centre and asks from eight directions
    whether the target comes first: on exact-distance order that tells on which side of the centre it is."""
    rng = random.Random(15)
    requester, attacker = sign_up(api), sign_up(api)
    truth = _targets(api, requester, rng)
    estimates = {}
    for need_id, point in truth.items():
        centre = snap_to_cell(*point)  # public: the need's approximateLocation
        planted = create_need(api, attacker, location={"lon": centre[0], "lat": centre[1]})["id"]
        pull_east = pull_north = 0.0
        for k in range(8):
            angle = k * math.pi / 4
            origin = _offset(centre, 800 * math.cos(angle), 800 * math.sin(angle))
            ids = [e["node"]["id"] for e in api.data(ORDER, {"near": {"lon": origin[0], "lat": origin[1]}}, attacker)[
                "needs"]["edges"]]  # fmt: skip
            side = 1.0 if ids.index(need_id) < ids.index(planted) else -1.0
            pull_east, pull_north = pull_east + side * math.cos(angle), pull_north + side * math.sin(angle)
        norm = math.hypot(pull_east, pull_north)
        estimates[need_id] = (
            _offset(centre, MEAN_CELL_DISTANCE_M * pull_east / norm, MEAN_CELL_DISTANCE_M * pull_north / norm)
            if norm > 1e-9
            else centre
        )
        api.data(CANCEL, {"input": {"needId": planted}}, attacker)
    _assert_far(estimates, truth, "order against a planted need")


def test_tiny_needs_nearby_circles_replayed_find_the_cell_not_the_person(
    api: Api, live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    """needsNearby replays missed events for any circle: one circle on each quarter of the target's cell
    (replayed from just before it was created) tells which quarter holds the event's point."""
    rng = random.Random(16)
    requester = sign_up(api)
    truth: dict[str, tuple[float, float]] = {}
    before: dict[str, str] = {}
    while len(truth) < 20:
        seq = db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]  # type: ignore[index]
        point = (105.78 + rng.uniform(0, 0.12), 20.98 + rng.uniform(0, 0.1))
        if all(haversine_m(*point, *other) > 1000 for other in truth.values()):
            need_id = create_need(api, requester, location={"lon": point[0], "lat": point[1]})["id"]
            truth[need_id], before[need_id] = point, event_cursor(seq)
    estimates = {}
    with LiveClient(live_server.url) as client:
        for need_id, point in truth.items():
            centre = snap_to_cell(*point)
            hits = []
            for east, north in ((125, 125), (125, -125), (-125, 125), (-125, -125)):
                guess = _offset(centre, east, north)
                variables = {"near": {"lon": guess[0], "lat": guess[1]}, "radius": 180.0, "after": before[need_id]}
                if need_id in _replayed(client, client.subscribe(CELL_REPLAY, variables)):
                    hits.append(guess)
            assert hits, "at least the circle holding the event's point should replay it"
            estimates[need_id] = (sum(h[0] for h in hits) / len(hits), sum(h[1] for h in hits) / len(hits))
    _assert_far(estimates, truth, "tiny needsNearby circles")


def _replayed(client: LiveClient, op: str) -> set[str]:
    """Need ids replayed to one subscription (until it falls quiet), then the subscription is stopped."""
    seen = set()
    while True:
        try:
            message = json.loads(client.ws.recv(timeout=0.3))
        except TimeoutError:
            break
        if message["type"] == "next" and message["id"] == op:
            seen.add(message["payload"]["data"]["needsNearby"]["need"]["id"])
    client.ws.send(json.dumps({"id": op, "type": "complete"}))
    return seen


def test_a_cursor_made_from_a_hidden_need_answers_like_an_unknown_id(api: Api, db: psycopg.Connection[Any]) -> None:
    """Cursors carry an id; a made-up one from a hidden need (under review) must not tell that it exists,
    nor, by where the next page starts, which cell it is in."""
    from aidmap.db.cursors import distance_cursor

    requester = sign_up(api)
    for i in range(6):
        create_need(api, requester, title=f"public {i}", location={"lat": 21.0285 + i * 0.006, "lon": 105.8542})
    hidden = create_need(api, requester, title="hidden", location={"lat": 21.0465, "lon": 105.8542})
    hidden_pk, public_pk = (
        db.execute("SELECT id FROM needs WHERE title = %s", (title,)).fetchone()[0]  # type: ignore[index]
        for title in ("hidden", "public 2")
    )
    db.execute("UPDATE needs SET status = 'UNDER_REVIEW' WHERE id = %s", (hidden_pk,))
    unknown_pk = hidden_pk + 1000

    def after(pk: int) -> Any:
        query = """query ($after: String) { needs(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 10000, first: 10,
          after: $after, statuses: [OPEN, PARTLY_PLEDGED, PLEDGED, FULFILLED, CANCELLED, EXPIRED]) {
          edges { node { id } } pageInfo { hasNextPage } } }"""
        return api.post(query, {"after": distance_cursor(pk)})

    assert len(after(public_pk)["data"]["needs"]["edges"]) == 3  # a real bookmark works
    assert after(hidden_pk) == after(unknown_pk)
    assert hidden["id"] not in json.dumps(after(public_pk))
