"""Faults under load: PostgreSQL restarts, an API process is killed with SIGKILL. Clear retryable errors while
something is down, recovery without help, no lost or doubled events, no corrupted totals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest
import uvicorn

from aidmap.app import create_app
from aidmap.db.cluster import LocalCluster, find_bin_dir
from aidmap.db.migrate import upgrade
from aidmap.db.reader import conninfo_from_url
from aidmap.settings import Settings
from tests.conftest import free_port
from tests.factories import CREATE_NEED, PLEDGE, SIGN_UP, need_input
from tests.live import LiveClient, wait_healthy

pytestmark = pytest.mark.slow
NEEDS_NEARBY = "subscription ($after: String) { needsNearby(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 5000, after: $after) { cursor need { title } } }"


def _gql(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx2.post(f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30)
    return response.status_code, response.json()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(base_dir=tmp_path / "pg", port=free_port(), bin_dir=find_bin_dir(), durable=False)
    cluster.ensure_started()
    cluster.ensure_database("aidmap")
    upgrade(cluster.url())
    yield cluster
    cluster.stop()


def _serve(settings: Settings, url: str) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database_url=url), host="127.0.0.1", port=port, log_level="critical")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def test_a_database_restart_under_load_gives_retryable_errors_then_recovers_with_nothing_lost_or_doubled(
    own_cluster: LocalCluster,
) -> None:
    url = own_cluster.url()
    settings = Settings(database_url=url, password_hash_profile="CHEAPEST", secret_key="t", rate_limit_per_ip=10**9,
                        max_active_pledges=10**6, disclosure_limit_per_day=10**6,
                        expiry_interval_seconds=3600)  # fmt: skip
    server, base = _serve(settings, url)
    try:
        _, signed = _gql(
            base, SIGN_UP, {"input": {"displayName": "R", "phone": "0911111111", "password": "long enough"}}
        )
        requester = signed["data"]["signUp"]["token"]
        _, signed = _gql(
            base, SIGN_UP, {"input": {"displayName": "D", "phone": "0922222222", "password": "long enough"}}
        )
        donor = signed["data"]["signUp"]["token"]
        _, created = _gql(base, CREATE_NEED, {"input": need_input(quantity=100_000)}, requester)
        need_id = created["data"]["createNeed"]["need"]["id"]

        outcomes: Counter[str] = Counter()
        confirmed: list[str] = []
        stop = threading.Event()

        def load() -> None:
            # Pledges with idempotency keys, retried until they succeed: the client's side of "retryable".
            while not stop.is_set():
                key = uuid.uuid4().hex
                while True:
                    try:
                        status, body = _gql(
                            base, PLEDGE, {"input": {"needId": need_id, "quantity": 1, "idempotencyKey": key}}, donor
                        )
                    except httpx2.HTTPError:
                        outcomes["connection error"] += 1
                        time.sleep(0.1)
                        continue
                    if status >= 500 and status != 503:
                        outcomes[f"http {status}"] += 1
                    errors = body.get("errors") or []
                    if errors:
                        code = (errors[0].get("extensions") or {}).get("code")
                        outcomes[str(code)] += 1
                        time.sleep(0.1)
                        continue
                    payload = body["data"]["pledge"]
                    assert payload["errors"] == [], payload
                    outcomes["ok"] += 1
                    confirmed.append(payload["pledge"]["id"])
                    break

        workers = [threading.Thread(target=load) for _ in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(1.5)
        own_cluster.stop()
        time.sleep(4.0)  # longer than a request waits for a connection (db/reader.py): some must fail
        own_cluster.start()
        time.sleep(4.0)
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        server.should_exit = True

    # While it was down: only the typed, retryable error (or a refused connection), never "Unexpected error.".
    assert set(outcomes) <= {"ok", "UNAVAILABLE", "connection error"}, outcomes
    assert outcomes["UNAVAILABLE"] > 0 and outcomes["ok"] > 20, outcomes
    with psycopg.connect(conninfo_from_url(url)) as conn:
        pledges, pledged_sum = conn.execute("SELECT count(*), sum(quantity) FROM pledges").fetchone()  # type: ignore[misc]
        need_total = conn.execute("SELECT quantity_pledged FROM needs").fetchone()[0]  # type: ignore[index]
        events = conn.execute("SELECT count(*) FROM events WHERE kind = 'PLEDGE_CREATED'").fetchone()[0]  # type: ignore[index]
    # Every confirmed pledge exists once (retries with the same key wrote nothing new), totals agree,
    # every committed change has exactly one event.
    assert pledges == len(set(confirmed)) == len(confirmed)
    assert need_total == pledged_sum == pledges
    assert events == pledges


def _start_process(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "aidmap.cli", "serve", "--no-demo"], env={**env, "AIDMAP_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def test_killing_one_of_two_processes_loses_no_event_for_its_subscribers(database_url: str) -> None:
    env = {**os.environ, "AIDMAP_DATABASE_URL": database_url, "AIDMAP_PASSWORD_HASH_PROFILE": "CHEAPEST",
           "AIDMAP_SECRET_KEY": "t", "AIDMAP_RATE_LIMIT_PER_IP": "1000000", "AIDMAP_RATE_LIMIT_PER_ACCOUNT": "1000000",
           "AIDMAP_LOG_FORMAT": "text",
           "AIDMAP_MAX_OPEN_NEEDS_PER_CATEGORY": "1000"}  # fmt: skip
    ports = [free_port(), free_port()]
    processes = [_start_process(env, p) for p in ports]
    doomed, survivor = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        for url in (doomed, survivor):
            wait_healthy(url)
        _, signed = _gql(
            survivor, SIGN_UP, {"input": {"displayName": "R", "phone": "0933333333", "password": "long enough"}}
        )
        token = signed["data"]["signUp"]["token"]
        titles = [f"need {i}" for i in range(9)]
        sent: list[str] = []
        errors: list[Any] = []

        def post(title: str) -> None:
            status, body = _gql(survivor, CREATE_NEED, {"input": need_input(title=title)}, token)
            if status != 200 or body.get("errors") or body["data"]["createNeed"]["errors"]:
                errors.append(body)
            sent.append(title)

        received: list[str] = []
        cursor = None
        with LiveClient(doomed) as client:
            client.subscribe(NEEDS_NEARBY, {})
            client.nothing_within(0.3)
            for title in titles[:3]:
                post(title)
                event = client.next(timeout=10)["data"]["needsNearby"]
                received.append(event["need"]["title"])
                cursor = event["cursor"]
            processes[0].send_signal(signal.SIGKILL)  # no goodbye, no graceful close
            processes[0].wait(timeout=10)
            for title in titles[3:6]:  # while the subscriber is away; the other process's clients see no errors
                post(title)
            assert errors == []
        # The subscriber reconnects to the survivor with its cursor.
        with LiveClient(survivor) as client:
            client.subscribe(NEEDS_NEARBY, {"after": cursor})
            for _ in range(3):
                received.append(client.next(timeout=10)["data"]["needsNearby"]["need"]["title"])
            for title in titles[6:]:
                post(title)
                received.append(client.next(timeout=10)["data"]["needsNearby"]["need"]["title"])
            assert client.nothing_within(0.5)
        assert errors == []
        assert received == titles  # every event once, in order
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def _close_code_of_socket(base: str, *, header_token: str | None = None, init_token: str | None = None) -> int | None:
    """Open a websocket with the token in the upgrade header or in connection_init: the close code, or
    None when the server acknowledged it."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    headers = {"Authorization": f"Bearer {header_token}"} if header_token else {}
    with connect(base.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                 additional_headers=headers) as ws:  # fmt: skip
        payload = {"authorization": f"Bearer {init_token}"} if init_token else {}
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = json.loads(ws.recv(timeout=15))
        except ConnectionClosed:
            assert ws.close_code is not None
            return ws.close_code
        assert message["type"] == "connection_ack", message
        return None


def test_a_websocket_opened_while_the_database_is_down_is_told_to_retry_then_works(
    own_cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """Whether its token came in the upgrade header or in connection_init: close 1013 ("try again
    later"), not 4403 (which tells a client its token is bad) nor an unhandled error (1011)."""
    url = own_cluster.url()
    settings = Settings(database_url=url, password_hash_profile="CHEAPEST", secret_key="t", rate_limit_per_ip=10**9)
    server, base = _serve(settings, url)
    try:
        _, signed = _gql(base, SIGN_UP, {"input": {"displayName": "R", "phone": "0933333333", "password": "long enough"}})
        token = signed["data"]["signUp"]["token"]
        assert _close_code_of_socket(base, header_token=token) is None
        own_cluster.stop()
        try:
            with caplog.at_level("ERROR"):
                assert _close_code_of_socket(base, header_token=token) == 1013
                assert _close_code_of_socket(base, init_token=token) == 1013
            assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
        finally:
            own_cluster.start()
        deadline = time.monotonic() + 30
        while _close_code_of_socket(base, init_token=token) is not None:  # the pool reconnects
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert _close_code_of_socket(base, header_token=token) is None
    finally:
        server.should_exit = True
