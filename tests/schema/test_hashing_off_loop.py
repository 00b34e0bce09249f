"""argon2 with the production profile runs off the event loop: sign-ins do not stall other requests."""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
from typing import Any

import httpx2
import pytest

from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.factories import SIGN_UP

SIGN_IN = "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { code } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, password_hash_profile=Settings().password_hash_profile)


def test_a_trivial_query_stays_fast_while_clients_sign_in(live_server: LiveServer) -> None:
    url = live_server.url + "/graphql"
    phone, password = "0900000010", "correct horse battery"
    signed_up = httpx2.post(
        url, json={"query": SIGN_UP, "variables": {"input": {"displayName": "A", "phone": phone, "password": password}}},
        timeout=60,
    ).json()  # fmt: skip
    assert signed_up["data"]["signUp"]["errors"] == []
    stop, sign_ins = threading.Event(), []

    def sign_in_forever() -> None:
        with httpx2.Client(timeout=60) as client:
            while not stop.is_set():
                body: dict[str, Any] = client.post(
                    url, json={"query": SIGN_IN, "variables": {"input": {"phone": phone, "password": password}}}
                ).json()
                sign_ins.append(body["data"]["signIn"]["token"] is not None)

    clients = [threading.Thread(target=sign_in_forever) for _ in range(4)]
    for client in clients:
        client.start()
    latencies = []
    try:
        time.sleep(0.5)  # the sign-ins are under way
        with httpx2.Client(timeout=60) as client:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                started = time.perf_counter()
                assert client.post(url, json={"query": "{ __typename }"}).json() == {"data": {"__typename": "Query"}}
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)
    assert sign_ins and all(sign_ins)
    # Measured here: with argon2 on the loop a median of 130 ms (p90 216 ms), each query waiting for
    # the hashes in progress; off the loop 4 ms (p90 11 ms). Loose bounds, the machine is shared.
    assert statistics.median(latencies) < 0.05, sorted(latencies)
    assert sorted(latencies)[int(len(latencies) * 0.9)] < 0.15, sorted(latencies)
