"""Hostile and broken requests are refused quickly, with a clear error, and hurt nobody else."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator

import pytest

from aidmap.settings import Settings
from tests.conftest import Api, LiveServer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, body_timeout_seconds=1.0)


def _timed(action) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started


def test_a_10_mb_body_is_refused_before_it_is_read(api: Api) -> None:
    big = b'{"query": "' + b"x" * 10_000_000 + b'"}'
    response, seconds = _timed(
        lambda: api.http.post("/graphql", content=big, headers={"Content-Type": "application/json"})
    )
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert "larger than 6000000 bytes" in response.json()["errors"][0]["message"]  # type: ignore[attr-defined]
    assert seconds < 5


def test_a_chunked_body_is_cut_off_when_it_grows_too_large(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(100):
            yield b"x" * 100_000

    response = api.http.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_ten_thousand_aliases_and_deep_fragments_are_refused_fast(api: Api) -> None:
    aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(10_000)) + " }"
    fragments = "query { ...F0 }\n" + "\n".join(
        f"fragment F{i} on Query {{ node(id: \"x\") {{ ... on Need {{ pledges {{ need {{ ...F{i + 1} }} }} }} }} }}" for i in range(30)
    ) + "\nfragment F30 on Query { __typename }"  # fmt: skip

    (many, many_s), (deep, deep_s) = _timed(lambda: api.post(aliases)), _timed(lambda: api.post(fragments))

    assert "more than 800 tokens" in many["errors"][0]["message"]  # type: ignore[index]
    assert deep["errors"]  # type: ignore[index]
    assert many_s < 2 and deep_s < 2


def test_invalid_utf8_is_a_400_not_a_500(api: Api) -> None:
    response = api.http.post(
        "/graphql", content=b'{"query": "{ __typename \xff\xfe }"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "errors" in response.json()


def test_an_upload_that_never_finishes_is_cut_off_and_others_are_served(api: Api, live_server: LiveServer) -> None:
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(
            b'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query"'
        )
        started = time.monotonic()
        # Meanwhile everyone else is served as usual.
        import httpx2

        assert httpx2.get(live_server.url + "/healthz", timeout=5).status_code == 200
        answer = slow.recv(4096)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert elapsed < 5
