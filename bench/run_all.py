"""Every benchmark at chosen sizes, in one run, into one report: bench/results/report.md and PNG plots.

    make bench-all                                   # 10k, 100k and 1M open needs (long: the 1M load alone takes minutes)
    .venv/bin/python bench/run_all.py --sizes 10000 100000 --subscribers 100 1000

For each size: how long the data takes to load (and the rate), the database's size on disk,
how long the in-process R-tree match index takes to rebuild at start, and the nearby query over
raw SQL and over GraphQL (bench/nearby.py, p50 and p99), suggestions over GraphQL (bench/suggestions.py),
and the nearby query's throughput on one server process at p99 under 50 ms (bench/throughput.py, wrk).
Offers: one for every ten needs (100k at 1M). Then live fan-out latency against the number of
subscribers (bench/fanout.py). All figures come from this one run on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from aidmap import demo  # noqa: E402
from aidmap.db.cluster import LocalCluster, find_bin_dir  # noqa: E402
from aidmap.db.connect import connect  # noqa: E402
from aidmap.db.migrate import upgrade  # noqa: E402
from aidmap.events.match_index import MatchIndex  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness import free_port  # noqa: E402

RESULTS = HERE / "results"
NUMBER = r"([0-9.]+)"


def measure_size(cluster: LocalCluster, needs: int, queries: int) -> dict[str, Any]:
    name = f"bench_{needs}"
    cluster.ensure_database(name)
    url = cluster.url(name)
    upgrade(url)
    started = time.perf_counter()
    counts = demo.seed(url, needs=needs, offers=max(needs // 10, 1000))
    load_s = time.perf_counter() - started
    with connect(url) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        offers = conn.execute("SELECT count(*) FROM offers").fetchone()[0]  # type: ignore[index]
    index = MatchIndex()
    started = time.perf_counter()
    index.load(url)
    rebuild_s = time.perf_counter() - started
    out = subprocess.run(
        [sys.executable, str(HERE / "nearby.py"), "--queries", str(queries), "--warmup", "200"],
        env={**os.environ, "AIDMAP_DATABASE_URL": url}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    suggested = subprocess.run(
        [sys.executable, str(HERE / "suggestions.py"), "--samples", "40"],
        env={**os.environ, "AIDMAP_DATABASE_URL": url}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    import throughput

    load = throughput.measure(url, seconds=8)
    best = load["best"] or {"rps": 0, "p99_ms": None, "concurrency": None}
    sql = re.search(rf"raw psycopg SQL\s*: p50\s+{NUMBER} ms\s+p99\s+{NUMBER} ms", out)
    lists = re.search(rf"GraphQL/HTTP list\s+fields : p50\s+{NUMBER} ms\s+p99\s+{NUMBER} ms", out)
    full = re.search(rf"GraphQL/HTTP full\s+fields : p50\s+{NUMBER} ms\s+p99\s+{NUMBER} ms", out)
    assert sql and lists and full, out
    by_need = re.search(rf"suggestedNeeds\s*: p50\s+{NUMBER} ms\s+p99\s+{NUMBER} ms", suggested)
    by_offer = re.search(rf"suggestedOffers\s*: p50\s+{NUMBER} ms\s+p99\s+{NUMBER} ms", suggested)
    assert by_need and by_offer, suggested
    return {
        "needs": needs, "offers": offers, "rows": sum(counts.values()) if isinstance(counts, dict) else needs,
        "load_s": round(load_s, 1), "load_rows_per_s": round(needs / load_s), "db_mib": round(size / 2**20, 1),
        "index_rebuild_s": round(rebuild_s, 2),
        "sql_p50": float(sql[1]), "sql_p99": float(sql[2]), "list_p50": float(lists[1]), "list_p99": float(lists[2]),
        "full_p50": float(full[1]), "full_p99": float(full[2]),
        "throughput_rps": best["rps"], "throughput_p99": best["p99_ms"], "throughput_concurrency": best["concurrency"],
        "throughput_steps": load["steps"], "healthz_rps": load["healthz_rps"],
        "throughput_cpu_ms": best.get("server_cpu_ms_per_request"),
        "suggested_needs_p50": float(by_need[1]), "suggested_needs_p99": float(by_need[2]),
        "suggested_offers_p50": float(by_offer[1]), "suggested_offers_p99": float(by_offer[2]),
    }  # fmt: skip


def measure_fanout(subscribers: int) -> dict[str, Any]:
    needs, rate = (30, 2.0) if subscribers <= 1000 else (20, 0.5)
    out = subprocess.run(
        [sys.executable, str(HERE / "fanout.py"), "--subscribers", str(subscribers), "--needs", str(needs), "--rate", str(rate)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    latency = re.search(rf"commit -> received: p50 {NUMBER} ms\s+p99 {NUMBER} ms", out)
    assert latency, out
    return {"subscribers": subscribers, "p50_ms": float(latency[1]), "p99_ms": float(latency[2])}


def plots(sizes: list[dict[str, Any]], fanout: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    n = [s["needs"] for s in sizes]
    figure, axis = plt.subplots(figsize=(7, 4))
    for key, label in [("sql", "raw SQL"), ("list", "GraphQL, list"), ("full", "GraphQL, full")]:
        axis.plot(n, [s[f"{key}_p50"] for s in sizes], marker="o", label=f"{label} p50")
        axis.plot(n, [s[f"{key}_p99"] for s in sizes], marker="x", linestyle="--", label=f"{label} p99")
    for key, label in [("suggested_needs", "suggestedNeeds"), ("suggested_offers", "suggestedOffers")]:
        axis.plot(n, [s[f"{key}_p50"] for s in sizes], marker="s", label=f"{label} p50")
    axis.set(xscale="log", yscale="log", xlabel="open needs", ylabel="ms", title="Query latency against data size")
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(RESULTS / "nearby-latency.png", dpi=120)
    made.append("nearby-latency.png")
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(n, [s["index_rebuild_s"] for s in sizes], marker="o", label="R-tree rebuild at start (s)")
    axis.plot(n, [s["load_s"] for s in sizes], marker="o", label="bulk load (s)")
    axis.plot(n, [s["db_mib"] / 100 for s in sizes], marker="o", label="database size (100 MiB)")
    axis.set(xscale="log", yscale="log", xlabel="open needs", title="How costs grow with N")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(RESULTS / "growth.png", dpi=120)
    made.append("growth.png")
    if fanout:
        figure, axis = plt.subplots(figsize=(7, 4))
        subs = [f["subscribers"] for f in fanout]
        axis.plot(subs, [f["p50_ms"] for f in fanout], marker="o", label="p50")
        axis.plot(subs, [f["p99_ms"] for f in fanout], marker="x", label="p99")
        axis.set(
            xscale="log",
            yscale="log",
            xlabel="subscribers",
            ylabel="ms (commit to received)",
            title="Live fan-out latency",
        )
        axis.legend()
        axis.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(RESULTS / "fanout-latency.png", dpi=120)
        made.append("fanout-latency.png")
    plt.close("all")
    return made


def report(sizes: list[dict[str, Any]], fanout: list[dict[str, Any]], images: list[str]) -> str:
    lines = [
        "# aidmap benchmark report",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/run_all.py` on {os.cpu_count()} cores (PostgreSQL, the server and",
        "the clients share them). Every figure below comes from this one run.",
        "",
        "## Data size",
        "",
        "| open needs | offers | load (s) | load rate (rows/s) | database (MiB) | R-tree rebuild (s) | SQL p50 / p99 (ms) | GraphQL list p50 / p99 (ms) | GraphQL full p50 / p99 (ms) | list p50 ratio | suggestedNeeds p50 / p99 (ms) | suggestedOffers p50 / p99 (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in sizes:
        lines.append(
            f"| {s['needs']:,} | {s['offers']:,} | {s['load_s']} | {s['load_rows_per_s']:,} | {s['db_mib']} | {s['index_rebuild_s']} "
            f"| {s['sql_p50']} / {s['sql_p99']} | {s['list_p50']} / {s['list_p99']} | {s['full_p50']} / {s['full_p99']} "
            f"| {s['list_p50'] / s['sql_p50']:.1f}x | {s['suggested_needs_p50']} / {s['suggested_needs_p99']} "
            f"| {s['suggested_offers_p50']} / {s['suggested_offers_p99']} |"
        )
    lines += [
        "",
        "## Throughput (one server process, wrk on loopback)",
        "",
        "| open needs | nearby req/s at p99 < 50 ms | p99 (ms) | connections | server CPU per request (ms) | GET /healthz req/s (HTTP floor) | nearby / floor |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in sizes:
        lines.append(
            f"| {s['needs']:,} | {s['throughput_rps']:,} | {s['throughput_p99']} | {s['throughput_concurrency']} "
            f"| {s['throughput_cpu_ms']} | {s['healthz_rps']:,} | {s['throughput_rps'] / s['healthz_rps']:.2f} |"
        )
    if fanout:
        lines += ["", "## Live fan-out", "", "| subscribers | p50 (ms) | p99 (ms) |", "| --- | --- | --- |"]
        lines += [f"| {f['subscribers']:,} | {f['p50_ms']} | {f['p99_ms']} |" for f in fanout]
    lines += [
        "",
        "wrk and PostgreSQL share the machine's 2 cores with the server, so the throughput figures are",
        "lower bounds for a dedicated server core; the server's CPU time per request is the steadier figure.",
    ]
    lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in images] + [""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--subscribers", type=int, nargs="*", default=[100, 1000, 10_000])
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="aidmap-bench-all-"))
    cluster = LocalCluster(base_dir=base, port=free_port(), bin_dir=find_bin_dir(), durable=False)
    cluster.init()
    cluster.start()
    try:
        sizes = []
        for needs in args.sizes:
            print(f"size {needs:,} ...", flush=True)
            sizes.append(measure_size(cluster, needs, args.queries))
            print(json.dumps(sizes[-1]), flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    fanout = []
    for subscribers in args.subscribers:
        print(f"fan-out {subscribers:,} ...", flush=True)
        fanout.append(measure_fanout(subscribers))
        print(json.dumps(fanout[-1]), flush=True)
    images = plots(sizes, fanout)
    (RESULTS / "results.json").write_text(json.dumps({"sizes": sizes, "fanout": fanout}, indent=2))
    (RESULTS / "report.md").write_text(report(sizes, fanout, images))
    print(f"wrote {RESULTS / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
