"""Benchmark: live fan-out to many websocket subscribers.

Starts a throwaway PostGIS cluster and `aidmap serve` in its own process, opens N
`needsNearby` subscriptions (graphql-transport-ws) with centres spread over Hà Nội,
then creates needs at a steady rate and measures, for every delivery, the time from
sending the createNeed mutation (so the mutation's own work is included) to the event
arriving at the subscriber. Also reports the server's memory per idle subscription.

    python bench/fanout.py --subscribers 1000 --needs 40 --rate 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap.db.migrate import upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ScratchDatabase, start_server, stop_server  # noqa: E402

HANOI = (21.0285, 105.8542)
SUBSCRIBE = """subscription ($near: GeoPointInput!) {
  needsNearby(near: $near, radiusMeters: 3000) { cursor kind distanceMeters need { id title category urgency approximateLocation { lat lon } } }
}"""
CREATE = """mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id } errors { code } } }"""


def family(pid: int) -> list[int]:
    """The server and its descendants (uvicorn's workers with --workers N)."""
    pids = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        pids.extend(family(int(child)))
    return pids


def rss_kib(pid: int) -> int:
    total = 0
    for member in family(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the server and its workers (from /proc)."""
    total = 0
    for member in family(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def spread(rng: random.Random, sigma_km: float) -> dict[str, float]:
    return {"lat": HANOI[0] + rng.gauss(0, sigma_km) / 111.32, "lon": HANOI[1] + rng.gauss(0, sigma_km) / 104.0}


async def subscriber(
    ws_url: str, near: dict[str, float], ready: asyncio.Event, received: dict[str, list[float]]
) -> None:
    for attempt in range(6):
        try:
            await _subscribe(ws_url, near, ready, received)
            return
        except (OSError, InvalidMessage, InvalidStatus, TimeoutError):
            # Thousands of handshakes at once can overflow the listen backlog: back off and retry.
            if ready.is_set():
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise RuntimeError("could not subscribe")


async def _subscribe(
    ws_url: str, near: dict[str, float], ready: asyncio.Event, received: dict[str, list[float]]
) -> None:
    async with connect(ws_url, subprotocols=["graphql-transport-ws"], max_queue=None, open_timeout=60) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        await ws.recv()
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"near": near}}})
        )
        ready.set()
        async for raw in ws:
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") == "next":
                title = message["payload"]["data"]["needsNearby"]["need"]["title"]
                received.setdefault(title, []).append(now)
            elif message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))


async def run(args: argparse.Namespace, url: str, server_pid: int, port: int) -> None:
    rng = random.Random(7)
    base = f"http://127.0.0.1:{port}"
    async with httpx2.AsyncClient(base_url=base, timeout=60) as http:
        signup = await http.post(
            "/graphql",
            json={
                "query": 'mutation { signUp(input: {displayName: "bench", phone: "0900999999", password: "bench-password"}) { token } }'
            },
        )
        token = signup.json()["data"]["signUp"]["token"]
        before = rss_kib(server_pid)

        received: dict[str, list[float]] = {}
        readies = []
        tasks = []
        ws_url = f"ws://127.0.0.1:{port}/graphql"
        for i in range(args.subscribers):
            ready = asyncio.Event()
            readies.append(ready)
            tasks.append(asyncio.create_task(subscriber(ws_url, spread(rng, 4.0), ready, received)))
            if i % 200 == 199:
                await asyncio.sleep(0.05)  # let the server keep up with the handshakes
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=300)
        await asyncio.sleep(3)  # subscriptions registered server-side
        after = rss_kib(server_pid)
        print(
            f"shared execution: {'off' if args.no_share else 'on'}; live batch: {'off' if args.no_batch else 'on'}; workers: {args.workers}"
        )
        print(f"subscribers: {args.subscribers}; server RSS {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB; "
              f"{(after - before) / args.subscribers:.1f} KiB per idle subscription")  # fmt: skip

        sent: dict[str, float] = {}
        profiler = None
        if args.profile:
            # py-spy samples the server from outside (collapsed stacks, for flame graphs or grep).
            seconds = int(args.needs / args.rate + 5)
            profiler = subprocess.Popen([shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                                         "record", "-r", "200", "-d", str(seconds), "-p", str(server_pid),
                                         "-f", "raw", "-o", args.profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        cpu_before = cpu_seconds(server_pid)
        client_cpu_before = time.process_time()
        interval = 1.0 / args.rate
        for i in range(args.needs):
            title = f"bench need {i}"
            point = spread(rng, 2.0)
            sent[title] = time.perf_counter()
            variables = {"input": {"category": "FOOD", "title": title, "quantity": 3, "unit": "kg", "urgency": "HIGH",
                                   "location": point, "contactPhone": "0900999999"}}  # fmt: skip
            response = await http.post(
                "/graphql", json={"query": CREATE, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 200 or response.json()["data"]["createNeed"]["errors"] != []:
                raise SystemExit(f"createNeed failed: {response.status_code} {response.text[:300]}")
            await asyncio.sleep(max(0.0, sent[title] + interval - time.perf_counter()))
        await asyncio.sleep(5)  # the last deliveries
        if profiler is not None:
            profiler.wait()

        cpu_used = cpu_seconds(server_pid) - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        latencies = [(t - sent[title]) * 1000 for title, times in received.items() if title in sent for t in times]
        per_need = [len(received.get(t, [])) for t in sent]
        print(
            f"needs: {args.needs} at {args.rate}/s; deliveries {len(latencies)} (mean {statistics.mean(per_need):.0f} subscribers per need)"
        )
        print(
            f"server CPU: {cpu_used:.1f} s for {len(latencies)} deliveries, {cpu_used / max(1, len(latencies)) * 1e6:.0f} us each"
        )
        print(f"client CPU (this process, receiving): {client_cpu:.1f} s over the same span")
        page = (await http.get("/metrics")).text
        batch = {
            line.split('"')[1]: float(line.split()[-1])
            for line in page.splitlines()
            if line.startswith("aidmap_live_batch_messages{")
        }
        if batch:
            print(
                f"live batch (one process's): {batch.get('direct', 0):.0f} written directly, {batch.get('pushed', 0):.0f} pushed to streams"
            )
        print(
            f"commit -> received: p50 {percentile(latencies, 50):.1f} ms  p99 {percentile(latencies, 99):.1f} ms  max {max(latencies):.1f} ms"
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--needs", type=int, default=40)
    parser.add_argument("--rate", type=float, default=2.0, help="needs created per second")
    parser.add_argument(
        "--no-share", action="store_true", help="execute each subscriber's selection separately (for comparison)"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (subscribers spread over them)")
    parser.add_argument(
        "--no-batch", action="store_true", help="each subscriber's stream sends its own events (before)"
    )
    parser.add_argument("--profile", metavar="FILE", help="sample the server with py-spy while needs are created")
    args = parser.parse_args()

    database = ScratchDatabase("aidmap-fanout-")
    server = None
    try:
        url = database.url
        upgrade(url)
        server, port = start_server(url, env={
            "AIDMAP_PASSWORD_HASH_PROFILE": "CHEAPEST", "AIDMAP_DB_POOL_SIZE": "20", "AIDMAP_MAX_OPEN_NEEDS_PER_CATEGORY": "100000",
            # All subscribers come from one address, and 10,000 sockets reach the default connection cap.
            "AIDMAP_MAX_CONNECTIONS_PER_IP": "0", "AIDMAP_MAX_CONNECTIONS": str(args.subscribers * 2 + 100),
            "AIDMAP_SHARE_EVENT_RESULTS": "0" if args.no_share else "1",
            "AIDMAP_LIVE_BATCH": "0" if args.no_batch else "1"}, args=("--workers", str(args.workers)))  # fmt: skip
        asyncio.run(run(args, url, server.pid, port))
    finally:
        if server is not None:
            stop_server(server)
        database.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
