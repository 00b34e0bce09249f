"""A read replica's lag, and what waiting for it costs a revocation (AIDMAP_READ_DATABASE_URL).

On a throwaway cluster and a streaming replica of it (pg_basebackup -R, as tests/db/test_read_replica.py
makes), one `aidmap serve` with the replica as its read database:

1. lag: `createNeed` over HTTP, then the replica is polled (one open connection, as fast as it
   answers) until the new row is there; the time from the mutation's answer to the row on the
   replica, for --needs needs, one at a time. PostgreSQL's own `pg_stat_replication.replay_lag`
   is sampled too.
2. the time `signOut` takes with the replica (it answers once the replica has the revocation)
   and on a server without one, alternating;
3. where the searches' database work goes: --searches signed-in `needs(near:)` requests (a token
   look-up and a search each, one keep-alive client) to each server, alternating twice, with the
   CPU time of the primary's and of the replica's client backends from /proc.

Both servers, PostgreSQL, its replica and this client share the machine. Results: bench/results/replica.md.

    .venv/bin/python bench/replica.py --needs 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap.db.cluster import LocalCluster, find_bin_dir  # noqa: E402
from aidmap.db.connect import connect  # noqa: E402
from aidmap.schema.ids import from_global_id  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import free_port, start_server, stop_server  # noqa: E402
from peer import Backends, spent  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIGN_UP = """mutation ($input: SignUpInput!) { signUp(input: $input) { token errors { code } } }"""
CREATE_NEED = """mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id } errors { code } } }"""
SIGN_OUT = "mutation { signOut { revokedTokens errors { code } } }"
SEARCH = """query ($near: GeoPointInput!) {
  needs(near: $near, radiusMeters: 5000, categories: [FOOD], first: 20) { edges { distanceMeters node { id title } } }
}"""
NEED = {"category": "FOOD", "title": "Gạo", "quantity": 5, "unit": "kg", "urgency": "HIGH",
        "location": {"lat": 21.0285, "lon": 105.8542}, "contactPhone": "0912 345 678"}  # fmt: skip


class Client:
    def __init__(self, port: int) -> None:
        self._port = port
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        body = json.dumps({"query": query, "variables": variables or {}})
        try:
            self._conn.request("POST", "/graphql", body, headers)
            raw = self._conn.getresponse().read()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle keep-alive connection (uvicorn: after 5 s).
            self._conn.close()
            self._conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
            self._conn.request("POST", "/graphql", body, headers)
            raw = self._conn.getresponse().read()
        answer: dict[str, Any] = json.loads(raw)
        if answer.get("errors"):
            raise SystemExit(f"error: {answer}")
        return answer["data"]


_phones = iter(range(10**8))


def sign_up(client: Client) -> str:
    phone = f"09{next(_phones) + 10**7:08d}"
    payload = client.data(SIGN_UP, {"input": {"displayName": "Bench", "phone": phone, "password": "correct horse"}})
    token: str = payload["signUp"]["token"]
    return token


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=200)
    parser.add_argument("--sign-outs", type=int, default=50)
    parser.add_argument("--searches", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS / "replica.md")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="aidmap-replica-bench-"))
    primary = LocalCluster(base_dir=base / "primary", port=free_port(), bin_dir=find_bin_dir(), durable=True)
    primary.init()
    primary.start()
    replica: LocalCluster | None = None
    servers = []
    started = datetime.now(UTC)
    try:
        primary.ensure_database("aidmap_bench")
        replica = primary.replicate(base / "replica", free_port())
        replica.start()
        env = {"AIDMAP_PASSWORD_HASH_PROFILE": "CHEAPEST", "AIDMAP_SECRET_KEY": "bench",
               "AIDMAP_MAX_OPEN_NEEDS_PER_CATEGORY": "1000000"}  # fmt: skip
        with_replica, port = start_server(
            primary.url("aidmap_bench"), env={**env, "AIDMAP_READ_DATABASE_URL": replica.url("aidmap_bench")}
        )
        servers.append(with_replica)
        without, plain_port = start_server(primary.url("aidmap_bench"), env=env)
        servers.append(without)
        client, plain = Client(port), Client(plain_port)
        token = sign_up(client)
        lags: list[float] = []
        replay_lags: list[float] = []
        with (
            connect(replica.url("aidmap_bench"), autocommit=True) as on_replica,
            connect(primary.url("aidmap_bench"), autocommit=True) as on_primary,
        ):
            for i in range(args.needs):
                # Apart and with their own phones, so none is refused as a duplicate.
                fields = NEED | {"contactPhone": f"0912{i:06d}", "location": {"lat": 21.0 + i * 0.001, "lon": 105.85}}
                need = client.data(CREATE_NEED, {"input": fields}, token)["createNeed"]["need"]
                answered = time.perf_counter()
                pk = from_global_id(need["id"])[1]
                while on_replica.execute("SELECT 1 FROM needs WHERE id = %s", (pk,)).fetchone() is None:
                    pass
                lags.append((time.perf_counter() - answered) * 1000)
                row = on_primary.execute(
                    "SELECT extract(epoch FROM replay_lag) FROM pg_stat_replication WHERE replay_lag IS NOT NULL"
                ).fetchone()
                if row is not None:
                    replay_lags.append(float(row[0]) * 1000)
        sign_out: dict[str, list[float]] = {"with the replica": [], "without": []}
        for _ in range(args.sign_outs):
            for name, who in (("with the replica", client), ("without", plain)):
                victim = sign_up(who)
                began = time.perf_counter()
                assert who.data(SIGN_OUT, None, victim)["signOut"]["revokedTokens"] == 1
                sign_out[name].append((time.perf_counter() - began) * 1000)
        # A searcher who has written nothing (its own reads would go to the primary for a while).
        searcher = {"with the replica": (client, sign_up(client)), "without": (plain, sign_up(plain))}
        time.sleep(3)
        rng = random.Random(7)
        work: dict[str, dict[str, float]] = {
            name: {"requests": 0, "seconds": 0.0, "primary": 0.0, "replica": 0.0} for name in searcher
        }
        on_primary_backends = Backends(primary.url("aidmap_bench"))
        on_replica_backends = Backends(replica.url("aidmap_bench"))
        for _ in range(2):
            for name, (who, searching) in searcher.items():
                points = [{"lat": 21.0 + rng.random() * 0.3, "lon": 105.85} for _ in range(args.searches)]
                before = on_primary_backends.snapshot(), on_replica_backends.snapshot()
                began = time.perf_counter()
                for point in points:
                    who.data(SEARCH, {"near": point}, searching)
                work[name]["seconds"] += time.perf_counter() - began
                work[name]["requests"] += len(points)
                work[name]["primary"] += spent(before[0], on_primary_backends.snapshot())
                work[name]["replica"] += spent(before[1], on_replica_backends.snapshot())
        on_primary_backends.close()
        on_replica_backends.close()
    finally:
        for server in servers:
            stop_server(server)
        if replica is not None:
            replica.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)
    lines = [
        "# A read replica's lag (`bench/replica.py`)",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on this machine's 2 shared cores: a durable local cluster and a "
        "streaming replica of it (pg_basebackup -R, hot standby, asynchronous), one `aidmap serve` reading from "
        "the replica and one without.",
        "",
        "| measure | p50 | p90 | p99 | max | samples |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| createNeed answered → the row on the replica | {pct(lags, 50):.2f} ms | {pct(lags, 90):.2f} ms | "
        f"{pct(lags, 99):.2f} ms | {max(lags):.2f} ms | {len(lags)} |",
    ]
    if replay_lags:
        lines.append(
            f"| pg_stat_replication.replay_lag (sampled) | {pct(replay_lags, 50):.2f} ms | {pct(replay_lags, 90):.2f} ms "
            f"| {pct(replay_lags, 99):.2f} ms | {max(replay_lags):.2f} ms | {len(replay_lags)} |"
        )
    for name, values in sign_out.items():
        lines.append(
            f"| signOut, {name} | {pct(values, 50):.2f} ms | {pct(values, 90):.2f} ms | {pct(values, 99):.2f} ms | "
            f"{max(values):.2f} ms | {len(values)} |"
        )
    lines += [
        "",
        f"Median createNeed-to-replica lag {statistics.median(lags):.2f} ms.",
        "",
        "Signed-in searches (a token look-up and `needs(near:, first: 20)` each), one client, alternating:",
        "",
        "| server | requests | req/s | primary PostgreSQL CPU per request | replica PostgreSQL CPU per request |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, w in work.items():
        n = w["requests"]
        lines.append(
            f"| {name} | {n:.0f} | {n / w['seconds']:.0f} | {w['primary'] / n * 1000:.3f} ms | "
            f"{w['replica'] / n * 1000:.3f} ms |"
        )
    report = "\n".join(lines) + "\n"
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
