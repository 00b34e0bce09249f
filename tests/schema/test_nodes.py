"""Relay node(id:) and nodes(ids:), batching through DataLoaders, and masked unexpected errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import event

from aidmap.resolvers import needs as need_resolvers
from aidmap.schema.ids import to_global_id
from tests.conftest import Api
from tests.factories import create_need, create_offer, pledge, sign_up

NODES = "query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Need { title } ... on Offer { title } } }"


def test_node_and_nodes_resolve_every_type_in_order(api: Api) -> None:
    requester, donor = sign_up(api), sign_up(api)
    need = create_need(api, requester, title="need")
    offer = create_offer(api, donor, title="offer")
    made = pledge(api, donor, need["id"], 1)["pledge"]
    missing = to_global_id("Need", 999_999)

    result = api.data(NODES, {"ids": [offer["id"], missing, need["id"], made["id"]]}, donor)["nodes"]
    hidden = api.data(NODES, {"ids": [made["id"]]}, sign_up(api))["nodes"]

    assert [(n and n["__typename"]) for n in result] == ["Offer", None, "Need", "Pledge"]
    assert result[0]["title"] == "offer" and result[2]["title"] == "need"
    assert hidden == [None]


def test_nodes_rejects_more_than_100_ids_and_malformed_ids(api: Api) -> None:
    too_many = api.post(NODES, {"ids": [to_global_id("Need", i) for i in range(1, 102)]})
    malformed = api.post(NODES, {"ids": ["%%%"]})
    assert too_many["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "ids"}
    assert malformed["errors"][0]["extensions"] == {"code": "INVALID", "field": "ids"}


def test_a_page_of_needs_with_pledges_costs_a_constant_number_of_statements(api: Api) -> None:
    requester = sign_up(api)
    donors = [sign_up(api) for _ in range(3)]
    for i in range(12):
        need = create_need(api, requester, title=f"n{i}")
        pledge(api, donors[i % 3], need["id"], 1)
    query = (
        "{ myNeeds(first: 12) { edges { node { title pledges { quantity donor { displayName } need { status } } } } } }"
    )
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Not the background jobs' ticks that run meanwhile on the same engine (queues claimed with
        # SKIP LOCKED, outbox cursors, expiry): a read of the page never writes or locks, nor reads
        # the outbox (the notify and webhook jobs do, woken by the pledges just made).
        background = ("SKIP LOCKED", "RETURNING", "notification", "webhook", "UPDATE ", "INSERT ", "DELETE ",
                      "FROM events")  # fmt: skip
        if not any(marker in statement for marker in background):
            statements.append(statement)

    event.listen(event_target(), "before_cursor_execute", count)
    try:
        data = api.data(query, token=requester)
    finally:
        event.remove(event_target(), "before_cursor_execute", count)

    assert len(data["myNeeds"]["edges"]) == 12
    # token look-up, the page, the viewer's pledged needs, pledges, donors, needs (+ need views of those): not 12 x anything.
    assert len(statements) <= 8, statements


def event_target() -> Any:
    from sqlalchemy.engine import Engine

    return Engine


def test_unexpected_errors_are_masked_and_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**kwargs: Any) -> None:
        raise RuntimeError("connection string postgresql://secret@db leaked")

    monkeypatch.setattr(need_resolvers, "search", broken)
    monkeypatch.setattr(need_resolvers, "search_rows", broken)  # the compiled path's (schema/fast/compiled.py)
    with caplog.at_level(logging.ERROR, logger="aidmap.graphql"):
        body = api.post("{ needs(near: {lat: 21, lon: 105}, radiusMeters: 100, first: 1) { edges { cursor } } }")

    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)
    assert "leaked" in caplog.text


def test_client_mistakes_are_not_logged_as_server_errors(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        body = api.post("{ needs(near: {lat: 21, lon: 105}, radiusMeters: -1, first: 1) { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "OUT_OF_RANGE"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
