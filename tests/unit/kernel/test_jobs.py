"""The in-process scheduler runs jobs again and again, survives a failing run, and stops."""

from __future__ import annotations

import asyncio

from overleg.kernel.jobs import Scheduler


async def test_jobs_run_repeatedly_survive_failures_and_stop() -> None:
    runs: list[int] = []
    enough = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) >= 3:
            enough.set()
        if len(runs) == 1:
            raise RuntimeError("the first run fails")

    jobs = Scheduler()
    jobs.every(0.01, "flaky", flaky)
    jobs.every(0, "disabled", flaky)  # 0 disables a job
    assert [j.name for j in jobs.jobs] == ["flaky"]
    jobs.start()
    async with asyncio.timeout(5):
        await enough.wait()
    await jobs.stop()
    seen = len(runs)
    await asyncio.sleep(0.05)
    assert seen >= 3 and len(runs) == seen  # it went on after the failure, and then stopped
