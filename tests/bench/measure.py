"""Bounded timing loops and the arithmetic of comparing a subject with its baseline."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    """``count`` units of work done in ``seconds`` of wall-clock time, using ``cpu``
    seconds of this process's CPU time (all its threads: the SQLite driver's worker
    thread and argon2's lanes included)."""

    count: int
    seconds: float
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class Series:
    """Samples of one thing taken over several rounds."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(s.count for s in self.samples)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.samples)

    @property
    def rate(self) -> float:
        """Pooled rate: all units over all time."""
        return self.count / self.seconds if self.seconds > 0 else float("inf")

    @property
    def cpu_per_unit(self) -> float:
        return sum(s.cpu for s in self.samples) / self.count


async def bounded(
    op: Callable[[], Awaitable[int]], *, max_count: int, max_seconds: float
) -> Sample:
    """Run ``op`` (returning the units it did) until ``max_count`` units or ``max_seconds``.

    At least one call always runs; the time limit is checked after each call.
    """
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while done < max_count:
        done += await op()
        if time.perf_counter() - start >= max_seconds:
            break
    return Sample(done, time.perf_counter() - start, time.process_time() - cpu)


def bounded_sync(op: Callable[[], int], *, max_count: int, max_seconds: float) -> Sample:
    """:func:`bounded` for a blocking ``op``."""
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while done < max_count:
        done += op()
        if time.perf_counter() - start >= max_seconds:
            break
    return Sample(done, time.perf_counter() - start, time.process_time() - cpu)


@dataclass
class Comparison:
    """A subject and its baseline, measured in alternating rounds of the same run.

    Each round gives one paired ratio; the headline is their MEDIAN, which one round
    disturbed by other work on the machine cannot move much. Pooled rates (all units over
    all time) are reported as the absolute numbers.
    """

    subject: Series = field(default_factory=Series)
    baseline: Series = field(default_factory=Series)

    @property
    def ratio(self) -> float:
        """Median over rounds of subject rate / baseline rate."""
        return statistics.median(self.round_ratios())

    @property
    def overhead(self) -> float:
        """Extra wall time per unit of the subject over the baseline (0.3 = 30%)."""
        return 1 / self.ratio - 1

    @property
    def cpu_overhead(self) -> float:
        """Extra CPU time per unit of the subject over the baseline (pooled)."""
        return self.subject.cpu_per_unit / self.baseline.cpu_per_unit - 1

    def round_ratios(self) -> list[float]:
        return [
            s.rate / b.rate
            for s, b in zip(self.subject.samples, self.baseline.samples, strict=True)
        ]

    def ratio_spread(self) -> tuple[float, float, float]:
        """(min, median, max) of the per-round ratios."""
        r = self.round_ratios()
        return min(r), statistics.median(r), max(r)
