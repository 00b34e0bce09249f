"""A partner endpoint that trickles its answer a byte at a time holds only its own deliveries:
each attempt has a total deadline, other endpoints are served meanwhile, and no database
transaction is open while it trickles."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from aidmap.cli import partners
from aidmap.settings import Settings
from tests.conftest import Api
from tests.factories import create_need, sign_up
from tests.resolvers.conftest import Receiver
from tests.resolvers.test_webhooks import CREATE, HUE, _post, _wait


class Trickler:
    """Reads the request, then answers `HTTP/1.1 200 OK...` one byte a second, forever."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"
        self.connections = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" * 100:
                if self.stopped.wait(1.0):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    with contextlib.closing(Trickler()) as found:
        yield found


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, webhook_interval_seconds=0.1, webhook_retry_seconds=60, webhook_allow_private=True,
        webhook_timeout_seconds=2.0,
    )  # fmt: skip


def _hook(api: Api, database_url: str, name: str, url: str) -> dict[str, Any]:
    key = partners.create(
        url=database_url, name=name, scopes=["webhooks", "needs:read"], rate_limit_per_minute=10_000, allowed_origins=[]
    )[1]
    created = _post(api, key, CREATE, {"input": {"url": url, "events": ["NEED_CREATED"], "near": HUE,
                                                 "radiusMeters": 5000}})  # fmt: skip
    assert created["data"]["createWebhook"]["errors"] == [], created
    return dict(created["data"]["createWebhook"]["webhook"])


def test_a_trickling_endpoint_holds_only_itself(
    api: Api, database_url: str, trickler: Trickler, receiver: Receiver, db: psycopg.Connection[Any]
) -> None:
    _hook(api, database_url, "Slow partner", trickler.url)
    _hook(api, database_url, "Healthy partner", receiver.url)
    person = sign_up(api)

    started = time.monotonic()
    for i in range(3):
        create_need(api, person, title=f"Huế {i}", location=HUE)
    _wait(lambda: trickler.connections >= 1)
    _wait(lambda: len(receiver.accepted()) == 3, seconds=8)
    healthy_s = time.monotonic() - started

    # While the slow endpoint trickles (up to its 2 s deadline), no transaction is held open across
    # the attempt (none holds a row lock). Sampled until the attempt is recorded: a backend caught
    # between two statements of a short transaction is not the fault looked for, one idle in a
    # transaction for over a second is.
    db.autocommit = True
    held: set[int] = set()
    recorded = time.monotonic() + 10
    while time.monotonic() < recorded:
        held |= {pid for (pid,) in db.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%%' AND now() - state_change > interval '1 second'").fetchall()}  # fmt: skip
        attempts = db.execute(
            "SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
            "WHERE w.url = %s AND d.attempts = 1 AND d.status = 'PENDING'", (trickler.url,)).fetchone()  # fmt: skip
        if attempts == (1,):
            break
        time.sleep(0.05)
    # The slow attempt ends at its deadline, recorded as a failure to retry later.
    assert attempts == (1,)
    error = db.execute(
        "SELECT d.last_error FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
        "WHERE w.url = %s AND d.attempts = 1",
        (trickler.url,),
    ).fetchone()

    assert healthy_s < 8
    assert held == set()
    assert error == ("no complete answer within 2 s",)


def test_pushes_holding_every_push_thread_do_not_hold_webhooks(api: Api, database_url: str, receiver: Receiver) -> None:
    from aidmap.notify import dispatch

    # Tarpit push endpoints at their worst: every thread pushes may use is held.
    release = threading.Event()
    held = [dispatch._PUSH_THREADS.submit(release.wait, 60) for _ in range(dispatch._PUSH_THREADS._max_workers)]
    try:
        _hook(api, database_url, "Healthy partner", receiver.url)
        create_need(api, sign_up(api), title="Huế", location=HUE)
        _wait(lambda: len(receiver.accepted()) == 1, seconds=15)
        assert not any(future.done() for future in held)  # still held while the webhook went out
    finally:
        release.set()
