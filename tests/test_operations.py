"""Conventions and operations: GraphQL over HTTP status codes and media types, health, readiness, metrics, request ids."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from aidmap.observability import JsonFormatter, request_id
from tests.conftest import Api

GRAPHQL_RESPONSE = "application/graphql-response+json"


def test_graphql_response_json_uses_4xx_for_documents_that_do_not_parse_or_validate(api: Api) -> None:
    accept = {"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}

    unparsable = api.http.post("/graphql", json={"query": "{"}, headers=accept)
    invalid = api.http.post("/graphql", json={"query": "{ nope }"}, headers=accept)
    ok = api.http.post("/graphql", json={"query": "{ __typename }"}, headers=accept)
    legacy = api.http.post("/graphql", json={"query": "{ nope }"}, headers={"Accept": "application/json"})

    assert (unparsable.status_code, invalid.status_code, ok.status_code) == (400, 400, 200)
    for response in (unparsable, invalid, ok):
        assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert invalid.json()["errors"][0]["message"].startswith("Cannot query field 'nope'")
    # application/json keeps the legacy 200 with errors, as the GraphQL-over-HTTP spec asks.
    assert legacy.status_code == 200 and legacy.headers["content-type"] == "application/json"


def test_get_runs_queries_only_and_malformed_requests_get_json_errors(api: Api) -> None:
    mutation = api.http.get(
        "/graphql", params={"query": 'mutation { signIn(input: {phone: "1", password: "x"}) { token } }'}
    )
    not_json = api.http.post("/graphql", content=b"{not json", headers={"Content-Type": "application/json"})
    put = api.http.put("/graphql", json={"query": "{ __typename }"})

    assert mutation.status_code == 405 and mutation.headers["allow"] == "GET, POST"
    assert mutation.json() == {"errors": [{"message": "Mutations need POST."}]}
    assert not_json.status_code == 400 and "errors" in not_json.json()
    assert put.status_code == 405


def _ready(api: Api, seconds: float = 10.0) -> Any:
    """/readyz once the app is ready: its event listener connects in the background after start."""
    deadline = time.monotonic() + seconds
    while (ready := api.http.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    return ready


def test_health_readiness_and_metrics(api: Api) -> None:
    api.data("{ __typename }")
    api.post("{ nope }")
    api.data("query Nearby { needs(near: {lat: 21, lon: 105.8}, radiusMeters: 100, first: 1) { edges { cursor } } }")

    health = api.http.get("/healthz")
    ready = _ready(api)
    metrics = api.http.get("/metrics")

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "problems": []}
    text = metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'aidmap_graphql_requests_total{operation="needs",outcome="ok"} 1.0' in text
    assert 'aidmap_graphql_requests_total{operation="other",outcome="error"} 1.0' in text
    assert 'aidmap_graphql_request_seconds_count{operation="needs"} 1.0' in text
    assert "aidmap_open_subscriptions 0.0" in text
    assert "aidmap_event_lag_events 0.0" in text


def test_readiness_fails_when_migrations_are_behind(api: Api, db: object) -> None:
    assert _ready(api).status_code == 200  # only the migrations will be wrong, not a listener still connecting
    db.execute("UPDATE alembic_version SET version_num = '0009_on_behalf_of'")  # type: ignore[attr-defined]
    ready = api.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["problems"] == ["migrations are not current: run `aidmap db upgrade`"]


def test_every_response_carries_a_request_id_and_logs_are_json_lines(api: Api) -> None:
    mine = api.http.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "abc-123"})
    generated = api.http.get("/healthz")
    hostile = api.http.get("/healthz", headers={"X-Request-Id": "x" * 500})

    assert mine.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32
    assert len(hostile.headers["x-request-id"]) == 32

    token = request_id.set("req-42")
    try:
        record = logging.LogRecord("aidmap.graphql", logging.ERROR, __file__, 1, "boom %s", ("here",), None)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "boom here" and line["request_id"] == "req-42" and line["level"] == "error"


@pytest.mark.parametrize("accept", ["application/json", "*/*", None])
def test_plain_clients_get_application_json(api: Api, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    response = api.http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.headers["content-type"] == "application/json"
