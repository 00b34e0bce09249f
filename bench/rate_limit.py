"""Benchmark: what the shared (PostgreSQL) rate-limit bucket costs per request, against the in-process one.

Starts a throwaway PostgreSQL cluster, migrates it, and calls the buckets as the middleware does
(`SharedBuckets.take(reader, key, limit)`, `TokenBuckets.take(key, limit)`) in these patterns:
- one client within a limit of 600 a minute (the default per address);
- one client within a low limit (60 a minute: batches of a few tokens), back to back, and at a
  human pace (10 ms apart: the next batch is leased between requests, as with real clients);
- one client hammering a limit of 60 a minute (almost every request refused);
- 2,000 clients, a few requests each, at 600 a minute.
For each: wall time and this process's CPU time per request (PostgreSQL's own work is in the wall
time only). The shared figure is what one request pays on average, round trips included (the
pauses are not counted; CPU spent leasing ahead during them is).

    python bench/rate_limit.py [--processes 1 2] [--checkout /path/to/other/checkout]

With --processes 2, another live process is announced in rate_limit_processes, so this one's
leases are the size they would be with two servers. (An older checkout without that table: 1 only.)

Writes bench/results/rate_limit.json and bench/results/rate_limit.md (this checkout only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# name -> (limit per minute, clients, requests per client, pause between a client's requests in s)
PATTERNS: dict[str, tuple[int, int, int, float]] = {
    "within 600/min": (600, 1, 500, 0.0),
    "within 60/min, back to back": (60, 1, 50, 0.0),
    "within 60/min, 10 ms apart": (60, 1, 50, 0.01),
    "hammering 60/min": (60, 1, 20_000, 0.0),
    "2,000 clients at 600/min": (600, 2000, 5, 0.0),
}


async def _measure(url: str, processes: int) -> dict[str, Any]:
    from aidmap.db.reader import Reader
    from aidmap.guards.rate_limit import SharedBuckets, TokenBuckets

    reader = Reader(url, max_size=2)
    await reader.open()
    shared = SharedBuckets()  # one process's buckets, as in a server
    others = "INSERT INTO rate_limit_processes (process, seen_at) SELECT 'bench-' || i, now() FROM generate_series(1, %(n)s::int) i ON CONFLICT (process) DO UPDATE SET seen_at = now()"
    report: dict[str, Any] = {}
    try:
        for round_ in range(2):  # the first round warms the connection and the statement up
            for name, (limit, clients, per_client, pause) in PATTERNS.items():
                if processes > 1:  # the others are alive (their leases shrink this one's)
                    await reader.execute(others, {"n": processes - 1})
                local = TokenBuckets()
                # Keys of their own per pattern and round: every bucket starts full.
                keys = [f"ip:bench-{processes}-{round_}-{name}-{c}" for c in range(clients)]
                total = clients * per_client
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(per_client):
                    for key in keys:
                        local.take(key, limit)
                local_wall, local_cpu = time.perf_counter() - started, time.process_time() - cpu
                allowed, shared_wall = 0, 0.0
                cpu = time.process_time()
                for _ in range(per_client):
                    for key in keys:
                        started = time.perf_counter()
                        allowed += await shared.take(reader, key, limit) == 0.0
                        shared_wall += time.perf_counter() - started
                    if pause:
                        await asyncio.sleep(pause)
                await asyncio.sleep(0.05)  # a batch leased ahead is counted in this pattern's CPU
                shared_cpu = time.process_time() - cpu
                if pause:  # what the event loop spends on the pauses themselves is not the bucket's
                    cpu = time.process_time()
                    for _ in range(per_client):
                        await asyncio.sleep(pause)
                    await asyncio.sleep(0.05)
                    shared_cpu = max(0.0, shared_cpu - (time.process_time() - cpu))
                report[name] = {
                    "requests": total,
                    "allowed": allowed,
                    "local_us": round(local_wall / total * 1e6, 2),
                    "shared_us": round(shared_wall / total * 1e6, 2),
                    "shared_cpu_us": round(shared_cpu / total * 1e6, 2),
                    "local_cpu_us": round(local_cpu / total * 1e6, 2),
                }
    finally:
        await reader.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, help="measure another checkout's buckets (for a before/after)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="processes sharing the buckets")
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout or HERE.parent))
    from aidmap.db.migrate import upgrade

    sys.path.insert(0, str(HERE))
    from harness import ScratchDatabase

    database = ScratchDatabase("aidmap-rate-limit-")  # with the cluster code of the checkout measured
    try:
        url = database.url
        upgrade(url)
        report = {"checkout": str(args.checkout or "this"), "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        for n in args.processes:
            report[f"{n} process{'es' if n > 1 else ''}"] = asyncio.run(_measure(url, n))
    finally:
        database.remove()
    print(json.dumps(report, indent=2))
    if args.checkout is None:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "rate_limit.json").write_text(json.dumps(report, indent=2) + "\n")
        lines = [
            f"# Rate-limit buckets, cost per request ({report['at']})",
            "",
            "| processes | pattern | requests (allowed) | in-process bucket | shared bucket: wall | shared bucket: client CPU |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for n in args.processes:
            for name in PATTERNS:
                r = report[f"{n} process{'es' if n > 1 else ''}"][name]
                lines.append(
                    f"| {n} | {name} | {r['requests']:,} ({r['allowed']:,}) | {r['local_us']} µs | {r['shared_us']} µs | {r['shared_cpu_us']} µs |"
                )
        (RESULTS / "rate_limit.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
