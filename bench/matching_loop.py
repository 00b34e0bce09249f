"""Does a matching round stall the event loop? The round's pure part (aidmap/fairness/matching.py
propose) on a synthetic city (bench/matching.py), run on the loop, in a thread (asyncio.to_thread,
what a round does) and in a process, while a ticker on the loop sleeps 10 ms at a time; reports the
longest gap the ticker saw (how long a `{__typename}` would have waited). No database.

    .venv/bin/python bench/matching_loop.py [--needs 30000] [--offers 15000]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aidmap.fairness.matching import propose  # noqa: E402
from aidmap.fairness.reach import settings_reach  # noqa: E402
from aidmap.settings import Settings  # noqa: E402
from bench.matching import city  # noqa: E402


async def _measure(run: Any) -> tuple[float, float]:
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last - 0.01)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await run()
    took = time.perf_counter() - started
    done.set()
    await ticker
    return took, max(gaps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--needs", type=int, default=30000)
    parser.add_argument("--offers", type=int, default=15000)
    args = parser.parse_args()
    needs, offers, helped = city(args.needs, args.offers, seed=args.needs)
    reach = settings_reach(Settings())
    kwargs = {"fairness_weight": 0.5, "helped_counts": helped, "reach": reach}

    async def inline() -> None:
        propose(needs, offers, **kwargs)

    async def thread() -> None:
        await asyncio.to_thread(propose, needs, offers, **kwargs)

    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1)

    async def process() -> None:
        await asyncio.wrap_future(pool.submit(propose, needs, offers, **kwargs))

    for name, run in (("on the loop", inline), ("asyncio.to_thread", thread), ("process", process)):
        took, gap = asyncio.run(_measure(run))
        print(
            f"{args.needs:,} needs, {args.offers:,} offers, {name}: round {took:.2f} s, longest loop stall {gap * 1000:.0f} ms",
            flush=True,
        )
    pool.shutdown()


if __name__ == "__main__":
    main()
