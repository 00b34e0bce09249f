"""An edit that changes only what strangers may not see (the exact point moved within its cell, the
same values sent again) must look to them exactly as if nothing had been done: a public event, a new
`updatedAt` or a lost badge would tell them that the exact point moved, an answer that depends on it.

The attacker watches from every place a stranger can: the need and the offer as nodes (anonymous,
another account, a partner key without `private:read`), searches and suggestions around them with
their distances and scores, `needsNearby` / `offersNearby`, their own `myActivity`, and a partner's
webhook for every event kind. Everything they see before the edits must equal everything they see
after, and a public edit made last (a new title) must be the first thing that reaches them: the
watchers were live and nothing came before it. Those who may see the point are told: the need's
pledged donor (myActivity, NEED_PRIVATE_UPDATED, the new exact point) and the partner the need was
filed through (its webhook)."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from aidmap.cli import partners
from aidmap.resolvers.webhooks import WEBHOOK_EVENTS
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import CREATE_NEED, SIGN_UP, create_need, create_offer, need_input, pledge, sign_up
from tests.live import LiveClient
from tests.resolvers.conftest import Receiver
from tests.schema.test_privacy_invariance import moved_within_cell

HOAN_KIEM = (105.8525, 21.0288)  # (lon, lat)
ORIGINS = [(105.8542, 21.0285), (105.8480, 21.0300), (105.8600, 21.0200)]

NODE = """query ($id: ID!) { node(id: $id) {
  ... on Need { id title details quantity unit urgency householdSize status quantityPledged quantityDelivered expiresAt
                createdAt updatedAt isMine approximateLocation { lat lon } exactLocation { lat lon } contactPhone
                verification { verifiedAt } ward { code } }
  ... on Offer { id title details quantity quantityPledged unit radiusMeters availableUntil offerStatus: status createdAt
                 approximateLocation { lat lon } exactLocation { lat lon } } } }"""
SEARCH = """query ($near: GeoPointInput!, $radius: Float!) {
  needs(near: $near, radiusMeters: $radius, first: 20) { edges { cursor distanceMeters node { id updatedAt } } }
  offers(near: $near, radiusMeters: $radius, first: 20) { edges { cursor distanceMeters node { id } } } }"""
# Not the score nor its waiting part: they grow with the clock between the two looks, not with the point.
SUGGESTED = """query ($id: ID!) { suggestedNeeds(offerId: $id, first: 20) {
  distanceMeters parts { distance urgency quantity fairness } need { id updatedAt } } }"""
NEEDS_NEARBY = """subscription ($near: GeoPointInput!) {
  needsNearby(near: $near, radiusMeters: 3000) { kind need { id title updatedAt } } }"""
OFFERS_NEARBY = """subscription ($near: GeoPointInput!) {
  offersNearby(near: $near, radiusMeters: 3000) { kind offer { id title } } }"""
ACTIVITY = "subscription { myActivity { kind need { id exactLocation { lat lon } } } }"
UPDATE_NEED = """mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) {
  need { id updatedAt exactLocation { lat lon } } errors { code } } }"""
UPDATE_OFFER = """mutation ($input: UpdateOfferInput!) { updateOffer(input: $input) { errors { code } } }"""
CREATE_HOOK = """mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { errors { code } } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_interval_seconds=0.1, webhook_allow_private=True)


@pytest.fixture
def strangers_hook() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def filers_hook() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def blind_hook() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def _point(p: tuple[float, float]) -> dict[str, float]:
    return {"lon": p[0], "lat": p[1]}


def _as(api: Api, key: str, query: str, variables: dict[str, Any], act_as: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} | ({"Aidmap-Act-As": act_as} if act_as else {})
    body: dict[str, Any] = api.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()
    return body


def _hook(api: Api, key: str, url: str) -> None:
    kinds = [kind.value for kind in WEBHOOK_EVENTS]  # every kind a webhook may ask for
    assert "NEED_PRIVATE_UPDATED" in kinds and "PLEDGE_MARKED_DELIVERED" in kinds
    created = _as(api, key, CREATE_HOOK, {"input": {"url": url, "events": kinds}})
    assert created["data"]["createWebhook"]["errors"] == [], created


def _kinds(receiver: Receiver) -> list[str]:
    return [json.loads(r["body"])["kind"] for r in receiver.accepted()]


