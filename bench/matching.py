"""Cost of a matching round (aidmap/fairness/matching.py, the code a round runs) against the number
of open needs and offers, in a synthetic city shaped like the demo's (clusters around five city
centres, offers of 1-10 km); pure Python + scipy, no database. Writes bench/results/matching.md.
The same round again with collection points (RELAYS_PER_CITY per city, couriers reaching
RELAY_REACH_KM, aidmap/resolvers/collection_points.py) shows what relays add to it.

    .venv/bin/python bench/matching.py [--sizes 1000:100,10000:1000,100000:10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap.fairness.matching import NeedSlot, OfferSlot, RelaySlot, candidates, propose  # noqa: E402
from aidmap.fairness.reach import settings_reach  # noqa: E402
from aidmap.geo.privacy import snap_to_cell  # noqa: E402
from aidmap.settings import Settings  # noqa: E402

CITIES = [(105.8542, 21.0285, 0.06), (106.7009, 10.7769, 0.07), (107.5909, 16.4637, 0.03),
          (106.0983, 11.3101, 0.03), (107.0843, 10.3460, 0.02)]  # fmt: skip
CATEGORIES = ["FOOD"] * 5 + ["MEDICINE"] * 2 + ["ESSENTIALS", "STUDY_DEVICE", "ERRAND"]
RELAYS_PER_CITY = 10
RELAY_REACH_KM = 30.0


def relays(seed: int) -> list[RelaySlot]:
    """Collection points near each city's centre, 100 units a day each."""
    rng = random.Random(seed)
    return [
        RelaySlot(k, lon + rng.gauss(0, spread / 3), lat + rng.gauss(0, spread / 3), RELAY_REACH_KM, 100)
        for k, (lon, lat, spread) in enumerate(CITIES * RELAYS_PER_CITY)
    ]


def city(n_needs: int, n_offers: int, seed: int) -> tuple[list[NeedSlot], list[OfferSlot], dict[str, int]]:
    rng = random.Random(seed)

    def place() -> tuple[float, float]:
        lon, lat, spread = rng.choice(CITIES)
        return snap_to_cell(lon + rng.gauss(0, spread), lat + rng.gauss(0, spread))

    needs = [
        NeedSlot(i, f"b{i % max(1, n_needs * 4 // 5)}", *place(), rng.randint(1, 10), rng.choice(CATEGORIES),
                 urgency=rng.choice(["LOW", "NORMAL", "HIGH", "CRITICAL"]), waited_seconds=rng.uniform(0, 96) * 3600,
                 pledged=rng.random() < 0.2)
        for i in range(n_needs)
    ]  # fmt: skip
    offers = [
        OfferSlot(10_000_000 + j, *place(), rng.choice([1.0, 2.0, 3.0, 5.0, 10.0]), rng.randint(1, 20),
                  rng.choice(CATEGORIES))
        for j in range(n_offers)
    ]  # fmt: skip
    helped = {f"b{k}": rng.choice([0, 0, 0, 1, 2]) for k in range(0, n_needs, 3)}
    return needs, offers, helped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000:100,10000:1000,30000:3000,100000:10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "matching.md"))
    args = parser.parse_args()
    reach = settings_reach(Settings())
    rows = []
    for size in args.sizes.split(","):
        n_needs, n_offers = (int(x) for x in size.split(":"))
        needs, offers, helped = city(n_needs, n_offers, seed=n_needs)
        times, cand_times, relay_times, proposals, relayed = [], [], [], 0, 0
        points = relays(seed=n_needs)
        for _ in range(args.repeat):
            started = time.process_time()
            candidates(needs, offers, fairness_weight=0.5, helped_counts=helped, reach=reach)
            cand_times.append(time.process_time() - started)
            started = time.process_time()
            found = propose(needs, offers, fairness_weight=0.5, helped_counts=helped, reach=reach)
            times.append(time.process_time() - started)
            proposals = len(found)
            started = time.process_time()
            through = propose(needs, offers, fairness_weight=0.5, helped_counts=helped, reach=reach, relays=points)
            relay_times.append(time.process_time() - started)
            relayed = sum(1 for p in through if p.via is not None)
        units = sum(p.quantity for p in found)
        rows.append((n_needs, n_offers, proposals, units, statistics.median(cand_times), statistics.median(times),
                     max(times), statistics.median(relay_times), relayed))  # fmt: skip
        print(rows[-1], flush=True)
    lines = [
        "# Matching round cost (`bench/matching.py`)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU time of one process (median of "
        f"{args.repeat}), synthetic city of five clusters, default reach settings, fairness weight 0.5, "
        f"20 candidates per offer, 3 slots per offer, 2 per need; the last columns: the same round with "
        f"{RELAYS_PER_CITY * len(CITIES)} collection points ({RELAYS_PER_CITY} per city, {RELAY_REACH_KM:g} km).",
        "",
        "| open needs | open offers | proposals (units) | candidates only | whole round p50 | max | "
        "with collection points p50 | proposals through one |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {n:,} | {o:,} | {p:,} ({u:,}) | {c:.2f} s | {t:.2f} s | {m:.2f} s | {r:.2f} s ({r / t:.2f}x) | {v:,} |"
            for n, o, p, u, c, t, m, r, v in rows
        ),  # fmt: skip
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
