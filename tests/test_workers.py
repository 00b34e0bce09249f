"""`aidmap serve --workers N`: N processes on one port, each with its own pools and event listener.

Which worker serves a connection is the kernel's choice, so the test asks the kernel: the server's
end of each TCP connection is a socket that only the accepting worker holds (/proc/net/tcp gives
its inode, /proc/<pid>/fd who has it). It opens a subscription on one worker, then makes changes
through fresh HTTP connections until some have gone through the other worker, and checks that the
subscriber received every one of them, in order.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.factories import CREATE_NEED, SIGN_UP, need_input
from tests.live import LiveClient, wait_healthy

pytestmark = pytest.mark.slow
NEEDS_NEARBY = "subscription { needsNearby(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 5000) { cursor need { title } } }"  # fmt: skip


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _serving_process(server_port: int, client_port: int, candidates: set[int]) -> int:
    """The process holding the server's end of the loopback connection from client_port."""
    owner = _holder(server_port, client_port, candidates)
    assert owner is not None, (server_port, client_port)
    return owner


def _holder(server_port: int, client_port: int, candidates: set[int]) -> int | None:
    """The process holding the server's end of that connection, if one has accepted it yet."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == server_port and int(fields[2].rsplit(":", 1)[1], 16) == client_port:
            inodes.add(f"socket:[{fields[9]}]")
    assert len(inodes) <= 1, (server_port, client_port, inodes)
    owners = set()
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    owners.add(pid)
            except OSError:
                continue
    assert len(owners) <= 1, owners
    return owners.pop() if owners else None


@contextlib.contextmanager
def _two_workers(database_url: str, **settings: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`aidmap serve --workers 2` on a free port, once it answers (AIDMAP_* settings as keyword arguments)."""
    port = free_port()
    env = {**os.environ, "AIDMAP_DATABASE_URL": database_url, "AIDMAP_PORT": str(port),
           "AIDMAP_PASSWORD_HASH_PROFILE": "CHEAPEST", "AIDMAP_SECRET_KEY": "t", "AIDMAP_RATE_LIMIT_PER_IP": "1000000",
           "AIDMAP_LOG_FORMAT": "text", "AIDMAP_MAX_OPEN_NEEDS_PER_CATEGORY": "1000"} | {
           f"AIDMAP_{k.upper()}": v for k, v in settings.items()}  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "aidmap.cli", "serve", "--no-demo", "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield server, port
    finally:
        server.terminate()  # uvicorn's supervisor stops its workers
        server.wait(timeout=60)


@pytest.fixture
def two_workers(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with _two_workers(database_url) as started:
        yield started


def _post(
    port: int, query: str, variables: dict[str, Any], token: str | None, workers: set[int]
) -> tuple[dict[str, Any], int]:
    """The answer, and which worker gave it (asked while the connection is still open)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        connection.request("POST", "/graphql", json.dumps({"query": query, "variables": variables}), headers)
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == 200, body
        worker = _serving_process(port, connection.sock.getsockname()[1], workers)
    finally:
        connection.close()
    return body, worker


def test_a_subscriber_on_one_worker_receives_the_changes_made_through_the_other(
    two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = two_workers
    workers = _children(server.pid)
    signed, _ = _post(port, SIGN_UP, {"input": {"displayName": "R", "phone": "0933333334", "password": "long enough"}},
                      None, workers)  # fmt: skip
    token = signed["data"]["signUp"]["token"]
    with LiveClient(f"http://127.0.0.1:{port}") as client:
        subscriber_worker = _serving_process(port, client.ws.socket.getsockname()[1], workers)
        client.subscribe(NEEDS_NEARBY)
        client.nothing_within(0.3)
        made_by: dict[str, int] = {}
        received = []
        # Each change through a new connection: the kernel spreads them over the workers' accept calls.
        for i in range(60):
            title = f"need {i}"
            body, worker = _post(port, CREATE_NEED, {"input": need_input(title=title)}, token, workers)
            assert body["data"]["createNeed"]["errors"] == [], body
            made_by[title] = worker
            received.append(client.next(timeout=15)["data"]["needsNearby"]["need"]["title"])
            if i >= 3 and len(set(made_by.values())) == 2:
                break
        assert client.nothing_within(0.5)
    assert received == list(made_by)  # every change once, in order
    assert len(set(made_by.values())) == 2 and subscriber_worker in made_by.values()  # two workers served
    through_the_other = [title for title, worker in made_by.items() if worker != subscriber_worker]
    assert through_the_other, made_by


def test_every_worker_cuts_off_a_half_sent_request_head(database_url: str) -> None:
    """The slow-client guard (guards/connections.py) is each worker's HTTP protocol, not uvicorn's default."""
    with _two_workers(database_url, head_timeout_seconds="3") as (server, port):
        workers = _children(server.pid)
        with contextlib.ExitStack() as stack:

            def half_sent_head() -> tuple[socket.socket, int]:
                s = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
                s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
                for _ in range(300):
                    if (worker := _holder(port, s.getsockname()[1], workers)) is not None:
                        return s, worker
                    time.sleep(0.01)
                raise AssertionError("no worker accepted the connection")

            first, holder = half_sent_head()
            # An idle worker that has just accepted tends to win the next accept too: the other one
            # is made to take the second connection by pausing the first for a moment (well within
            # uvicorn's 5 s health check, and within the head deadline).
            os.kill(holder, signal.SIGSTOP)
            try:
                second, other = half_sent_head()
            finally:
                os.kill(holder, signal.SIGCONT)
            answers = [s.recv(65536) for s in (first, second)]
        assert {holder, other} <= workers and holder != other
        assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers


def test_workers_below_one_is_refused_before_anything_starts() -> None:
    done = subprocess.run([sys.executable, "-m", "aidmap.cli", "serve", "--workers", "0"],
                          env={**os.environ, "AIDMAP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "--workers must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr
