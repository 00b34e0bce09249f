"""Background jobs woken by events: they run on the wake-up, and stopping them always ends them."""

from __future__ import annotations

import asyncio

from aidmap.jobs.periodic import PeriodicJob


def test_a_woken_job_runs_soon_and_stops_even_while_it_is_being_woken() -> None:
    async def scenario() -> tuple[float, int]:
        ran: list[float] = []
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        async def step() -> None:
            ran.append(loop.time())

        job = PeriodicJob(name="test-woken", step=step, interval_s=30.0, wake=wake)
        job.start()
        started = loop.time()
        await asyncio.sleep(0.3)
        wake.set()  # new events: the step runs now, not after its 30 s fallback
        while not ran:
            await asyncio.sleep(0.01)
        first_after = ran[0] - started

        async def keep_waking() -> None:
            while True:
                wake.set()
                await asyncio.sleep(0)

        # A stop that lands while the wake is being set must still end the job (on 3.11,
        # asyncio.wait_for could return the wake instead, lose the cancel and hang stop()).
        waker = asyncio.create_task(keep_waking())
        for _ in range(50):
            await asyncio.sleep(0.003)
        await asyncio.wait_for(job.stop(), timeout=5)
        waker.cancel()
        return first_after, len(ran)

    first_after, runs = asyncio.run(scenario())
    assert first_after < 5.0  # the 0.3 s before the wake plus its 0.25 s gap, not 30 s
    assert runs >= 1
