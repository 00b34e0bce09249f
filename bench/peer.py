"""aidmap side by side with PostGraphile 5 on the same job, the same database and the same index.

The job: "the 20 nearest open FOOD needs within 5 km of a point, with id, title, quantity, urgency
and the approximate (public cell) location". aidmap serves it as `needs(near:, radiusMeters: 5000,
categories: [FOOD], first: 20)`; the peer (bench/peers/postgraphile/, PostGraphile 5 from npm in
production mode, one Node process) as `nearbyNeedsList(...)`, a STABLE plpgsql function
(bench/peers/postgraphile/peer.sql) with aidmap's public rules: open statuses, KNN on the public
`rank_point` through the category's own index (ix_needs_open_food_rank_point), the radius checked on
the k nearest, (distance, id) order, the public cell as the location.

1. Both answer 25 points; the ids, their order and every field must be the same (else it stops).
2. wrk bursts (bench/wrk/job.lua) alternate aidmap, peer, peer, aidmap, ... at 1, 4 and 16
   connections, for --rounds rounds. Each burst records req/s, p50, p99 and the CPU time per
   request of the server process (with its workers) and of the PostgreSQL backends, from /proc.
3. The same, aidmap `--workers 2` against one worker (--no-workers skips it).

Results: bench/results/peer.md and peer.json. `make bench-peer` installs the peer (npm ci, which
also brings Node 22 from the npm registry) and runs this on its own 100,000-needs PostGIS:

    .venv/bin/python bench/peer.py --needs 100000
    AIDMAP_DATABASE_URL=... .venv/bin/python bench/peer.py     # an existing database (it creates schema `peer`)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap import demo  # noqa: E402
from aidmap.db.connect import connect  # noqa: E402
from aidmap.db.migrate import upgrade  # noqa: E402
from aidmap.db.reader import conninfo_from_url  # noqa: E402
from aidmap.schema.ids import from_global_id  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ScratchDatabase, free_port, start_server, stop_server  # noqa: E402
from throughput import cpu_seconds  # noqa: E402

BENCH = Path(__file__).resolve().parent
PEER_DIR = BENCH / "peers" / "postgraphile"
NODE = PEER_DIR / "node_modules" / ".bin" / "node"
SCRIPT = BENCH / "wrk" / "job.lua"
RESULTS = BENCH / "results"
TARGET_P99_MS = 50.0
# The same points as job.lua draws from: three cities, about 3 km of spread.
CITIES = ((21.0285, 105.8542), (10.7769, 106.7009), (16.4637, 107.5909))

AIDMAP_JOB = """query ($lat: Float!, $lon: Float!) {
  needs(near: {lat: $lat, lon: $lon}, radiusMeters: 5000, categories: [FOOD], first: 20) {
    edges { node { id title quantity urgency approximateLocation { lat lon } } }
  }
}"""
PEER_JOB = """query ($lat: Float!, $lon: Float!) {
  nearbyNeedsList(lat: $lat, lon: $lon, radiusMeters: 5000, category: "FOOD", k: 20) {
    rowId title quantity urgency approximateLocation { lat lon }
  }
}"""


def post(port: int, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"query": query, "variables": variables})
        connection.request("POST", "/graphql", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read())
    finally:
        connection.close()
    if response.status != 200 or answer.get("errors"):
        raise SystemExit(f"port {port} answered {response.status}: {answer}")
    return answer["data"]


def install_peer_function(url: str) -> None:
    """Schema `peer` with the job's function (peer.sql), replaced on every run."""
    with connect(url, autocommit=True) as conn:
        conn.execute((PEER_DIR / "peer.sql").read_text())


