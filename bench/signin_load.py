"""Benchmark: a trivial query's latency while 8 clients sign in continuously, hashing on the event loop
("before") and in the bounded pool ("after"), side by side in one run.

Starts a throwaway PostGIS cluster with one database per server. "before" is the code just before
argon2 moved off the loop (commit ae8bb85, `git log -S_off_loop`), extracted with `git archive` into a
temporary folder (no worktree is made) and served from there; "after" is this checkout. Both use the
production argon2 profile (RFC_9106_LOW_MEMORY). For each: `{ __typename }` over HTTP alone, then
while 8 clients sign in (right passwords, 8 accounts) without pause.

    python bench/signin_load.py [--seconds 10] [--clients 8] [--before ae8bb85]

Writes bench/results/signin.json and bench/results/signin.md.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from aidmap.db.cluster import LocalCluster, find_bin_dir  # noqa: E402
from aidmap.db.migrate import upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import free_port, start_server, stop_server  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BEFORE = "ae8bb85"  # the parent of b2f298a, "Hashing off the event loop"
SIGN_UP = "mutation ($i: SignUpInput!) { signUp(input: $i) { token errors { code } } }"
SIGN_IN = "mutation ($i: SignInInput!) { signIn(input: $i) { token errors { code } } }"
PASSWORD = "benchmark password 1"


def post(connection: http.client.HTTPConnection, query: str, variables: dict[str, object] | None = None) -> dict:  # type: ignore[type-arg]
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    connection.request("POST", "/graphql", body=body, headers={"Content-Type": "application/json"})
    return json.loads(connection.getresponse().read())  # type: ignore[no-any-return]


def trivial_queries(port: int, seconds: float) -> list[float]:
    """`{ __typename }` on one keep-alive connection, 20 ms apart, for `seconds`."""
    latencies = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            answer = post(connection, "{ __typename }")
            latencies.append(time.perf_counter() - started)
            assert answer == {"data": {"__typename": "Query"}}, answer
            time.sleep(0.02)
    finally:
        connection.close()
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def measure(port: int, seconds: float, clients: int) -> dict[str, object]:
    phones = [f"09300000{i:02d}" for i in range(clients)]
    with_connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i, phone in enumerate(phones):
        made = post(
            with_connection, SIGN_UP, {"i": {"displayName": f"Bench {i}", "phone": phone, "password": PASSWORD}}
        )
        assert made["data"]["signUp"]["errors"] == [], made
    with_connection.close()
    alone = trivial_queries(port, seconds)

    stop = threading.Event()
    signed_in, failed = [0], [0]

    def sign_in_forever(phone: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while not stop.is_set():
                answer = post(connection, SIGN_IN, {"i": {"phone": phone, "password": PASSWORD}})
                if answer.get("data", {}).get("signIn", {}).get("token"):
                    signed_in[0] += 1
                else:
                    failed[0] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_in_forever, args=(phone,), daemon=True) for phone in phones]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the sign-ins are under way
    started = time.monotonic()
    busy = trivial_queries(port, seconds)
    elapsed = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return {
        "alone": summary(alone),
        "while_signing_in": summary(busy) | {
            "sign_ins_per_s": round(signed_in[0] / (elapsed + 1.0), 1), "failed_sign_ins": failed[0]
        },
    }  # fmt: skip


def extract(commit: str, into: Path) -> Path:
    """The tree of `commit` in a folder of its own (git archive: no worktree, nothing in .git changes)."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each latency measurement")
    parser.add_argument("--clients", type=int, default=8, help="clients signing in continuously")
    parser.add_argument("--before", default=BEFORE, help="the commit with argon2 on the event loop")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="aidmap-signin-"))
    cluster = LocalCluster(base_dir=base / "pg", port=free_port(), bin_dir=find_bin_dir(), durable=False)
    cluster.init()
    cluster.start()
    production = {"AIDMAP_PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY"}
    report: dict[str, object] = {
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "clients": args.clients,
        "seconds": args.seconds,
        "before_commit": args.before,
        "hash_profile": production["AIDMAP_PASSWORD_HASH_PROFILE"],
    }
    try:
        old = extract(args.before, base / "before")
        for label, checkout in (("before", old), ("after", None)):
            cluster.ensure_database(label)
            url = cluster.url(label)
            if checkout is None:  # another checkout migrates its own way (aidmap serve does)
                upgrade(url)
            server, port = start_server(url, env=production, checkout=checkout)
            try:
                report[label] = measure(port, args.seconds, args.clients)
            finally:
                stop_server(server)
            print(label, json.dumps(report[label]), flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "signin.json").write_text(json.dumps(report, indent=2) + "\n")
    before, after = report["before"], report["after"]
    lines = [
        f"# A trivial query while {args.clients} clients sign in ({report['at']})",
        "",
        f"`{{ __typename }}` over HTTP every 20 ms for {args.seconds:g} s, alone and while {args.clients} clients sign in "
        f"without pause (right passwords, argon2id profile {report['hash_profile']}), on {report['cores']} cores "
        "shared by the server, PostgreSQL and the clients. Before: argon2 on the event loop "
        f"(commit {args.before}); after: in the bounded pool (this checkout). `make bench-signin`.",
        "",
        "| | before: p50 | before: p99 | before: max | after: p50 | after: p99 | after: max |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, name in (("alone", "alone"), ("while_signing_in", f"while {args.clients} clients sign in")):
        b, a = before[key], after[key]  # type: ignore[index]
        lines.append(
            f"| {name} | {b['p50_ms']} ms | {b['p99_ms']} ms | {b['max_ms']} ms "
            f"| {a['p50_ms']} ms | {a['p99_ms']} ms | {a['max_ms']} ms |"
        )
    b, a = before["while_signing_in"], after["while_signing_in"]  # type: ignore[index]
    lines += ["", f"Sign-ins per second: {b['sign_ins_per_s']} before, {a['sign_ins_per_s']} after."]
    (RESULTS / "signin.md").write_text("\n".join(lines) + "\n")
    print((RESULTS / "signin.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
