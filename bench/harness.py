"""What every benchmark does around its measurement: free ports, and an `aidmap serve` process
started on one (from this checkout or another) and stopped for sure."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str, *, env: dict[str, str] | None = None, checkout: Path | None = None, args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], int]:
    """An aidmap server on a free port once it answers /healthz; `env` adds or overrides settings,
    `args` are more options of `aidmap serve` (`--workers 2`).

    One client sends many requests in a benchmark, so the per-IP rate limit is lifted."""
    port = free_port()
    settings = {**os.environ, "AIDMAP_DATABASE_URL": url, "AIDMAP_PORT": str(port),
                "AIDMAP_RATE_LIMIT_PER_IP": "1000000000", "AIDMAP_RATE_LIMIT_PER_ACCOUNT": "1000000000",
                "AIDMAP_LOG_FORMAT": "text", **(env or {})}  # fmt: skip
    if checkout is not None:
        settings["PYTHONPATH"] = str(checkout)  # its `aidmap` package comes first
    server = subprocess.Popen([sys.executable, "-m", "aidmap.cli", "serve", "--no-demo", *args], env=settings, cwd=checkout,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(600):
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.2)
        finally:
            probe.close()
    stop_server(server)
    raise SystemExit(f"the server from {checkout or 'this checkout'} did not start")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited in 30 s: a server stuck in a loop must not outlive
    the benchmark and eat the CPU of every run after it."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=30)