def start_peer(url: str) -> tuple[subprocess.Popen[bytes], int]:
    """PostGraphile on a free port, in production mode, once it answers the job."""
    if not NODE.exists():
        raise SystemExit(f"{NODE} is missing: run `make bench-peer` (npm ci in {PEER_DIR})")
    port = free_port()
    env = {**os.environ, "NODE_ENV": "production", "DATABASE_URL": conninfo_from_url(url), "PORT": str(port)}
    peer = subprocess.Popen([str(NODE), "server.mjs"], cwd=PEER_DIR, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(300):
        try:
            post(port, PEER_JOB, {"lat": CITIES[0][0], "lon": CITIES[0][1]})
            return peer, port
        except (OSError, SystemExit):
            if peer.poll() is not None:
                raise SystemExit("PostGraphile exited at start") from None
            time.sleep(0.2)
    stop_server(peer)
    raise SystemExit("PostGraphile did not start")


def points(count: int, seed: int = 16) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    chosen = []
    for i in range(count):
        lat, lon = CITIES[i % len(CITIES)]
        chosen.append((lat + 0.03 * rng.gauss(0, 1), lon + 0.03 * rng.gauss(0, 1)))
    return chosen


def check_same_answers(aidmap_port: int, peer_port: int, count: int = 25) -> int:
    """Both servers give the same needs in the same order with the same fields; the rows compared."""
    compared = 0
    for lat, lon in points(count):
        variables = {"lat": lat, "lon": lon}
        ours = [
            (from_global_id(e["node"]["id"])[1], e["node"]["title"], e["node"]["quantity"], e["node"]["urgency"],
             e["node"]["approximateLocation"]["lat"], e["node"]["approximateLocation"]["lon"])
            for e in post(aidmap_port, AIDMAP_JOB, variables)["needs"]["edges"]
        ]  # fmt: skip
        theirs = [
            (int(n["rowId"]), n["title"], n["quantity"], n["urgency"],
             n["approximateLocation"]["lat"], n["approximateLocation"]["lon"])
            for n in post(peer_port, PEER_JOB, variables)["nearbyNeedsList"]
        ]  # fmt: skip
        if [r[:4] for r in ours] != [r[:4] for r in theirs] or any(
            abs(a[4] - b[4]) > 1e-9 or abs(a[5] - b[5]) > 1e-9 for a, b in zip(ours, theirs, strict=True)
        ):
            raise SystemExit(
                f"aidmap and the peer disagree at ({lat:.6f}, {lon:.6f}):\n  aidmap: {ours}\n  peer:   {theirs}"
            )
        compared += len(ours)
    if compared < count * 10:
        raise SystemExit(f"only {compared} rows for {count} points: the data set is too sparse to compare")
    return compared


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_of(pids: list[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):  # it ended
            seconds[pid] = cpu_seconds(pid)
    return seconds


class Backends:
    """CPU time of the database's client backends (every server's pooled connections), from /proc."""

    def __init__(self, url: str) -> None:
        self._conn = connect(url, autocommit=True)

    def snapshot(self) -> dict[int, float]:
        rows = self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return cpu_of([pid for (pid,) in rows])

    def close(self) -> None:
        self._conn.close()


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two snapshots (a process that appeared in between counts from zero)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def burst(
    port: int, pids: list[int], backends: Backends, flavour: str, concurrency: int, seconds: float
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make setup-bench` (it installs Debian's wrk)")
    server_before, db_before = cpu_of(pids), backends.snapshot()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "-s", str(SCRIPT),
         f"http://127.0.0.1:{port}", "--", flavour],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    server, db = spent(server_before, cpu_of(pids)), spent(db_before, backends.snapshot())
    found = re.search(r"WRK-JSON (\{.*\})", out)
    assert found, out
    summary = json.loads(found[1])
    requests = max(summary["requests"], 1)
    return {
        "concurrency": concurrency, "requests": summary["requests"],
        # Kept apart: an answer with GraphQL errors (or not 200) is the server's; a socket error
        # (connect, read, write, timeout) may be the load generator's or the machine's.
        "errors": summary["errors"] + summary["socket_errors"], "graphql_errors": summary["errors"],
        "socket_errors": summary["socket_errors"], "rps": summary["requests"] / summary["seconds"],
        "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
        "server_cpu_ms": server * 1000 / requests, "postgres_cpu_ms": db * 1000 / requests,
    }  # fmt: skip


def alternate(
    servers: dict[str, dict[str, Any]], backends: Backends, *, levels: tuple[int, ...], rounds: int, seconds: float
) -> dict[str, list[dict[str, Any]]]:
    """Bursts in the order A B, B A, A B, ... at each level, round after round: each server's
    bursts are spread over the same stretch of time, so the machine's drift hits both alike."""
    names = list(servers)
    for server in servers.values():
        burst(server["port"], [], backends, server["flavour"], 4, 3)  # warm-up
        server["pids"] = process_tree(server["pid"])  # with its workers, all started by now
    bursts: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_index in range(rounds):
        for concurrency in levels:
            for name in names if round_index % 2 == 0 else names[::-1]:
                server = servers[name]
                result = burst(server["port"], server["pids"], backends, server["flavour"], concurrency, seconds)
                result["round"] = round_index
                bursts[name].append(result)
                print(
                    f"round {round_index + 1} c={concurrency:>2} {name:>20}: {result['rps']:7.0f} req/s  "
                    f"p50 {result['p50_ms']:6.2f}  p99 {result['p99_ms']:6.2f} ms  server {result['server_cpu_ms']:.2f}  "
                    f"postgres {result['postgres_cpu_ms']:.2f} ms/request  errors {result['errors']}",
                    flush=True,
                )
    return bursts


def summarize(bursts: dict[str, list[dict[str, Any]]], levels: tuple[int, ...], rounds: int) -> dict[str, Any]:
    """Per server and level: medians and ranges over rounds; per round the best rate with p99 under
    the target (as bench/throughput.py); ratios of the first server to the second, round by round."""
    (first, second) = list(bursts)
    summary: dict[str, Any] = {"servers": {}, "ratios": {}}
    for name, runs in bursts.items():
        per_level = {}
        for c in levels:
            at = [b for b in runs if b["concurrency"] == c]
            requests = sum(b["requests"] for b in at)
            per_level[c] = {
                "rps_median": statistics.median(b["rps"] for b in at), "rps_range": [min(b["rps"] for b in at), max(b["rps"] for b in at)],
                "p50_ms_median": statistics.median(b["p50_ms"] for b in at), "p99_ms_median": statistics.median(b["p99_ms"] for b in at),
                "p99_ms_range": [min(b["p99_ms"] for b in at), max(b["p99_ms"] for b in at)],
                "server_cpu_ms": sum(b["server_cpu_ms"] * b["requests"] for b in at) / max(requests, 1),
                "postgres_cpu_ms": sum(b["postgres_cpu_ms"] * b["requests"] for b in at) / max(requests, 1),
                "errors": sum(b["errors"] for b in at),
                "graphql_errors": sum(b.get("graphql_errors", 0) for b in at),
                "socket_errors": sum(b.get("socket_errors", 0) for b in at),
            }  # fmt: skip
        best: list[float | None] = []
        for r in range(rounds):
            within = [b["rps"] for b in runs if b["round"] == r and b["p99_ms"] < TARGET_P99_MS and b["errors"] == 0]
            # None, not 0: a round with no burst under the target has no rate to compare.
            best.append(max(within) if within else None)
        summary["servers"][name] = {"levels": per_level, "best_under_target": best}
    a, b = summary["servers"][first], summary["servers"][second]
    for c in levels:
        rounds_ratio = [
            x["rps"] / y["rps"]
            for x, y in zip(
                [r for r in bursts[first] if r["concurrency"] == c],
                [r for r in bursts[second] if r["concurrency"] == c],
                strict=True,
            )
        ]
        summary["ratios"][c] = {
            "rps_median": statistics.median(rounds_ratio), "rps_range": [min(rounds_ratio), max(rounds_ratio)],
            "server_cpu": a["levels"][c]["server_cpu_ms"] / b["levels"][c]["server_cpu_ms"],
            "postgres_cpu": a["levels"][c]["postgres_cpu_ms"] / b["levels"][c]["postgres_cpu_ms"],
        }  # fmt: skip
    # Only rounds where both servers had a burst under the target give a ratio; the others are
    # listed, so a round one server never made is not read as an infinite (or zero) ratio.
    pairs = list(zip(a["best_under_target"], b["best_under_target"], strict=True))
    best_ratio = [x / y for x, y in pairs if x is not None and y is not None]
    summary["ratios"]["best_under_target"] = {
        "median": statistics.median(best_ratio) if best_ratio else None,
        "range": [min(best_ratio), max(best_ratio)] if best_ratio else None,
        "excluded_rounds": [r for r, (x, y) in enumerate(pairs) if x is None or y is None],
    }
    return summary


def _range(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(values[0])}-{fmt.format(values[1])}"


def best_cell(best: list[float | None]) -> str:
    """A server's best rate under the target: median and range over the rounds that had one."""
    made = [x for x in best if x is not None]
    if not made:
        return f"none under {TARGET_P99_MS:.0f} ms"
    cell = f"{statistics.median(made):.0f} ({min(made):.0f}-{max(made):.0f})"
    missed = len(best) - len(made)
    return cell + (f"; none under {TARGET_P99_MS:.0f} ms in {missed} of {len(best)} rounds" if missed else "")


def ratio_cell(ratio: dict[str, Any], rounds: int) -> str:
    """The best-rate ratio over the rounds where both servers had one, saying which were left out."""
    if ratio["median"] is None:
        return f"no round where both had a burst under {TARGET_P99_MS:.0f} ms"
    cell = f"**{ratio['median']:.2f}x** ({_range(ratio['range'], '{:.2f}')})"
    excluded = ratio.get("excluded_rounds") or []
    if excluded:
        cell += (
            f"; {len(excluded)} of {rounds} rounds left out (a server had no burst under "
            f"{TARGET_P99_MS:.0f} ms: round {', '.join(str(r + 1) for r in excluded)})"
        )
    return cell


def markdown(title: str, summary: dict[str, Any], levels: tuple[int, ...], note: str) -> str:
    (first, second) = list(summary["servers"])
    lines = [f"## {title}", "", note, ""]
    lines += [
        "| | req/s at p99 < 50 ms (median of rounds, range) | server CPU per request (4 conn.) | PostgreSQL CPU per request (4 conn.) |",
        "| --- | --- | --- | --- |",
    ]
    main_level = 4 if 4 in levels else levels[0]
    for name in (first, second):
        s = summary["servers"][name]
        lines.append(
            f"| {name} | {best_cell(s['best_under_target'])} | "
            f"{s['levels'][main_level]['server_cpu_ms']:.2f} ms | {s['levels'][main_level]['postgres_cpu_ms']:.2f} ms |"
        )
    ratio = summary["ratios"]
    lines.append(
        f"| **{first} / {second}** | {ratio_cell(ratio['best_under_target'], len(s['best_under_target']))} "
        f"| {ratio[main_level]['server_cpu']:.2f}x | "
        f"{ratio[main_level]['postgres_cpu']:.2f}x |"
    )
    lines += [
        "",
        "| connections | server | req/s (median, range over rounds) | p50 | p99 (median, range) | server CPU / request | PostgreSQL CPU / request | errors (GraphQL or HTTP / socket) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in levels:
        for name in (first, second):
            x = summary["servers"][name]["levels"][c]
            lines.append(
                f"| {c} | {name} | {x['rps_median']:.0f} ({_range(x['rps_range'])}) | {x['p50_ms_median']:.2f} ms | "
                f"{x['p99_ms_median']:.1f} ms ({_range(x['p99_ms_range'], '{:.1f}')}) | {x['server_cpu_ms']:.2f} ms | "
                f"{x['postgres_cpu_ms']:.2f} ms | {_errors(x)} |"
            )
        r = ratio[c]
        lines.append(
            f"| {c} | {first} / {second} | {r['rps_median']:.2f}x ({_range(r['rps_range'], '{:.2f}')}) | | | "
            f"{r['server_cpu']:.2f}x | {r['postgres_cpu']:.2f}x | |"
        )
    return "\n".join(lines) + "\n"


def goals(peer: dict[str, Any], workers: dict[str, Any] | None) -> str:
    """Issue 16's targets, each met or not in this run."""

    def verdict(met: bool) -> str:
        return "met" if met else "**not met**"

    lines = ["## Goals (issue 16)", ""]
    for c in (1, 4):
        if c not in peer["ratios"]:
            continue
        ratio, ours = peer["ratios"][c], peer["servers"]["aidmap"]["levels"][c]
        fast = ratio["rps_median"] >= 1.3 and ours["p99_ms_median"] < TARGET_P99_MS
        lines.append(
            f"- {c} connection{'s' if c > 1 else ''}: ≥ 1.3x PostGraphile's req/s at p99 < 50 ms: "
            f"{ratio['rps_median']:.2f}x (p99 {ours['p99_ms_median']:.1f} ms), {verdict(fast)}; server CPU per "
            f"request ≤ 0.8x: {ratio['server_cpu']:.2f}x, {verdict(ratio['server_cpu'] <= 0.8)}"
        )
    if workers is not None:
        best = workers["ratios"]["best_under_target"]["median"]
        if best is None:
            lines.append(
                "- `--workers 2` more req/s at p99 < 50 ms than one worker: no round where both had a burst "
                "under 50 ms, **not measured**"
            )
        else:
            lines.append(f"- `--workers 2` more req/s at p99 < 50 ms than one worker: {best:.2f}x, {verdict(best > 1)}")
    return "\n".join(lines) + "\n"


def render(results: dict[str, Any]) -> str:
    """The report from a run's bursts (`--render peer.json` writes it again without measuring)."""
    levels, rounds = tuple(results["levels"]), results["rounds"]
    results["peer"] = summarize(results["peer_bursts"], levels, rounds)
    if "workers_bursts" in results:
        results["workers"] = summarize(results["workers_bursts"], levels, rounds)
    started = datetime.fromisoformat(results["started"])
    report = [
        "# aidmap and PostGraphile side by side (`make bench-peer`, `bench/peer.py`)",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: {results['needs']:,} demo needs ({results['open_food_needs']:,} open "
        f"FOOD), {rounds} rounds of {results['seconds_per_burst']:g}-second wrk bursts per server and level, "
        "alternating (A B, B A, ...). The job: the 20 nearest open FOOD needs within 5 km of a random point near "
        "Hà Nội, TP. Hồ Chí Minh or Huế, with id, title, quantity, urgency and the approximate (cell) "
        f"location. Both servers gave the same ids in the same order, with the same fields, at 25 "
        f"points ({results['rows_compared']} rows) before timing. Server, PostgreSQL and wrk share this "
        "machine's 2 cores; CPU per request is from /proc (the server's processes; the database's client "
        "backends).",
        "",
        goals(results["peer"], results.get("workers")),
        markdown(
            "aidmap against PostGraphile 5.1 (one process each)",
            results["peer"],
            levels,
            "PostGraphile 5.1.5 on Node 22 (both from npm, bench/peers/postgraphile/package-lock.json), "
            "`NODE_ENV=production`, no GraphiQL, no explain; its query is a STABLE plpgsql function "
            "(bench/peers/postgraphile/peer.sql) on the same per-category `ix_needs_open_food_rank_point` index, with "
            "aidmap's public rules (open statuses, KNN on the public rank point, radius on the k nearest, the "
            "cell as location). Ratios are aidmap / PostGraphile, round by round.",
        ),
    ]
    if "workers" in results:
        report.append(
            markdown(
                "aidmap --workers 2 against one worker",
                results["workers"],
                levels,
                "The same job, the same database; CPU per request sums the supervisor and both workers. "
                "Ratios are 2 workers / 1.",
            )
        )
    return "\n".join(report)


def _errors(level: dict[str, Any]) -> str:
    """The errors of a level, split when the run recorded them apart (older peer.json files did not)."""
    if "graphql_errors" not in level or level["errors"] == 0:
        return str(level["errors"])
    return f"{level['errors']} ({level['graphql_errors']} / {level['socket_errors']})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10, help="per burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="1,4,16", help="connections, comma-separated")
    parser.add_argument("--no-workers", action="store_true", help="skip aidmap --workers 2 against one worker")
    parser.add_argument("--out", type=Path, default=RESULTS / "peer.md")
    parser.add_argument("--render", type=Path, metavar="JSON", help="write the report again from a run's peer.json")
    args = parser.parse_args()
    if args.render:
        report = render(json.loads(args.render.read_text()))
        args.out.write_text(report)
        print(report)
        return 0
    levels = tuple(int(c) for c in args.levels.split(","))
    url = os.environ.get("AIDMAP_DATABASE_URL")
    scratch: ScratchDatabase | None = None
    started = datetime.now(UTC)
    if not url:
        scratch = ScratchDatabase("aidmap-peer-", "aidmap_bench")
        url = scratch.url
    results: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "needs": args.needs,
                               "seconds_per_burst": args.seconds, "rounds": args.rounds, "levels": levels}  # fmt: skip
    try:
        upgrade(url)
        if demo.database_is_empty(url):
            demo.seed(url, needs=args.needs)
        install_peer_function(url)
        with connect(url) as conn:
            results["open_food_needs"] = conn.execute(
                "SELECT count(*) FROM needs WHERE status IN ('OPEN', 'PARTLY_PLEDGED') AND category = 'FOOD'"
            ).fetchone()[0]  # type: ignore[index]
        backends = Backends(url)
        aidmap_server, aidmap_port = start_server(url)
        peer, peer_port = start_peer(url)
        try:
            results["rows_compared"] = check_same_answers(aidmap_port, peer_port)
            print(f"same answers at 25 points ({results['rows_compared']} rows)", flush=True)
            servers = {
                "aidmap": {"port": aidmap_port, "pid": aidmap_server.pid, "flavour": "aidmap"},
                "PostGraphile": {"port": peer_port, "pid": peer.pid, "flavour": "peer"},
            }
            results["peer_bursts"] = alternate(
                servers, backends, levels=levels, rounds=args.rounds, seconds=args.seconds
            )
        finally:
            stop_server(peer)
            stop_server(aidmap_server)
        if not args.no_workers:
            two, two_port = start_server(url, args=("--workers", "2"))
            one, one_port = start_server(url)
            try:
                servers = {
                    "aidmap --workers 2": {"port": two_port, "pid": two.pid, "flavour": "aidmap"},
                    "aidmap (1 worker)": {"port": one_port, "pid": one.pid, "flavour": "aidmap"},
                }
                results["workers_bursts"] = alternate(
                    servers, backends, levels=levels, rounds=args.rounds, seconds=args.seconds
                )
            finally:
                stop_server(two)
                stop_server(one)
        backends.close()
    finally:
        if scratch is not None:
            scratch.remove()
    report = render(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
