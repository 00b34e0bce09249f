"""Benchmark: hostile clients against a real `aidmap serve`.

Starts a throwaway PostGIS cluster and the server, then measures:
- the time to refuse each fragment bomb (`query{...Fn} fragment F0 on Query{__typename}
  fragment F1 on Query{...F0 ...F0} ...`) of 20, 60 and 200 fragments (tokens raised to
  20,000 so the larger ones reach the document checks);
- /healthz latency (p50, p99) alone, and while one client streams 60-fragment bombs;
- /healthz from another address while 2,000 sockets each hold half a request head.

    python bench/hostile.py [--seconds 10] [--checkout /path/to/other/checkout]

Writes bench/results/hostile.json and bench/results/hostile.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aidmap.db.migrate import upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ScratchDatabase, start_server, stop_server  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def bomb(n: int) -> str:
    spreads = " ".join(f"fragment F{i} on Query{{...F{i - 1} ...F{i - 1}}}" for i in range(1, n + 1))
    return f"query{{...F{n}}} fragment F0 on Query{{__typename}} {spreads}"


def post(port: int, query: str, timeout: float = 60) -> tuple[float, str]:
    body = json.dumps({"query": query}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request("POST", "/graphql", body=body, headers={"Content-Type": "application/json"})
        answer = json.loads(connection.getresponse().read())
    except (OSError, ValueError) as error:
        return time.perf_counter() - started, type(error).__name__
    finally:
        connection.close()
    errors = answer.get("errors") or [{}]
    return time.perf_counter() - started, errors[0].get("extensions", {}).get("code") or errors[0].get("message", "")


def healthz(port: int, seconds: float, source: str = "127.0.0.1") -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0)) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass
        except OSError:
            latencies.append(float("inf"))
            continue
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"count": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


def measure(port: int, seconds: float, sizes: list[int], attack_size: int) -> dict[str, object]:
    report: dict[str, object] = {}
    refusals = {}
    for n in sizes:
        times, codes = [], set()
        for _ in range(5):
            elapsed, code = post(port, bomb(n))
            times.append(elapsed)
            codes.add(code)
        refusals[n] = {"median_ms": round(statistics.median(times) * 1000, 2), "codes": sorted(codes)}
    report["bomb_refusal"] = refusals
    report["healthz_alone"] = summary(healthz(port, seconds))

    stop = threading.Event()
    sent = [0]

    def attack() -> None:
        while not stop.is_set():
            post(port, bomb(attack_size))
            sent[0] += 1

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    under_attack = healthz(port, seconds)
    stop.set()
    attacker.join(timeout=120)
    report["healthz_under_bombs"] = summary(under_attack) | {"bombs_sent": sent[0], "fragments": attack_size}

    slow = []
    try:
        for _ in range(2000):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        report["healthz_beside_2000_slow_sockets"] = summary(healthz(port, min(seconds, 3), source="127.0.0.2"))
    finally:
        for s in slow:
            s.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each /healthz measurement")
    parser.add_argument("--checkout", type=Path, help="serve another checkout's code (for a before/after)")
    parser.add_argument("--fragments", type=int, nargs="+", default=[20, 60, 200], help="bomb sizes to time")
    parser.add_argument("--attack-fragments", type=int, default=60, help="the size streamed during /healthz")
    args = parser.parse_args()

    database = ScratchDatabase("aidmap-hostile-")
    server = None
    try:
        url = database.url
        if args.checkout is None:  # another checkout migrates its own way (aidmap serve does)
            upgrade(url)
        server, port = start_server(url, env={"AIDMAP_MAX_QUERY_TOKENS": "20000"}, checkout=args.checkout)
        report = {"checkout": str(args.checkout or "this"), "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        report |= measure(port, args.seconds, args.fragments, args.attack_fragments)
    finally:
        if server is not None:
            stop_server(server)
        database.remove()
    print(json.dumps(report, indent=2))
    if args.checkout is None:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "hostile.json").write_text(json.dumps(report, indent=2) + "\n")
        lines = [f"# Hostile clients ({report['at']})", "", "| measurement | result |", "| --- | --- |"]
        for n, r in report["bomb_refusal"].items():  # type: ignore[attr-defined]
            lines.append(f"| {n}-fragment bomb refused | {r['median_ms']} ms ({', '.join(r['codes'])}) |")
        for key in ("healthz_alone", "healthz_under_bombs", "healthz_beside_2000_slow_sockets"):
            r = report[key]  # type: ignore[assignment]
            lines.append(f"| /healthz {key.removeprefix('healthz_').replace('_', ' ')} | p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms ({r['count']} requests) |")  # type: ignore[index]
        (RESULTS / "hostile.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
