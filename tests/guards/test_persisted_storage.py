"""Persisted-query storage: nothing is kept under a hash unless it is a document worth running,
small enough, and the automatic entries are bounded (least recently used go first)."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
import pytest

from tests.conftest import Api
from tests.factories import sign_up
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
    make_api: Any, db: psycopg.Connection[Any]
) -> None:
    api: Api = make_api(max_persisted_queries=3)
    queries = [f"{{ a{i}: __typename }}" for i in range(6)]
    for query in queries[:3]:
        assert "errors" not in _send(api, query, _hash(query))
    # The first one is used again (by hash, from another process: a fresh cache) and stays.
    db.execute("UPDATE persisted_queries SET last_used_at = now() - interval '1 hour'")
    db.commit()
    assert "errors" not in _send(make_api(max_persisted_queries=3), None, _hash(queries[0]))
    for query in queries[3:5]:
        assert "errors" not in _send(api, query, _hash(query))

    kept = {row[0] for row in db.execute("SELECT sha256 FROM persisted_queries").fetchall()}
    assert kept == {_hash(queries[0]), _hash(queries[3]), _hash(queries[4])}


def test_one_client_stores_at_most_its_daily_quota(make_api: Any, db: psycopg.Connection[Any]) -> None:
    api: Api = make_api(persisted_queries_per_client_per_day=3)
    queries = [f"{{ q{i}: __typename }}" for i in range(5)]

    ran = [_send(api, query, _hash(query)) for query in queries]
    by_hash = [_send(api, None, _hash(query)) for query in queries]

    assert all("errors" not in r for r in ran)  # past the quota a query still runs, it is just not kept
    assert [b.get("data") for b in by_hash[:3]] == [{f"q{i}": "Query"} for i in range(3)]
    assert [b["errors"][0]["extensions"]["code"] for b in by_hash[3:]] == ["PERSISTED_QUERY_NOT_FOUND"] * 2
    assert db.execute("SELECT count(*) FROM persisted_queries").fetchone() == (3,)

    # Another client (a signed-in account) has a quota of its own.
    token = sign_up(api)
    other = api.http.post(
        "/graphql",
        json={"query": queries[3], "extensions": {"persistedQuery": {"version": 1, "sha256Hash": _hash(queries[3])}}},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert "errors" not in other and _send(api, None, _hash(queries[3]))["data"] == {"q3": "Query"}

    # A day later the first client may store again.
    db.execute("UPDATE persisted_queries SET created_at = now() - interval '25 hours'")
    db.commit()
    assert "errors" not in _send(api, queries[4], _hash(queries[4]))
    assert _send(api, None, _hash(queries[4]))["data"] == {"q4": "Query"}
