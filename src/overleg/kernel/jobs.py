"""The in-process scheduler: housekeeping jobs that run every so often on each node.

Jobs must be idempotent (every node runs them, and a restart runs them again); the
database is the source of truth for what is left to do. A failing run is logged and tried
again at the next interval; it never stops the scheduler or the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("overleg.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]


class Scheduler:
    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, seconds: float, name: str, run: Callable[[], Awaitable[object]]) -> None:
        """Run ``run()`` every ``seconds`` (the first time after one interval); 0 disables."""
        if seconds > 0:
            self.jobs.append(Job(name, seconds, run))

    async def _loop(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.every_seconds)
            try:
                await job.run()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                with contextlib.suppress(Exception):  # a broken log sink must not stop jobs
                    log.warning("job_failed", job=job.name, error=repr(e))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(j), name=f"job:{j.name}") for j in self.jobs]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
