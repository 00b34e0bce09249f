"""Slow clients against a real `aidmap serve`: sockets that send half a request head and stop are
closed at the head deadline, one address cannot hold more than its share of connections, and
everyone else is served meanwhile."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.live import wait_healthy

SLOW_SOCKETS = 2000


@contextlib.contextmanager
def served_process(database_url: str, *args: str, **env: str) -> Iterator[tuple[int, int]]:
    """A real `aidmap serve` process on a free port (AIDMAP_* settings as keyword arguments): (port, pid)."""
    port = free_port()
    environment = {**os.environ, "AIDMAP_DATABASE_URL": database_url, "AIDMAP_PASSWORD_HASH_PROFILE": "CHEAPEST",
                   "AIDMAP_SECRET_KEY": "t", "AIDMAP_RATE_LIMIT_PER_IP": "1000000", "AIDMAP_RATE_LIMIT_PER_ACCOUNT": "1000000",
                   "AIDMAP_LOG_FORMAT": "text",
                   "AIDMAP_PORT": str(port)} | {f"AIDMAP_{k.upper()}": v for k, v in env.items()}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "aidmap.cli", "serve", "--no-demo", *args], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextlib.contextmanager
def serving(database_url: str, *args: str, **env: str) -> Iterator[int]:
    """A real `aidmap serve` process on a free port (AIDMAP_* settings as keyword arguments)."""
    with served_process(database_url, *args, **env) as (port, _):
        yield port


@pytest.fixture
def server(database_url: str) -> Iterator[tuple[str, int]]:
    with serving(database_url, head_timeout_seconds="2", max_connections_per_ip="200") as port:
        yield "127.0.0.1", port


def _get(port: int, source: str, path: str = "/healthz") -> tuple[bytes, float]:
    """A whole GET from another loopback address (its own per-address share)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer, time.monotonic() - started


def test_half_sent_heads_are_cut_off_and_others_are_served(server: tuple[str, int]) -> None:
    host, port = server
    slow: list[socket.socket] = []
    try:
        for _ in range(SLOW_SOCKETS):
            s = socket.create_connection((host, port), timeout=15)
            s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        opened = time.monotonic()

        # Meanwhile: another client is answered, promptly.
        healthz, seconds = _get(port, "127.0.0.2")
        page, _ = _get(port, "127.0.0.3", "/graphql?query=%7B__typename%7D")
        assert healthz.startswith(b"HTTP/1.1 200") and seconds < 2.0
        assert page.startswith(b"HTTP/1.1 200") and b'"__typename":"Query"' in page

        # Every slow socket is closed by the server: beyond its address's 200, at once (503);
        # the others at the 2 s head deadline (408).
        outcomes: Counter[str] = Counter()
        deadline = opened + 12
        for s in slow:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                answer = s.recv(200)
            except TimeoutError:
                answer = b"still open"
            outcomes[answer[:12].decode(errors="replace")] += 1
        elapsed = time.monotonic() - opened
    finally:
        for s in slow:
            s.close()

    assert outcomes == {"HTTP/1.1 408": 200, "HTTP/1.1 503": SLOW_SOCKETS - 200}, outcomes
    assert elapsed < 12


def test_a_trickled_head_is_cut_off_at_the_deadline_however_it_trickles(server: tuple[str, int]) -> None:
    host, port = server
    with socket.create_connection((host, port), timeout=10) as s:
        started = time.monotonic()
        answer = b""
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            s.setblocking(False)
            try:
                answer = s.recv(200)
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408")
    assert 1.5 < time.monotonic() - started < 6


def test_keep_alive_clients_are_not_cut_off_between_requests(server: tuple[str, int]) -> None:
    host, port = server
    with socket.create_connection((host, port), timeout=10) as s:
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                answer += s.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(1.5)  # under uvicorn's 5 s keep-alive, over nothing
