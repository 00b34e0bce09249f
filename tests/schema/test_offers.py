"""Offers: create, update, withdraw, search nearby."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.conftest import Api
from tests.factories import CREATE_OFFER, HANOI, create_offer, offer_input, sign_up

UPDATE = """mutation ($input: UpdateOfferInput!) { updateOffer(input: $input) { offer { title quantity radiusMeters } errors { field code } } }"""
WITHDRAW = """mutation ($input: WithdrawOfferInput!) { withdrawOffer(input: $input) { offer { status } errors { field code } } }"""
OFFERS = """
query ($near: GeoPointInput!, $radius: Float!, $categories: [NeedCategory!]) {
  offers(near: $near, radiusMeters: $radius, first: 10, categories: $categories) {
    edges { distanceMeters node { title category exactLocation { lat } approximateLocation { lat lon } donor { displayName } } }
  }
}"""


def test_offer_lifecycle_and_search(api: Api) -> None:
    donor, requester = sign_up(api, "Người tặng"), sign_up(api)
    near = create_offer(api, donor, title="gần", location={"lat": HANOI["lat"] + 0.005, "lon": HANOI["lon"]})
    create_offer(api, donor, title="xa", location={"lat": HANOI["lat"] + 0.02, "lon": HANOI["lon"]})
    create_offer(api, donor, title="thuốc", category="MEDICINE")

    found = api.data(OFFERS, {"near": HANOI, "radius": 5000, "categories": ["FOOD"]}, requester)["offers"]["edges"]
    updated = api.data(UPDATE, {"input": {"offerId": near["id"], "title": "gần nhà", "radiusMeters": 1500}}, donor)[
        "updateOffer"
    ]
    foreign = api.data(UPDATE, {"input": {"offerId": near["id"], "title": "x"}}, requester)["updateOffer"]
    withdrawn = api.data(WITHDRAW, {"input": {"offerId": near["id"]}}, donor)["withdrawOffer"]
    after = api.data(OFFERS, {"near": HANOI, "radius": 5000, "categories": ["FOOD"]}, requester)["offers"]["edges"]

    assert [e["node"]["title"] for e in found] == ["gần", "xa"]
    # Nothing links the requester to this donor yet (no pledge, no need): no exact point, no name.
    assert found[0]["node"]["exactLocation"] is None and found[0]["node"]["donor"] is None
    assert updated == {"offer": {"title": "gần nhà", "quantity": 50, "radiusMeters": 1500.0}, "errors": []}
    assert foreign["errors"] == [{"field": "offerId", "code": "NOT_FOUND"}]
    assert withdrawn["offer"]["status"] == "WITHDRAWN"
    assert [e["node"]["title"] for e in after] == ["xa"]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"radiusMeters": 0}, "radiusMeters", "OUT_OF_RANGE"),
        ({"radiusMeters": 60000}, "radiusMeters", "OUT_OF_RANGE"),
        ({"quantity": 0}, "quantity", "OUT_OF_RANGE"),
        ({"title": ""}, "title", "REQUIRED"),
        ({"location": {"lat": 10, "lon": 181}}, "location", "OUT_OF_RANGE"),
        ({"availableUntil": "2001-01-01T00:00:00Z"}, "availableUntil", "OUT_OF_RANGE"),
    ],
)
def test_create_offer_rejects_bad_input(
    api: Api, db: psycopg.Connection[Any], overrides: dict[str, Any], field: str, code: str
) -> None:
    donor = sign_up(api)
    payload = api.data(CREATE_OFFER, {"input": offer_input(**overrides)}, donor)["createOffer"]
    assert payload["offer"] is None and [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert db.execute("SELECT count(*) FROM offers").fetchone() == (0,)
