"""Apollo's automatic persisted queries, and partners that accept only their registered queries."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from aidmap import cli
from aidmap.cli import partners
from tests.conftest import Api

QUERY = "{ needs(near: {lat: 21, lon: 105.8}, radiusMeters: 500, first: 1) { edges { cursor } } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def _pq(digest: str = HASH) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def test_the_apollo_protocol_hash_first_then_query_once_then_hash_only(api: Api) -> None:
    unknown = api.http.post("/graphql", json={"extensions": _pq()}).json()
    registered = api.http.post("/graphql", json={"query": QUERY, "extensions": _pq()}).json()
    by_hash = api.http.post("/graphql", json={"extensions": _pq()}).json()
    by_get = api.http.get(
        "/graphql", params={"extensions": f'{{"persistedQuery": {{"version": 1, "sha256Hash": "{HASH}"}}}}'}
    )
    mismatch = api.http.post("/graphql", json={"query": "{ __typename }", "extensions": _pq()}).json()

    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert registered == by_hash == {"data": {"needs": {"edges": []}}}
    assert by_get.json() == by_hash
    assert mismatch["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


def test_a_partner_can_be_limited_to_its_registered_queries(
    api: Api, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, key = partners.create(
        url=database_url, name="Kiosk", scopes=["needs:read"], rate_limit_per_minute=600, allowed_origins=[],
        registered_queries_only=True,
    )  # fmt: skip
    document = tmp_path / "nearby.graphql"
    document.write_text(QUERY, encoding="utf-8")
    monkeypatch.setenv("AIDMAP_DATABASE_URL", database_url)
    headers = {"Authorization": f"Bearer {key}"}

    before = api.http.post("/graphql", json={"extensions": _pq()}, headers=headers).json()
    assert cli.main(["partner", "register-queries", "--name", "Kiosk", "--query", str(document)]) == 0
    printed = capsys.readouterr().out
    by_hash = api.http.post("/graphql", json={"extensions": _pq()}, headers=headers).json()
    free_text = api.http.post("/graphql", json={"query": "{ __typename }"}, headers=headers).json()
    other = api.http.post("/graphql", json={"query": "{ __typename }", "extensions": _pq(hashlib.sha256(b"{ __typename }").hexdigest())}, headers=headers).json()  # fmt: skip

    assert before["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_REGISTERED"
    assert printed.startswith(HASH)
    assert by_hash == {"data": {"needs": {"edges": []}}}
    assert free_text["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_REGISTERED"
    assert other["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_REGISTERED"
