"""idempotencyKey on creates and pledge: a retry returns the first result and writes nothing; another input is refused;
two concurrent requests with one key execute once."""

from __future__ import annotations

import threading
from typing import Any

import httpx2
import psycopg

from tests.conftest import Api, LiveServer
from tests.factories import CREATE_NEED, CREATE_OFFER, PLEDGE, create_need, need_input, offer_input, sign_up

SEND = "mutation ($input: SendMessageInput!) { sendMessage(input: $input) { message { id } errors { field code } } }"


def _count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed table names
    assert row is not None
    return int(row[0])


def test_a_retried_create_returns_the_first_result_and_writes_nothing(api: Api, db: psycopg.Connection[Any]) -> None:
    token = sign_up(api)
    given = need_input(idempotencyKey="retry-1")

    first = api.data(CREATE_NEED, {"input": given}, token)["createNeed"]
    again = api.data(CREATE_NEED, {"input": given}, token)["createNeed"]
    other = api.data(CREATE_NEED, {"input": {**given, "quantity": 99}}, token)["createNeed"]
    someone_else = api.data(CREATE_NEED, {"input": given}, sign_up(api))["createNeed"]

    assert first["errors"] == [] and again["need"]["id"] == first["need"]["id"]
    assert other == {"need": None, "errors": [{
        "field": "idempotencyKey", "message": "This idempotencyKey was already used for a different request.",
        "code": "IDEMPOTENCY_KEY_REUSED"}]}  # fmt: skip
    assert someone_else["need"]["id"] != first["need"]["id"]  # keys belong to one account
    assert _count(db, "needs") == 2
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'NEED_CREATED'").fetchone() == (2,)


def test_offers_pledges_and_messages_take_keys_too(api: Api, db: psycopg.Connection[Any]) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=10)
    offer = {"input": offer_input(idempotencyKey="o-1")}
    pledge = {"input": {"needId": need["id"], "quantity": 2, "idempotencyKey": "p-1"}}

    offers = [api.data(CREATE_OFFER, offer, donor)["createOffer"]["offer"]["id"] for _ in range(2)]
    pledges = [api.data(PLEDGE, pledge, donor)["pledge"]["pledge"]["id"] for _ in range(3)]
    message = {"input": {"pledgeId": pledges[0], "body": "Chiều nay", "idempotencyKey": "m-1"}}
    messages = [api.data(SEND, message, donor)["sendMessage"]["message"]["id"] for _ in range(2)]

    assert len(set(offers)) == len(set(pledges)) == len(set(messages)) == 1
    assert db.execute("SELECT quantity_pledged FROM needs").fetchone() == (2,)
    assert (_count(db, "offers"), _count(db, "pledges"), _count(db, "messages")) == (1, 1, 1)


def test_a_failed_request_does_not_use_up_its_key(api: Api) -> None:
    token = sign_up(api)
    failed = api.data(CREATE_NEED, {"input": need_input(title=" ", idempotencyKey="k")}, token)["createNeed"]
    fixed = api.data(CREATE_NEED, {"input": need_input(idempotencyKey="k")}, token)["createNeed"]
    assert failed["errors"][0]["code"] == "REQUIRED" and fixed["errors"] == []


def test_concurrent_requests_with_one_key_execute_once(
    api: Api, live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, quantity=50)
    body = {"query": PLEDGE, "variables": {"input": {"needId": need["id"], "quantity": 5, "idempotencyKey": "tap-tap"}}}
    results: list[dict[str, Any]] = []
    start = threading.Barrier(8)

    def tap() -> None:
        with httpx2.Client(base_url=live_server.url, timeout=30) as client:
            start.wait()
            response = client.post("/graphql", json=body, headers={"Authorization": f"Bearer {donor}"})
            results.append(response.json()["data"]["pledge"])

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({r["pledge"]["id"] for r in results}) == 1 and all(r["errors"] == [] for r in results)
    assert db.execute("SELECT count(*), sum(quantity) FROM pledges").fetchone() == (1, 5)
    assert db.execute("SELECT quantity_pledged FROM needs").fetchone() == (5,)