def _wait(condition: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_moving_an_exact_point_within_its_cell_shows_strangers_nothing_and_tells_its_donor(
    api: Api, database_url: str, live_server: LiveServer, db: psycopg.Connection[Any],
    strangers_hook: Receiver, filers_hook: Receiver, blind_hook: Receiver,
) -> None:  # fmt: skip
    rng = random.Random(7)
    requester, donor, giver, stranger = (sign_up(api, name) for name in ("requester", "donor", "giver", "stranger"))
    outsider = partners.create(
        url=database_url, name="outsider", scopes=partners.parse_scopes("needs:read,offers:read,webhooks"),
        rate_limit_per_minute=10_000, allowed_origins=[],
    )[1]  # fmt: skip
    filer = partners.create(
        url=database_url, name="hotline", scopes=partners.parse_scopes("accounts,needs:read,needs:write,private:read,webhooks"),
        rate_limit_per_minute=10_000, allowed_origins=[],
    )[1]  # fmt: skip
    # A partner that files needs but may not see exact points: it must not learn that one moved either.
    blind = partners.create(
        url=database_url, name="blind", scopes=partners.parse_scopes("accounts,needs:read,needs:write,webhooks"),
        rate_limit_per_minute=10_000, allowed_origins=[],
    )[1]  # fmt: skip
    _hook(api, outsider, strangers_hook.url)
    _hook(api, filer, filers_hook.url)
    _hook(api, blind, blind_hook.url)

    need = create_need(api, requester, location=_point(HOAN_KIEM), householdSize=3)["id"]
    signed_up = _as(api, filer, SIGN_UP, {"input": {"displayName": "Bà Lan", "phone": "0933 000 111", "password": "long enough"}})  # fmt: skip
    operator = signed_up["data"]["signUp"]["account"]["id"]
    filed = _as(api, filer, CREATE_NEED, {"input": need_input(title="qua tổng đài", location=_point(ORIGINS[1]))}, operator)  # fmt: skip
    filed_need = filed["data"]["createNeed"]["need"]["id"]
    blind_operator = _as(api, blind, SIGN_UP, {"input": {"displayName": "Anh Tư", "phone": "0933 000 222", "password": "long enough"}})["data"]["signUp"]["account"]["id"]  # fmt: skip
    blind_filed = _as(api, blind, CREATE_NEED, {"input": need_input(title="qua ứng dụng", location=_point(ORIGINS[0]))}, blind_operator)  # fmt: skip
    blind_need = blind_filed["data"]["createNeed"]["need"]["id"]
    offer = create_offer(api, giver, location=_point(ORIGINS[2]), radiusMeters=5000)["id"]
    assert pledge(api, donor, need, 1)["errors"] == []
    _wait(lambda: len(strangers_hook.accepted()) >= 5)  # three needs, an offer, a pledge

    def seen() -> dict[str, Any]:
        """Everything a stranger may ask about the two needs and the offer."""
        views: dict[str, Any] = {}
        for who, ask in (("anonymous", api.post), ("stranger", lambda q, v: api.post(q, v, stranger)),
                         ("outsider", lambda q, v: _as(api, outsider, q, v))):  # fmt: skip
            for ident in (need, filed_need, blind_need, offer):
                views[f"{who} node {ident}"] = ask(NODE, {"id": ident})
            for origin in ORIGINS:
                for radius in (200.0, 1500.0, 5000.0):
                    views[f"{who} search {origin} {radius}"] = ask(SEARCH, {"near": _point(origin), "radius": radius})
        views["suggestions"] = api.post(SUGGESTED, {"id": offer}, giver)
        return views

    before = seen()
    with (
        LiveClient(live_server.url) as needs_watch, LiveClient(live_server.url) as offers_watch,
        LiveClient(live_server.url, token=stranger) as strangers_activity,
        LiveClient(live_server.url, token=donor) as donors_activity,
    ):  # fmt: skip
        needs_watch.subscribe(NEEDS_NEARBY, {"near": _point(HOAN_KIEM)})
        offers_watch.subscribe(OFFERS_NEARBY, {"near": _point(ORIGINS[2])})
        strangers_activity.subscribe(ACTIVITY)
        donors_activity.subscribe(ACTIVITY)
        time.sleep(0.5)  # the subscriptions are registered

        moved = moved_within_cell(HOAN_KIEM, rng)
        edited = api.data(UPDATE_NEED, {"input": {"needId": need, "location": _point(moved)}}, requester)["updateNeed"]
        assert edited["errors"] == [] and edited["need"]["exactLocation"] == {"lat": moved[1], "lon": moved[0]}
        # The same values sent again change nothing either.
        same = {"needId": need, "title": "Gạo cho gia đình 4 người", "quantity": 10, "householdSize": 3}
        assert api.data(UPDATE_NEED, {"input": same}, requester)["updateNeed"]["errors"] == []
        filed_moved = moved_within_cell(ORIGINS[1], rng)
        moved_filed = _as(
            api, filer, UPDATE_NEED, {"input": {"needId": filed_need, "location": _point(filed_moved)}}, operator
        )
        assert moved_filed["data"]["updateNeed"]["errors"] == []
        blind_move = {"needId": blind_need, "location": _point(moved_within_cell(ORIGINS[0], rng))}
        assert _as(api, blind, UPDATE_NEED, {"input": blind_move}, blind_operator)["data"]["updateNeed"]["errors"] == []
        offer_move = {"offerId": offer, "location": _point(moved_within_cell(ORIGINS[2], rng))}
        assert api.data(UPDATE_OFFER, {"input": offer_move}, giver)["updateOffer"]["errors"] == []

        # The donor who will deliver is told, and sees where to go now.
        told = donors_activity.next()["data"]["myActivity"]
        assert told["kind"] == "NEED_PRIVATE_UPDATED" and told["need"]["id"] == need
        assert told["need"]["exactLocation"] == {"lat": moved[1], "lon": moved[0]}
        # So is the partner the filed need came through; the webhook carries the new point.
        _wait(lambda: "NEED_PRIVATE_UPDATED" in _kinds(filers_hook))
        private = [json.loads(r["body"]) for r in filers_hook.accepted()]
        private = [b for b in private if b["kind"] == "NEED_PRIVATE_UPDATED"]
        assert [b["need"]["id"] for b in private] == [filed_need]
        assert private[0]["need"]["exactLocation"] == {"lat": filed_moved[1], "lon": filed_moved[0]}

        after = seen()
        hooked = len(strangers_hook.accepted())
        # A public edit last: the first thing each stranger's watcher gets is that one.
        api.data(UPDATE_NEED, {"input": {"needId": need, "title": "Gạo nếp"}}, requester)
        api.data(UPDATE_OFFER, {"input": {"offerId": offer, "title": "Tặng gạo nếp"}}, giver)
        first_need_event = needs_watch.next()["data"]["needsNearby"]
        first_offer_event = offers_watch.next()["data"]["offersNearby"]
        _wait(lambda: len(strangers_hook.accepted()) >= hooked + 2)
        nothing_for_the_stranger = strangers_activity.nothing_within(0.5)

    assert after == before
    assert first_need_event["kind"] == "UPDATED" and first_need_event["need"]["title"] == "Gạo nếp"
    assert first_offer_event["kind"] == "UPDATED" and first_offer_event["offer"]["title"] == "Tặng gạo nếp"
    assert _kinds(strangers_hook)[hooked:] == ["NEED_UPDATED", "OFFER_UPDATED"]
    assert "NEED_PRIVATE_UPDATED" not in _kinds(strangers_hook) and nothing_for_the_stranger
    assert "NEED_PRIVATE_UPDATED" not in _kinds(blind_hook) and "NEED_CREATED" in _kinds(blind_hook)
    # The public edit moves updatedAt, as before.
    looked = before[f"stranger node {need}"]["data"]["node"]
    assert api.post(NODE, {"id": need}, stranger)["data"]["node"]["updatedAt"] != looked["updatedAt"]
    # The looks saw something: the needs and the offer, their distances, a suggestion.
    assert looked["title"] and before[f"outsider node {offer}"]["data"]["node"]["title"]
    assert all(before[f"stranger search {o} 5000.0"]["data"]["needs"]["edges"] for o in ORIGINS)
    assert before["suggestions"]["data"]["suggestedNeeds"]
    # The three moves; the same values sent again told no one anything.
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'NEED_PRIVATE_UPDATED'").fetchone() == (3,)
