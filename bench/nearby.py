"""Benchmark: `needs(near:, radiusMeters: 5000, categories: [FOOD], first: 20)` over HTTP vs the same SQL in raw psycopg.

Loads N open needs (default 100,000) into a throwaway PostGIS cluster (or the
database at AIDMAP_DATABASE_URL), starts `aidmap serve` in its own process, and
times both paths on the same random centres, interleaved, in one run.

    python bench/nearby.py [--needs 1000000] [--queries 2000]

With --compare-with <another checkout> a second server from that checkout (on the same database,
or on --compare-database-url when its schema differs) answers the same queries, interleaved
with this one's, so before and after are timed side by side in one run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap import demo  # noqa: E402
from aidmap.db.connect import connect  # noqa: E402
from aidmap.db.migrate import upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ScratchDatabase, start_server, stop_server  # noqa: E402

# What a donor's list shows per need (title, category, urgency, distance, map cell), and
# everything a detail card shows. graphql-core spends ~12 us per resolved field, so the
# selection size matters as much as the SQL: both are measured.
SELECTIONS = {
    "list": "distanceMeters node { id title category urgency approximateLocation { lat lon } }",
    "full": (
        "cursor distanceMeters node { id title category status quantity quantityPledged unit urgency "
        "approximateLocation { lat lon } }"
    ),
}
QUERY = """
query Nearby($near: GeoPointInput!) {
  needs(near: $near, radiusMeters: 5000, categories: [FOOD], first: 20) {
    edges { SELECTION }
    pageInfo { hasNextPage endCursor }
  }
}"""


# What the resolver sends (the k nearest by KNN, then the radius check), written by hand;
# casts keep psycopg from sending small ints as int2, which can defeat an index.
RAW_SQL = """
SELECT id, owner_id, category, title, details, quantity, unit, urgency, household_size, contact_phone, expires_at,
       status, quantity_pledged, quantity_delivered, created_at, updated_at,
       ST_Y(geometry(location)) AS lat, ST_X(geometry(location)) AS lon,
       ST_Y(geometry(cell)) AS cell_lat, ST_X(geometry(cell)) AS cell_lon,
       rank_point <-> geography(ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326)) AS distance
FROM needs
WHERE status IN ('OPEN', 'PARTLY_PLEDGED') AND category = %(category)s::text
ORDER BY distance
LIMIT %(limit)s::int
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def centres(count: int, seed: int = 99) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    points = []
    for _ in range(count):
        _, lat, lon, spread, _ = rng.choices(demo.CITIES, weights=[c[4] for c in demo.CITIES])[0]
        points.append(demo._scatter(rng, lat, lon, spread))
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--compare-with", type=Path, help="another checkout, timed side by side")
    parser.add_argument("--compare-database-url", help="the other checkout's own database (same data), if needed")
    args = parser.parse_args()

    scratch: ScratchDatabase | None = None
    url = os.environ.get("AIDMAP_DATABASE_URL")
    if not url:
        scratch = ScratchDatabase("aidmap-bench-", "aidmap_bench")
        url = scratch.url
    server = other = None
    try:
        upgrade(url)
        started = time.perf_counter()
        if demo.database_is_empty(url):
            demo.seed(url, needs=args.needs)
        with connect(url) as conn:
            total = conn.execute("SELECT count(*) FROM needs").fetchone()[0]  # type: ignore[index]
        print(f"data: {total:,} needs (loaded in {time.perf_counter() - started:.1f}s)")

        server, port = start_server(url)
        # The stdlib client on one keep-alive connection: it adds ~0.1 ms a request (httpx adds ~0.7).
        clients = {"": http.client.HTTPConnection("127.0.0.1", port, timeout=30)}
        if args.compare_with:
            other, other_port = start_server(args.compare_database_url or url, checkout=args.compare_with.resolve())
            clients[f" ({args.compare_with.name})"] = http.client.HTTPConnection("127.0.0.1", other_port, timeout=30)

        points = centres(args.warmup + args.queries)
        queries = {
            name + suffix: QUERY.replace("SELECTION", selection)
            for name, selection in SELECTIONS.items()
            for suffix in clients
        }
        timings: dict[str, list[float]] = {"sql": [], **{name: [] for name in queries}}
        hits: list[int] = []
        sample = {"lat": points[0][0], "lon": points[0][1], "category": "FOOD", "limit": 21}
        with connect(url, prepare_threshold=0) as conn:
            plan = conn.execute("EXPLAIN " + RAW_SQL, sample).fetchall()
            for i, (lat, lon) in enumerate(points):
                params = {"lat": lat, "lon": lon, "category": "FOOD", "limit": 21}
                t0 = time.perf_counter()
                rows = [r for r in conn.execute(RAW_SQL, params).fetchall() if r[-1] <= 5000.0]
                elapsed = {"sql": time.perf_counter() - t0}
                for name, query in queries.items():
                    client = clients[name[len(name.split(" ")[0]) :]]
                    body = json.dumps({"query": query, "variables": {"near": {"lat": lat, "lon": lon}}})
                    t0 = time.perf_counter()
                    client.request("POST", "/graphql", body=body, headers={"Content-Type": "application/json"})
                    raw = client.getresponse().read()
                    elapsed[name] = time.perf_counter() - t0
                    edges = json.loads(raw)["data"]["needs"]["edges"]
                    assert len(edges) == min(20, len(rows)), (len(edges), len(rows))
                if i >= args.warmup:
                    hits.append(len(edges))
                    for name, seconds in elapsed.items():
                        timings[name].append(seconds * 1000)
        print("plan:", " / ".join(row[0].strip() for row in plan[:4]))
        print(
            f"queries: {len(hits)} per path after {args.warmup} warm-up, mean {statistics.mean(hits):.1f} needs per page"
        )
        s50, s99 = percentile(timings["sql"], 50), percentile(timings["sql"], 99)
        print(f"raw psycopg SQL           : p50 {s50:6.2f} ms  p99 {s99:6.2f} ms")
        for name in queries:
            g50, g99 = percentile(timings[name], 50), percentile(timings[name], 99)
            print(
                f"GraphQL/HTTP {name:<5} fields{'' if ' ' in name else ' '}: p50 {g50:6.2f} ms  p99 {g99:6.2f} ms  ratio to SQL p50 {g50 / s50:4.2f}x  p99 {g99 / s99:4.2f}x"
            )
    finally:
        if server is not None:
            stop_server(server)
        if other is not None:
            stop_server(other)
        if scratch is not None:
            scratch.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
