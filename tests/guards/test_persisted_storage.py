"""Persisted-query storage: nothing is kept under a hash unless it is a document worth running,
small enough, and the automatic entries are bounded (least recently used go first)."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
import pytest

from aidmap.resolvers.persisted import PersistedQueries
from tests.conftest import Api
from tests.guards.test_fragment_bombs import bomb


def _send(api: Api, query: str | None, digest: str) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if query is not None:
        body["query"] = query
    result: dict[str, Any] = api.http.post("/graphql", json=body).json()
    return result


def _stored(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*), coalesce(sum(length(query)), 0) FROM persisted_queries").fetchone()
    assert row is not None
    return int(row[1])


def _hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


@pytest.mark.parametrize(
    "query",
    [
        "{ __typename }\n#" + "x" * 90_000,  # a huge comment: no tokens, 90 kB
        "{ nope }",  # does not validate
        "{ __typename ",  # does not parse
        bomb(20),  # over the limits
    ],
    ids=["huge-comment", "invalid", "unparsable", "bomb"],
)
def test_nothing_is_stored_unless_it_is_a_small_valid_document(
    api: Api, db: psycopg.Connection[Any], query: str
) -> None:
    before = _stored(db)
    for _ in range(3):
        _send(api, query, _hash(query))
    again = _send(api, None, _hash(query))

    assert _stored(db) == before
    assert again["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_valid_document_is_stored_and_served_by_hash(api: Api) -> None:
    query = "{ __typename }"
    assert _send(api, query, _hash(query)) == {"data": {"__typename": "Query"}}
    assert _send(api, None, _hash(query)) == {"data": {"__typename": "Query"}}


def test_automatic_entries_beyond_the_cap_are_evicted_least_recently_used_first(
    api: Api, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PersistedQueries, "max_automatic", 3)
    queries = [f"{{ a{i}: __typename }}" for i in range(6)]
    for query in queries:
        assert "errors" not in _send(api, query, _hash(query))

    kept = {row[0] for row in db.execute("SELECT sha256 FROM persisted_queries").fetchall()}
    assert len(kept) == 3
    assert {_hash(q) for q in queries[-3:]} == kept
