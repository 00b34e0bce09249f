"""Webhooks against a real local HTTP receiver: signed, in order, retried after 500s, nothing lost across a restart."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from aidmap.app import create_app
from aidmap.cli import partners
from aidmap.jobs.webhooks import sign
from aidmap.settings import Settings
from tests.conftest import Api
from tests.factories import create_need, sign_up
from tests.resolvers.conftest import Receiver

CREATE = """mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) {
  webhook { id secret events } errors { field code } } }"""
DELIVERIES = """query ($id: ID!) { webhookDeliveries(webhookId: $id) { eventId status attempts lastStatusCode } }"""
HUE = {"lat": 16.4637, "lon": 107.5909}
HANOI = {"lat": 21.0285, "lon": 105.8542}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, webhook_interval_seconds=0.1, webhook_retry_seconds=0.2, webhook_allow_private=True
    )


def _wait(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _partner_key(database_url: str, scopes: list[str]) -> str:
    return partners.create(
        url=database_url, name="Hue-S", scopes=scopes, rate_limit_per_minute=10_000, allowed_origins=[]
    )[1]


def _post(api: Api, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = api.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}
    ).json()
    return body


def test_deliveries_are_signed_in_order_retried_and_filtered_by_area(
    api: Api, database_url: str, receiver: Receiver
) -> None:
    key = _partner_key(database_url, ["webhooks", "needs:read"])
    created = _post(api, key, CREATE, {"input": {
        "url": receiver.url, "events": ["NEED_CREATED", "NEED_CANCELLED"], "near": HUE, "radiusMeters": 5000}})  # fmt: skip
    assert "errors" not in created and created["data"]["createWebhook"]["errors"] == [], created
    hook = created["data"]["createWebhook"]["webhook"]
    secret = hook["secret"]
    receiver.script = [500, 503]  # the first event fails twice, then goes through
    person = sign_up(api)

    first = create_need(api, person, title="Huế 1", location=HUE)
    create_need(api, person, title="Hà Nội: outside the circle", location=HANOI)
    second = create_need(api, person, title="Huế 2", location=HUE)
    _wait(lambda: len(receiver.accepted()) == 2)

    bodies = [json.loads(r["body"]) for r in receiver.received]
    assert [b["need"]["title"] for b in bodies] == ["Huế 1", "Huế 1", "Huế 1", "Huế 2"]  # in order, retried
    assert [r["answered"] for r in receiver.received] == [500, 503, 200, 200]
    assert bodies[2]["need"]["id"] == first["id"] and bodies[3]["need"]["id"] == second["id"]
    assert bodies[2]["need"]["exactLocation"] is None and bodies[2]["need"]["contactPhone"] is None  # no private:read
    for record in receiver.received:
        headers, body = record["headers"], record["body"]
        timestamp, signature = (part.split("=", 1)[1] for part in headers["Aidmap-Signature"].split(","))
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)
        assert headers["Aidmap-Event-Id"] == json.loads(body)["id"]
        assert abs(int(timestamp) - time.time()) < 60
    answer = _post(api, key, DELIVERIES, {"id": hook["id"]})
    assert "errors" not in answer, answer
    deliveries = answer["data"]["webhookDeliveries"]
    assert [(d["status"], d["attempts"], d["lastStatusCode"]) for d in deliveries] == [
        ("DELIVERED", 1, 200), ("DELIVERED", 3, 200)]  # fmt: skip


def test_nothing_is_lost_across_a_restart(
    settings: Settings, database_url: str, receiver: Receiver, db: psycopg.Connection[Any]
) -> None:
    key = _partner_key(database_url, ["webhooks"])
    receiver.script = [500] * 1000  # down while the first server runs
    with TestClient(create_app(settings, database_url=database_url)) as http:
        api = Api(http)
        hook = _post(api, key, CREATE, {"input": {"url": receiver.url, "events": ["NEED_CREATED"]}})["data"][
            "createWebhook"
        ]["webhook"]
        person = sign_up(api)
        titles = [create_need(api, person, title=f"need {i}")["title"] for i in range(3)]
        _wait(lambda: len(receiver.received) >= 1)
    assert receiver.accepted() == []
    # Some events may be queued, some not yet: both kinds must arrive after the restart.
    receiver.script = []  # back up
    db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
    with TestClient(create_app(settings, database_url=database_url)) as http:
        _wait(lambda: len(receiver.accepted()) == 3)
    assert [json.loads(r["body"])["need"]["title"] for r in receiver.accepted()] == titles
    assert hook["id"]


def test_only_partners_with_the_scope_register_endpoints(api: Api, database_url: str, make_api: Any) -> None:
    no_scope = _partner_key(database_url, ["needs:read"])
    person = sign_up(api)
    input_ = {"input": {"url": "https://example.org/hook", "events": ["NEED_CREATED"]}}

    refused = _post(api, no_scope, CREATE, input_)
    as_person = api.post(CREATE, input_, person)["data"]["createWebhook"]
    strict = make_api(webhook_allow_private=False)
    with_scope = partners.create(
        url=database_url, name="B", scopes=["webhooks"], rate_limit_per_minute=100, allowed_origins=[]
    )[1]
    private = strict.http.post("/graphql", json={"query": CREATE, "variables": {"input": {
        "url": "http://127.0.0.1:9/hook", "events": ["NEED_CREATED"]}}}, headers={"Authorization": f"Bearer {with_scope}"}).json()  # fmt: skip

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert as_person["errors"] == [{"field": None, "code": "FORBIDDEN"}]
    assert private["data"]["createWebhook"]["errors"] == [{"field": "url", "code": "INVALID"}]


def test_an_endpoint_that_now_resolves_inside_the_network_gets_nothing(
    make_api: Any, database_url: str, receiver: Receiver, db: psycopg.Connection[Any]
) -> None:
    """DNS rebinding: the URL passed the check at creation, then its host came to resolve to an
    inside address (here: a row that points at 127.0.0.1). Delivery checks the address it connects to."""
    strict = make_api(webhook_allow_private=False)
    partner_id, _ = partners.create(
        url=database_url, name="Rebinder", scopes=["webhooks"], rate_limit_per_minute=100, allowed_origins=[]
    )
    hook_id = db.execute(
        "INSERT INTO webhooks (partner_id, url, secret, events, cursor_seq) "
        "VALUES (%s, %s, 'whsec_test', ARRAY['NEED_CREATED'], (SELECT coalesce(max(seq), 0) FROM events)) RETURNING id",
        (partner_id, receiver.url.replace("127.0.0.1", "localhost")),
    ).fetchone()[0]  # type: ignore[index]
    create_need(strict, sign_up(strict))

    def attempted() -> Any:
        return db.execute(
            "SELECT attempts, last_status_code, last_error, status FROM webhook_deliveries WHERE webhook_id = %s",
            (hook_id,),
        ).fetchone()

    _wait(lambda: (row := attempted()) is not None and row[0] >= 1)
    attempts, status_code, error, status = attempted()
    assert receiver.received == []
    assert status_code is None and "inside this network" in error and status == "PENDING"


def test_redirects_are_not_followed(api: Api, database_url: str, receiver: Receiver) -> None:
    """A 3xx is a failed attempt: following it would let an endpoint point the request anywhere."""
    elsewhere = Receiver()
    try:
        receiver.script, receiver.redirect_to = [302, 307], elsewhere.url
        key = _partner_key(database_url, ["webhooks"])
        hook = _post(api, key, CREATE, {"input": {"url": receiver.url, "events": ["NEED_CREATED"]}})["data"][
            "createWebhook"
        ]["webhook"]
        create_need(api, sign_up(api))
        _wait(lambda: len(receiver.accepted()) == 1)  # retried after the two redirects, then delivered
    finally:
        elsewhere.server.shutdown()
        elsewhere.server.server_close()
    assert [r["answered"] for r in receiver.received] == [302, 307, 200]
    assert elsewhere.received == []
    deliveries = _post(api, key, DELIVERIES, {"id": hook["id"]})["data"]["webhookDeliveries"]
    assert [(d["status"], d["attempts"], d["lastStatusCode"]) for d in deliveries] == [("DELIVERED", 3, 200)]


def test_the_documented_signature_check() -> None:
    body = b'{"id":"evt_1"}'
    assert (
        sign("whsec_x", 1700000000, body)
        == "t=1700000000,v1=" + hmac.new(b"whsec_x", b'1700000000.{"id":"evt_1"}', hashlib.sha256).hexdigest()
    )


def test_a_delivery_that_carries_private_fields_is_a_logged_read(
    api: Api, database_url: str, receiver: Receiver, db: psycopg.Connection[Any]
) -> None:
    """A need filed through the partner reaches its `private:read` endpoint with the exact point and phone:
    the requester sees that delivery in Need.locationReads. A public delivery is no read."""
    from tests.factories import CREATE_NEED, SIGN_UP, need_input, new_phone

    key = _partner_key(database_url, ["webhooks", "accounts", "needs:read", "needs:write", "private:read"])
    created = _post(api, key, CREATE, {"input": {"url": receiver.url, "events": ["NEED_CREATED"]}})
    assert created["data"]["createWebhook"]["errors"] == [], created
    person = _post(
        api, key, SIGN_UP, {"input": {"displayName": "Bà Lan", "phone": new_phone(), "password": "long enough"}}
    )
    person_id = person["data"]["signUp"]["account"]["id"]
    filed = api.http.post(
        "/graphql", json={"query": CREATE_NEED, "variables": {"input": need_input(location=HUE)}},
        headers={"Authorization": f"Bearer {key}", "Aidmap-Act-As": person_id},
    ).json()["data"]["createNeed"]["need"]  # fmt: skip
    create_need(api, sign_up(api), title="not through the partner", location=HUE)
    _wait(lambda: len(receiver.accepted()) == 2)

    bodies = [json.loads(r["body"]) for r in receiver.accepted()]
    assert bodies[0]["need"]["id"] == filed["id"] and bodies[0]["need"]["exactLocation"] is not None
    assert bodies[1]["need"]["exactLocation"] is None
    logged = db.execute(
        "SELECT n.title, r.reader_id, p.name, r.field, r.channel FROM location_reads r "
        "JOIN needs n ON n.id = r.need_id JOIN partners p ON p.id = r.partner_id ORDER BY r.field"
    ).fetchall()
    title = need_input()["title"]
    assert logged == [
        (title, None, "Hue-S", "CONTACT_PHONE", "WEBHOOK"),
        (title, None, "Hue-S", "EXACT_LOCATION", "WEBHOOK"),
    ]
