"""The benchmark's peer does aidmap's job, not an easier one: bench/peers/postgraphile/peer.sql, the
function PostGraphile serves in `make bench-peer`, answers the same needs in the same order as
aidmap's `needs(near:, radiusMeters:, categories: [X], first:)` for a stranger, for every category,
with closed needs and needs beyond the radius left out (bench/peer.py checks FOOD only, at 25 points)."""

from __future__ import annotations

import sys
from typing import Any

import psycopg

from aidmap.models import NeedCategory
from aidmap.schema.ids import from_global_id
from aidmap.settings import PROJECT_ROOT
from tests.conftest import Api
from tests.factories import HANOI, create_need, sign_up

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import peer  # noqa: E402

SEARCH = """query ($near: GeoPointInput!, $category: NeedCategory!) {
  needs(near: $near, radiusMeters: 5000, categories: [$category], first: 20) {
    edges { node { id title quantity urgency approximateLocation { lat lon } } } } }"""
CANCEL = "mutation ($id: ID!) { cancelNeed(input: {needId: $id}) { errors { code } } }"


def test_the_peer_function_answers_what_aidmap_answers_for_every_category(
    api: Api, db: psycopg.Connection[Any], database_url: str
) -> None:
    owner = sign_up(api)
    categories = [c.value for c in NeedCategory]
    for i, category in enumerate(categories):
        for k in range(3):
            spot = {"lat": HANOI["lat"] + 0.004 * k, "lon": HANOI["lon"] + 0.003 * i}
            create_need(api, owner, category=category, title=f"{category} {k}", quantity=k + 1, location=spot)
        far = {"lat": HANOI["lat"] + 0.2, "lon": HANOI["lon"]}  # ~22 km: outside the 5 km radius
        create_need(api, owner, category=category, title="Ở xa ngoài bán kính", location=far)
        closed = create_need(api, owner, category=category, title="Nhu cầu đã hủy")
        assert api.data(CANCEL, {"id": closed["id"]}, owner)["cancelNeed"]["errors"] == []
    peer.install_peer_function(database_url)

    for category in categories:
        ours = [
            (from_global_id(e["node"]["id"])[1], e["node"]["title"], e["node"]["quantity"], e["node"]["urgency"],
             e["node"]["approximateLocation"]["lat"], e["node"]["approximateLocation"]["lon"])
            for e in api.data(SEARCH, {"near": HANOI, "category": category})["needs"]["edges"]
        ]  # fmt: skip
        theirs = [
            (r[0], r[1], r[2], r[3], r[4], r[5])
            for r in db.execute(
                "SELECT id, title, quantity, urgency, (approximate_location).lat, (approximate_location).lon "
                "FROM peer.nearby_needs(%s, %s, 5000, %s, 20)",
                (HANOI["lat"], HANOI["lon"], category),
            )
        ]
        assert len(ours) == 3, (category, ours)
        assert theirs == ours, category
