"""Throughput of the nearby query on ONE server process: requests per second while p99 stays under 50 ms.

The load generator is Debian's `wrk` (C, a few % of a core; `make bench` installs it) with
bench/wrk/nearby.lua, which POSTs the query from a random point near one of three cities and
counts GraphQL errors. Concurrency rises step by step; each step reports its rate, p50/p99 and
the server process's CPU time per request (from /proc), so the cost per request can be read
apart from the machine's noise. The answer is the best rate of a step whose p99 was under the
target. Side by side, in the same run: GET /healthz on the same server (the HTTP stack's floor).

    .venv/bin/python bench/throughput.py --needs 100000          # its own PostGIS
    AIDMAP_DATABASE_URL=... .venv/bin/python bench/throughput.py   # an existing database

To compare two versions side by side (the machine's speed drifts by 2x within minutes here),
--compare-with runs a second server from another checkout on the same database, and short
bursts alternate between the two:

    git worktree add /tmp/before <commit> && .venv/bin/python bench/throughput.py --compare-with /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap import demo  # noqa: E402
from aidmap.db.migrate import upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ScratchDatabase, start_server, stop_server  # noqa: E402

SCRIPT = Path(__file__).resolve().parent / "wrk" / "nearby.lua"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wrk(port: int, concurrency: int, seconds: float, path: str = "", script: Path | None = SCRIPT) -> str:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench` (it installs Debian's wrk)")
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    return subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout


def step(port: int, pid: int, concurrency: int, seconds: float) -> dict[str, Any]:
    cpu_before = cpu_seconds(pid)
    out = wrk(port, concurrency, seconds)
    cpu = cpu_seconds(pid) - cpu_before
    found = re.search(r"WRK-JSON (\{.*\})", out)
    assert found, out
    summary = json.loads(found[1])
    requests = summary["requests"]
    return {
        "concurrency": concurrency, "requests": requests, "errors": summary["errors"] + summary["socket_errors"],
        "rps": round(requests / summary["seconds"]), "p50_ms": round(summary["p50_ms"], 2),
        "p99_ms": round(summary["p99_ms"], 2), "server_cpu_ms_per_request": round(cpu * 1000 / max(requests, 1), 2),
        "server_cpu_share": round(cpu / summary["seconds"], 2),
    }  # fmt: skip


def floor_rps(port: int, seconds: float) -> int:
    """Requests per second of GET /healthz: the HTTP stack and middleware alone."""
    out = wrk(port, 4, seconds, "/healthz", script=None)
    found = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    assert found, out
    return round(float(found[1]))


def compare(
    url: str, other: Path, *, seconds: float, concurrency: int = 4, burst: float = 2, other_url: str | None = None
) -> dict[str, Any]:
    """This checkout against another, in alternating bursts on the same database (or, when the other
    checkout's schema differs, on a database of its own with the same data: `other_url`)."""
    servers = {"this checkout": start_server(url), str(other): start_server(other_url or url, checkout=other)}
    totals = {name: {"requests": 0, "seconds": 0.0, "cpu": 0.0, "p99": []} for name in servers}
    try:
        for server, port in servers.values():
            step(port, server.pid, 2, 3)  # warm-up
        for _ in range(max(1, round(seconds / burst / len(servers)))):
            for name, (server, port) in servers.items():
                s = step(port, server.pid, concurrency, burst)
                t = totals[name]
                t["requests"] += s["requests"]
                t["seconds"] += burst
                t["cpu"] += s["server_cpu_ms_per_request"] * s["requests"] / 1000
                t["p99"].append(s["p99_ms"])
    finally:
        for server, _ in servers.values():
            stop_server(server)
    result = {}
    for name, t in totals.items():
        p99 = sorted(t["p99"])
        result[name] = {
            "rps": round(t["requests"] / t["seconds"]), "cpu_ms_per_request": round(t["cpu"] * 1000 / t["requests"], 2),
            "median_burst_p99_ms": p99[len(p99) // 2],
        }  # fmt: skip
    return result


def measure(
    url: str, *, seconds: float = 10, levels: tuple[int, ...] = (1, 2, 4, 8, 16), target_ms: float = 50
) -> dict[str, Any]:
    server, port = start_server(url)
    try:
        step(port, server.pid, 2, 3)  # warm-up: prepared statements, caches
        steps = [step(port, server.pid, c, seconds) for c in levels]
        floor = floor_rps(port, min(seconds, 5))
    finally:
        stop_server(server)
    within = [s for s in steps if s["p99_ms"] < target_ms and s["errors"] == 0]
    best = max(within, key=lambda s: s["rps"]) if within else None
    return {"steps": steps, "best": best, "target_p99_ms": target_ms, "healthz_rps": floor}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10, help="per step (with --compare-with: in all)")
    parser.add_argument("--compare-with", type=Path, help="another checkout to run side by side")
    parser.add_argument(
        "--compare-database-url", help="the other checkout's own database (same data, its schema), when schemas differ"
    )
    args = parser.parse_args()
    url = os.environ.get("AIDMAP_DATABASE_URL")
    scratch: ScratchDatabase | None = None
    if not url:
        scratch = ScratchDatabase("aidmap-throughput-", "aidmap_bench")
        url = scratch.url
    try:
        upgrade(url)
        if demo.database_is_empty(url):
            demo.seed(url, needs=args.needs)
        if args.compare_with:
            compared = compare(
                url, args.compare_with.resolve(), seconds=args.seconds, other_url=args.compare_database_url
            )
        else:
            result = measure(url, seconds=args.seconds)
    finally:
        if scratch is not None:
            scratch.remove()
    if args.compare_with:
        (this, this_figures), (other, other_figures) = compared.items()
        for name, figures in compared.items():
            print(f"{name}: {figures['rps']} req/s, server CPU {figures['cpu_ms_per_request']} ms/request, "
                  f"p99 {figures['median_burst_p99_ms']} ms (median of the bursts)")  # fmt: skip
        print(f"ratio: {this_figures['rps'] / other_figures['rps']:.2f}x the requests per second, "
              f"{other_figures['cpu_ms_per_request'] / this_figures['cpu_ms_per_request']:.2f}x less CPU per request")  # fmt: skip
        return 0
    for s in result["steps"]:
        print(
            f"concurrency {s['concurrency']:>3}: {s['rps']:>5} req/s  p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f} ms  "
            f"errors {s['errors']}  server CPU {s['server_cpu_ms_per_request']:.2f} ms/request ({s['server_cpu_share']:.0%} of a core)"
        )
    print(f"GET /healthz on the same server, 4 connections: {result['healthz_rps']} req/s (the HTTP stack alone)")
    best = result["best"]
    print(f"best under p99 {result['target_p99_ms']:.0f} ms: {best['rps'] if best else 'none'} req/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
