"""Benchmark 7: joining a meeting's lobby, and admitting everyone in it.

``python -m tests.bench.meetings [--postgres] [--quick] [--people N] [--rounds R]`` runs it
alone; ``python -m tests.bench`` runs it with the others.

Each round builds a fresh meeting through ``overleg.meetings.scheduling.create_meeting``
with ``lobby_bypass="organizer"`` (so every anonymous joiner waits in the lobby); its
organizer joins first (the meeting has started, the organizer may admit). Then:

1. **Join** (subject): :data:`PEOPLE` anonymous joins through
   ``overleg.meetings.room.join`` (find the meeting by its link, establish who knocks,
   ``room.enter``: load the policy, decide by the rules, store the participant and its
   credential, the audit record, the lobby events to the admitters and to the joiner),
   each in its own transaction, as the join route runs it. The lobby grows from 0 to
   :data:`PEOPLE`.
   **Baseline**, interleaved one for one (A B, B A, ...): a ``MeetingParticipant`` row of
   the same shape (an anonymous person in the lobby, a precomputed credential hash)
   inserted by the ORM in a transaction of its own into a meeting of its own: no rules,
   no audit, no events.
2. **Admit all** (subject): ``overleg.meetings.room.admit_all`` by the organizer, in one
   transaction: every waiting person gets an attendance row, an audit record, and the
   lobby, ``you`` and ``participant`` events. **Baseline**: :data:`PEOPLE` such rows
   inserted by the ORM in one transaction. The two alternate which goes first per round.
3. **Join, meeting full** (no baseline): :data:`AFTER` more anonymous joins into the lobby
   once the :data:`PEOPLE` are in the meeting, to show what the number of people inside
   costs a join (the admitters are found among them).

Every join must land in the lobby and admit-all must admit everyone; a failure stops the
run. Reported: p50/p99 per join and per insert and their ratio (cost, not rate: 10 means
a join takes ten inserts' time), the first and last tenth of the joins (does a long lobby
slow joining down?), and admit-all against the batch insert.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate, UserCreate
from overleg.kernel.clock import now
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import Runtime
from overleg.meetings import room, scheduling
from overleg.meetings.models import MeetingParticipant
from overleg.meetings.rules import LobbyBypass
from overleg.meetings.schemas import JoinRequest, MeetingCreate, MeetingOptionsUpdate
from overleg.security.principal import (
    Principal,
    PrincipalKind,
    Role,
    anonymous,
    for_tenant,
    operator,
)
from tests.bench.backend import (
    PG_URL,
    Backend,
    make_runtime,
    run_on,
)
from tests.bench.search import Latency

PEOPLE = 500
AFTER = 50


@dataclass
class Timings:
    """Wall-clock seconds per operation, and the process CPU time they used."""

    seconds: list[float] = field(default_factory=list)
    cpu: float = 0.0

    def latency(self) -> Latency:
        return Latency.of(self.seconds)

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / len(self.seconds)


@dataclass
class MeetingsResult:
    backend: str
    people: int
    rounds: int
    join: Timings
    insert: Timings
    #: the first and the last tenth of every round's joins (lobby nearly empty / full)
    join_first: list[float]
    join_last: list[float]
    admit_all: Timings
    batch_insert: Timings
    join_full: Timings

    @property
    def join_ratio(self) -> float:
        """p50 of a join over p50 of a plain insert (cost ratio: 10 = ten inserts)."""
        return self.join.latency().p50_ms / self.insert.latency().p50_ms

    @property
    def join_ratio_p99(self) -> float:
        return self.join.latency().p99_ms / self.insert.latency().p99_ms

    @property
    def admit_ratio(self) -> float:
        """Median admit-all time over median batch-insert time (cost ratio)."""
        return statistics.median(self.admit_all.seconds) / statistics.median(
            self.batch_insert.seconds
        )

    @property
    def admit_ratios(self) -> list[float]:
        return [
            a / b for a, b in zip(self.admit_all.seconds, self.batch_insert.seconds, strict=True)
        ]


@dataclass(frozen=True)
class _World:
    organizer: Principal
    tenant_id: uuid.UUID


async def _setup(rt: Runtime) -> _World:
    op = operator("bench")
    async with rt.database.transaction(unscoped=True) as db:
        tenant = await identity.create_tenant(
            op, db, TenantCreate(name="Bench meetings", slug="bench-meetings")
        )
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        created = await identity.create_user(
            for_tenant(op, tenant.id),
            db,
            UserCreate(
                email="organizer@bench.example",
                display_name="Organizer",
                password="violet anchor gravel 7391",
            ),
        )
    organizer = Principal(
        kind=PrincipalKind.USER,
        tenant_id=tenant.id,
        label="organizer@bench.example",
        user_id=created.user.id,
        roles=frozenset({Role.MEMBER}),
    )
    return _World(organizer, tenant.id)


async def _meeting(rt: Runtime, w: _World, subject: str, *, organizer_in: bool) -> tuple[str, str]:
    """A meeting where only the organizer bypasses the lobby: (id, join code). With
    ``organizer_in`` the organizer joins (the meeting has started)."""
    start = now() + timedelta(minutes=5)
    data = MeetingCreate(
        subject=subject,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        options=MeetingOptionsUpdate(lobby_bypass=LobbyBypass.ORGANIZER),
    )
    async with rt.database.transaction(tenant_id=w.tenant_id) as db:
        m = await scheduling.create_meeting(w.organizer, db, data)
    code = m.join_url.rsplit("/", 1)[-1]
    if organizer_in:
        async with rt.database.transaction(tenant_id=w.tenant_id) as db:
            joined = await room.join(w.organizer, db, code, JoinRequest())
        if joined.me.state != "in" or not joined.meeting.started:
            raise RuntimeError(f"the organizer did not get in: {joined.me.state}")
    return str(m.id), code


def _visitor(i: int) -> Principal:
    return anonymous("203.0.113.7", "overleg-bench", f"bench-join-{i}")


def _bare_row(
    tenant_id: uuid.UUID, meeting_id: uuid.UUID, i: int, token_hash: str
) -> MeetingParticipant:
    return MeetingParticipant(
        id=new_id(),
        tenant_id=tenant_id,
        meeting_id=meeting_id,
        type="anonymous",
        display_name=f"Visitor {i}",
        invited=False,
        role="attendee",
        state="lobby",
        admit_on_start=False,
        token_hash=token_hash,
        lobby_since=now(),
        muted=True,
        camera_on=False,
        sharing=False,
        hand_raised_at=None,
    )


async def run(
    rt: Runtime, *, people: int = PEOPLE, rounds: int = 3, after: int = AFTER
) -> MeetingsResult:
    if people < 20:
        raise ValueError("people: at least 20 (the report compares the first and last tenth)")
    w = await _setup(rt)
    tenant_id = w.tenant_id
    counter = iter(range(10**9))

    async def join(code: str) -> None:
        i = next(counter)
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            r = await room.join(_visitor(i), db, code, JoinRequest(display_name=f"Visitor {i}"))
        if r.me.state != "lobby" or r.token is None:
            raise RuntimeError(f"an anonymous joiner was not put in the lobby: {r.me.state}")

    async def insert(meeting_id: uuid.UUID, token_hash: str) -> None:
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            db.add(_bare_row(tenant_id, meeting_id, next(counter), token_hash))

    async def admit_all(meeting_id: uuid.UUID) -> None:
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            admitted = await room.admit_all(w.organizer, db, meeting_id)
        if admitted != people:
            raise RuntimeError(f"admit-all admitted {admitted} of {people}")

    async def batch(meeting_id: uuid.UUID, hashes: list[str]) -> None:
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            db.add_all([_bare_row(tenant_id, meeting_id, next(counter), h) for h in hashes])

    def hashes(n: int) -> list[str]:
        return [secrets.token_hex(32) for _ in range(n)]

    # warm-up: statement caches, the pool, the policy and key rows, the validators
    _, warm_code = await _meeting(rt, w, "Warm-up", organizer_in=True)
    warm_base, _ = await _meeting(rt, w, "Warm-up baseline", organizer_in=False)
    for h in hashes(3):
        await join(warm_code)
        await insert(uuid.UUID(warm_base), h)

    result = MeetingsResult(
        backend=rt.database.engine.dialect.name,
        people=people,
        rounds=rounds,
        join=Timings(),
        insert=Timings(),
        join_first=[],
        join_last=[],
        admit_all=Timings(),
        batch_insert=Timings(),
        join_full=Timings(),
    )
    tenth = max(1, people // 10)

    async def timed(op: Awaitable[None], into: Timings) -> float:
        t, c = time.perf_counter(), time.process_time()
        await op
        took = time.perf_counter() - t
        into.seconds.append(took)
        into.cpu += time.process_time() - c
        return took

    for r in range(rounds):
        mid, code = await _meeting(rt, w, f"Round {r}", organizer_in=True)
        base, _ = await _meeting(rt, w, f"Round {r} baseline", organizer_in=False)
        meeting_id, base_id = uuid.UUID(mid), uuid.UUID(base)
        singles = hashes(people)
        for i in range(people):
            for which in ("join", "insert") if i % 2 == 0 else ("insert", "join"):
                if which == "join":
                    took = await timed(join(code), result.join)
                    if i < tenth:
                        result.join_first.append(took)
                    elif i >= people - tenth:
                        result.join_last.append(took)
                else:
                    await timed(insert(base_id, singles[i]), result.insert)
        rows = hashes(people)
        for which in ("admit", "batch") if r % 2 == 0 else ("batch", "admit"):
            if which == "admit":
                await timed(admit_all(meeting_id), result.admit_all)
            else:
                await timed(batch(base_id, rows), result.batch_insert)
        for _ in range(after):
            await timed(join(code), result.join_full)
    return result


def _ms(x: float) -> str:
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def report(r: MeetingsResult) -> str:
    j, b = r.join.latency(), r.insert.latency()
    first, last = Latency.of(r.join_first), Latency.of(r.join_last)
    full = r.join_full.latency() if r.join_full.seconds else None
    admit = [s * 1000 for s in r.admit_all.seconds]
    batch = [s * 1000 for s in r.batch_insert.seconds]
    spread = ", ".join(f"{x:.1f}" for x in r.admit_ratios)
    lines = [
        f"meetings benchmark on {r.backend}: {r.rounds} round(s) of {r.people} anonymous "
        "joiners in one meeting's lobby",
        f"  join       p50 {_ms(j.p50_ms)} ms  p99 {_ms(j.p99_ms)} ms  max {_ms(j.max_ms)} ms"
        f"   CPU {r.join.cpu_ms:.2f} ms per join",
        f"  insert     p50 {_ms(b.p50_ms)} ms  p99 {_ms(b.p99_ms)} ms  max {_ms(b.max_ms)} ms"
        f"   CPU {r.insert.cpu_ms:.2f} ms per insert   (one bare ORM row per transaction)",
        f"  ratio      p50 {r.join_ratio:.1f}x  p99 {r.join_ratio_p99:.1f}x a plain insert",
        f"  lobby      p50 of the first tenth of the joins {_ms(first.p50_ms)} ms, of the "
        f"last tenth {_ms(last.p50_ms)} ms (nearly empty vs nearly full lobby)",
        f"  admit-all  {r.people} people in one transaction: median "
        f"{statistics.median(admit):,.0f} ms (rounds {', '.join(f'{x:,.0f}' for x in admit)}),"
        f" {statistics.median(admit) / r.people:.2f} ms per person",
        f"  batch      {r.people} bare rows in one transaction: median "
        f"{statistics.median(batch):,.0f} ms (rounds {', '.join(f'{x:,.0f}' for x in batch)})",
        f"  ratio      admit-all {r.admit_ratio:.1f}x the batch insert (rounds {spread})",
    ]
    if full is not None:
        lines.append(
            f"  full room  join with {r.people + 1} in the meeting: p50 {_ms(full.p50_ms)} ms, "
            f"p99 {_ms(full.p99_ms)} ms ({r.join_full.cpu_ms:.2f} ms CPU), "
            f"{full.p50_ms / j.p50_ms:.1f}x a join into a meeting of one"
        )
    return "\n".join(lines)


async def _main_async(backend: Backend, data_dir: Path, args: argparse.Namespace) -> str:
    rt = make_runtime(backend, data_dir)
    try:
        result = await run(rt, people=args.people, rounds=args.rounds, after=args.after)
    finally:
        await rt.database.dispose()
    return report(result)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.meetings", description=__doc__)
    p.add_argument("--postgres", action="store_true", help=f"run on PostgreSQL ({PG_URL})")
    p.add_argument("--people", type=int, default=PEOPLE, help="anonymous joiners per round")
    p.add_argument("--rounds", type=int, default=3, help="rounds (a fresh meeting each)")
    p.add_argument("--after", type=int, default=AFTER, help="joins into the full meeting")
    p.add_argument("--quick", action="store_true", help="one round of 100 people")
    args = p.parse_args(argv)
    if args.quick:
        args.people, args.rounds, args.after = 100, 1, 10
    from tests.bench.__main__ import _quiet_production_logging

    _quiet_production_logging()
    print(
        run_on(
            args.postgres,
            "overleg-bench-meetings-",
            lambda backend, data: _main_async(backend, data, args),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
