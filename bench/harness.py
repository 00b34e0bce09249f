"""What every benchmark does around its measurement: free ports, a throwaway PostGIS database, and
an `aidmap serve` process started on one (from this checkout or another) and stopped for sure."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def interrupt_on_sigterm() -> None:
    """A SIGTERM (`kill`, a CI timeout) as an interrupt, so that a benchmark unwinds through its
    `finally` blocks: with Python's default it died at once and left its scratch PostgreSQL and its
    servers running. Only from the main thread, and only over the default handler."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


class ScratchDatabase:
    """A database `name` in a PostGIS cluster of its own in a temporary folder, not durable (fast to
    load); `remove()` stops the cluster and deletes the folder."""

    def __init__(self, prefix: str, name: str = "aidmap") -> None:
        # Imported here: the aidmap first on sys.path (rate_limit.py may put another checkout's there).
        from aidmap.db.cluster import LocalCluster, find_bin_dir

        interrupt_on_sigterm()
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        self.cluster = LocalCluster(base_dir=self.base, port=free_port(), bin_dir=find_bin_dir(), durable=False)
        self.cluster.init()
        self.cluster.start()
        try:
            self.cluster.ensure_database(name)
        except BaseException:
            self.remove()
            raise
        self.url = self.cluster.url(name)

    def remove(self) -> None:
        self.cluster.stop()
        shutil.rmtree(self.base, ignore_errors=True)


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
