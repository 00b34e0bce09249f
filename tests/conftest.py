"""Test set-up: one real PostGIS cluster per session; each test gets a fresh database cloned from a migrated template."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from aidmap.app import create_app
from aidmap.db.cluster import LocalCluster, find_bin_dir
from aidmap.db.migrate import upgrade
from aidmap.settings import Settings

TEMPLATE = "aidmap_template"
_numbers = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="aidmap-test-pg-"))
    cluster = LocalCluster(base_dir=base, port=free_port(), bin_dir=find_bin_dir(), durable=False)
    cluster.init()
    cluster.start()
    try:
        cluster.ensure_database(TEMPLATE)
        upgrade(cluster.url(TEMPLATE))
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database_url(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain autocommit connection to the test database, for given/then checks."""
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        yield conn


@pytest.fixture(autouse=True)
def _cli_logging_removed() -> Iterator[None]:
    """`cli.main` puts a handler on the root logger that writes to this test's captured stderr.
    Left there, it fails on every later log line once that capture is closed ("--- Logging error ---")."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A short instant-help round, so the cascade test does not wait a minute.
    # Expiry runs only when a test calls it (or sets its own interval), so it never races a test.
    return Settings(
        database_url=database_url,
        password_hash_profile="CHEAPEST",
        secret_key="test-secret",
        help_timeout_seconds=1.0,
        expiry_interval_seconds=3600,
        # Most tests post many needs and requests as one person from one address; the tests of
        # quotas, the disclosure limit and rate limits set these back (make_api).
        max_open_needs_per_category=1000,
        filed_for_others_per_day=1000,
        max_open_offers=1000,
        max_active_pledges=1000,
        disclosure_limit_per_day=1000,
        rate_limit_per_ip=1_000_000,
        rate_limit_per_account=1_000_000,
    )


class GraphQLError(AssertionError):
    pass


@dataclass
class Api:
    """A GraphQL client over the app's real HTTP stack."""

    http: TestClient

    def post(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        body = self.post(query, variables, token)
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        result: dict[str, Any] = body["data"]
        return result


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings, database_url=settings.database_url or "")
    with TestClient(app) as http:
        yield Api(http)


@pytest.fixture
def make_api(settings: Settings) -> Iterator[Callable[..., Api]]:
    """Api factory for tests that change settings: make_api(require_verification=True)."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> Api:
            changed = dataclasses.replace(settings, **overrides)
            app = create_app(changed, database_url=changed.database_url or "")
            return Api(stack.enter_context(TestClient(app)))

        yield make


@dataclass
class LiveServer:
    url: str
    app: Any


@contextlib.contextmanager
def serving(app: Any, port: int | None = None, http: Any = None) -> Iterator[str]:
    """The app under a real uvicorn on a free port (or `port`, in a thread); yields its base URL.
    `http`: uvicorn's HTTP protocol class (`aidmap serve` gives guards/connections.py's)."""
    import threading
    import time

    import uvicorn

    port = port or free_port()
    # The websocket protocol and options of `aidmap serve` (aidmap/cli/__init__.py), so the live batch's writes are tested.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            ws="aidmap.schema.fast.ws_frames:FramedWebSocketProtocol", ws_per_message_deflate=False,
                            **({"http": http} if http is not None else {}))  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """The app under a real uvicorn on a free port, for tests that need real concurrent connections."""
    app = create_app(settings, database_url=settings.database_url or "")
    with serving(app) as url:
        yield LiveServer(url=url, app=app)


@pytest.fixture
def fresh_database(pg_cluster: LocalCluster) -> Iterator[Callable[[], str]]:
    """A factory of more fresh databases (cloned from the migrated template), for tests that compare two worlds."""
    names: list[str] = []

    def make() -> str:
        name = f"test_{next(_numbers)}"
        with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        names.append(name)
        return pg_cluster.url(name)

    yield make
    with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
