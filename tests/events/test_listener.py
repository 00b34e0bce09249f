"""The listener survives a database restart without losing or doubling events; processes share events."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn

from aidmap.app import create_app
from aidmap.db.cluster import LocalCluster, find_bin_dir
from aidmap.db.migrate import upgrade
from aidmap.settings import Settings
from tests.conftest import free_port
from tests.factories import CREATE_NEED, SIGN_UP, need_input
from tests.live import LiveClient, wait_healthy

pytestmark = pytest.mark.slow

NEEDS_NEARBY = """subscription { needsNearby(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 5000) { cursor kind need { title } } }"""


def _gql(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = httpx2.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
    ).json()
    return body


def _create_need_retrying(url: str, token: str, title: str, deadline_s: float = 30) -> None:
    """The first requests after a restart may hit pooled connections that died with the server."""
    deadline = time.monotonic() + deadline_s
    while True:
        body = _gql(url, CREATE_NEED, {"input": need_input(title=title)}, token)
        if not body.get("errors") and body["data"]["createNeed"]["errors"] == []:
            return
        if time.monotonic() > deadline:
            raise AssertionError(body)
        time.sleep(0.2)


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(base_dir=tmp_path / "pg", port=free_port(), bin_dir=find_bin_dir(), durable=False)
    cluster.ensure_started()
    cluster.ensure_database("aidmap")
    upgrade(cluster.url())
    yield cluster
    cluster.stop()


def test_listener_reconnects_after_a_database_restart_and_loses_nothing(own_cluster: LocalCluster) -> None:
    settings = Settings(database_url=own_cluster.url(), password_hash_profile="CHEAPEST", event_poll_seconds=0.2)
    app = create_app(settings, database_url=own_cluster.url())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        token = _gql(url, SIGN_UP, {"input": {"displayName": "A", "phone": "0911111111", "password": "long enough"}})
        token = token["data"]["signUp"]["token"]
        with LiveClient(url) as client:
            client.subscribe(NEEDS_NEARBY)
            _create_need_retrying(url, token, "before restart")
            first = client.next()["data"]["needsNearby"]

            own_cluster.stop()
            own_cluster.start()
            _create_need_retrying(url, token, "after restart 1")
            _create_need_retrying(url, token, "after restart 2")
            later = [client.next(timeout=30)["data"]["needsNearby"] for _ in range(2)]
            assert client.nothing_within(1.0), "no event is delivered twice"

        assert first["need"]["title"] == "before restart"
        assert [e["need"]["title"] for e in later] == ["after restart 1", "after restart 2"]
        assert app.state.listener.reconnects >= 1
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_a_subscriber_on_one_process_gets_a_need_created_through_another(database_url: str) -> None:
    env = {
        **os.environ,
        "AIDMAP_DATABASE_URL": database_url,
        "AIDMAP_PASSWORD_HASH_PROFILE": "CHEAPEST",
        "AIDMAP_EVENT_POLL_SECONDS": "5",
    }
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen([sys.executable, "-m", "aidmap.cli", "serve", "--no-demo"], env={**env, "AIDMAP_PORT": str(p)},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in ports
    ]  # fmt: skip
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url in urls:
            wait_healthy(url)
        token = _gql(
            urls[1], SIGN_UP, {"input": {"displayName": "B", "phone": "0922222222", "password": "long enough"}}
        )
        token = token["data"]["signUp"]["token"]
        with LiveClient(urls[0]) as client:
            client.subscribe(NEEDS_NEARBY)
            client.nothing_within(0.3)
            started = time.monotonic()
            _create_need_retrying(urls[1], token, "from process 2")
            event = client.next(timeout=10)["data"]["needsNearby"]
            # Polling is every 5 s here, so arriving sooner means LISTEN/NOTIFY carried it.
            assert time.monotonic() - started < 3
        assert event["need"]["title"] == "from process 2"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
