"""Throughput of the nearby query on ONE server process: requests per second while p99 stays under 50 ms.

The load generator runs in separate processes (stdlib http.client, keep-alive connections) on
loopback; concurrency rises step by step and each step reports its rate and p99. The answer is
the best rate of a step whose p99 was under the target.

    .venv/bin/python bench/throughput.py --needs 100000          # its own PostGIS
    AIDMAP_DATABASE_URL=... .venv/bin/python bench/throughput.py   # an existing database
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap import demo  # noqa: E402
from aidmap.db.cluster import LocalCluster, find_bin_dir  # noqa: E402
from aidmap.db.migrate import upgrade  # noqa: E402

QUERY = "query ($near: GeoPointInput!) { needs(near: $near, radiusMeters: 5000, categories: [FOOD], first: 20) { edges { distanceMeters node { id title quantity unit urgency approximateLocation { lat lon } } } } }"
CITIES = [(21.0285, 105.8542), (10.7769, 106.7009), (16.4637, 107.5909)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(port: int, seconds: float, seed: int, out: Any) -> None:
    """One connection sending requests back to back for `seconds`; puts its latencies (s) on `out`."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors = [], 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        lat, lon = rng.choice(CITIES)
        body = json.dumps(
            {"query": QUERY, "variables": {"near": {"lat": lat + rng.gauss(0, 0.03), "lon": lon + rng.gauss(0, 0.03)}}}
        )
        started = time.perf_counter()
        connection.request("POST", "/graphql", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200 or b'"errors"' in data:
            errors += 1
    out.put((latencies, errors))


def step(port: int, concurrency: int, seconds: float) -> dict[str, Any]:
    queue: Any = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_client, args=(port, seconds, i, queue)) for i in range(concurrency)]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    return {
        "concurrency": concurrency, "requests": len(latencies), "errors": errors,
        "rps": round(len(latencies) / seconds), "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }  # fmt: skip


def measure(
    url: str, *, seconds: float = 10, levels: tuple[int, ...] = (1, 2, 4, 8, 16), target_ms: float = 50
) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "AIDMAP_DATABASE_URL": url, "AIDMAP_PORT": str(port), "AIDMAP_RATE_LIMIT_PER_IP": "1000000000",
           "AIDMAP_LOG_FORMAT": "text"}  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "aidmap.cli", "serve", "--no-demo"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(300):
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        step(port, 2, 3)  # warm-up
        steps = [step(port, c, seconds) for c in levels]
    finally:
        server.terminate()
        server.wait(timeout=30)
    within = [s for s in steps if s["p99_ms"] < target_ms and s["errors"] == 0]
    best = max(within, key=lambda s: s["rps"]) if within else None
    return {"steps": steps, "best": best, "target_p99_ms": target_ms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    url = os.environ.get("AIDMAP_DATABASE_URL")
    cluster, base = None, None
    if not url:
        base = Path(tempfile.mkdtemp(prefix="aidmap-throughput-"))
        cluster = LocalCluster(base_dir=base, port=free_port(), bin_dir=find_bin_dir(), durable=False)
        cluster.init()
        cluster.start()
        cluster.ensure_database("aidmap_bench")
        url = cluster.url("aidmap_bench")
    try:
        upgrade(url)
        if demo.database_is_empty(url):
            demo.seed(url, needs=args.needs)
        result = measure(url, seconds=args.seconds)
    finally:
        if cluster is not None:
            cluster.stop()
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
    for s in result["steps"]:
        print(
            f"concurrency {s['concurrency']:>3}: {s['rps']:>5} req/s  p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f} ms  errors {s['errors']}"
        )
    best = result["best"]
    print(f"best under p99 {result['target_p99_ms']:.0f} ms: {best['rps'] if best else 'none'} req/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
