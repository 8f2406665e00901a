"""Benchmarks 2 and 3: appending to the hash-chained audit log, and verifying it.

Subject: ``overleg.audit.chain.append`` (compute the record's body hash over its canonical
JSON; at commit, one INSERT into the view ``audit_appends`` whose trigger locks the
tenant's chain head, links and hashes the record, inserts it and moves the head).

Two baselines, each the same rows inserted straight into ``audit_records`` with
precomputed dummy hashes and a locally counted ``seq`` (no hashing, no trigger, no head),
in the same kind of session:

- ORM: ``session.add`` of mapped objects, written by the flush at commit. This is how
  every other row of Overleg is written, and how audit records were written before the
  chain moved into the database.
- Core: one ``INSERT`` statement (executemany for a batch). The cheapest way the
  application can insert those rows: the floor.

Chain and plain rows go to tenants of their own so that their ``seq`` ranges never collide.
"""

from __future__ import annotations

import itertools
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert

from overleg.audit import chain
from overleg.audit.models import AuditChainHead, AuditRecord
from overleg.audit.schemas import AuditEntry
from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate
from overleg.kernel.clock import now
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import Runtime
from overleg.security.principal import operator
from tests.bench.measure import Comparison, Sample, bounded

OPERATOR = operator("bench")
DUMMY_HASH = "f" * 64
BATCH = 100


@dataclass
class Breakdown:
    """Where a chained append's extra time goes (measured after the comparison runs)."""

    chain_statements: list[str]  # SQL statements one chain append sends (BEGIN excluded)
    plain_statements: list[str]
    hash_us: float  # body_hash() of one record, microseconds (pure CPU, no I/O)


@dataclass
class AuditResult:
    single: Comparison  # vs ORM inserts
    batched: Comparison
    single_core: Comparison  # vs Core inserts (the floor)
    batched_core: Comparison
    verify: list[Sample]
    chain_length: int
    breakdown: Breakdown


def entry_for(tenant_id: uuid.UUID) -> AuditEntry:
    """A typical record: a user's action with request context and a small details dict."""
    return AuditEntry(
        tenant_id=tenant_id,
        action="message.send",
        target_type="message",
        target_id=str(uuid.UUID(int=42)),
        details={"channel_id": str(uuid.UUID(int=7)), "length": 128, "mentions": 1},
        actor_type="user",
        actor_id=uuid.UUID(int=1),
        actor_label="mia@contoso.example",
        ip="203.0.113.10",
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        request_id="3f2a9c0d1e7b4a55",
    )


async def _tenant(rt: Runtime, slug: str) -> uuid.UUID:
    async with rt.database.transaction(unscoped=True) as db:
        return (await identity.create_tenant(OPERATOR, db, TenantCreate(name=slug, slug=slug))).id


class Writers:
    """The four ways of writing: chain / plain x one per transaction / BATCH per transaction."""

    def __init__(
        self, rt: Runtime, chain_tenant: uuid.UUID, plain_tenant: uuid.UUID, plain_from: int
    ) -> None:
        self.db = rt.database
        self.chain_tenant, self.plain_tenant = chain_tenant, plain_tenant
        self.chain_entry = entry_for(chain_tenant)
        self.plain_fields: dict[str, Any] = entry_for(plain_tenant).model_dump(mode="python")
        self.plain_seq = itertools.count(plain_from)

    @classmethod
    async def create(cls, rt: Runtime) -> Writers:
        chain_tenant = await _tenant(rt, "bench-chain")
        plain_tenant = await _tenant(rt, "bench-plain")
        # Creating a tenant audits itself on its chain; plain rows continue after that.
        async with rt.database.transaction(tenant_id=plain_tenant) as s:
            head = await s.get(AuditChainHead, plain_tenant)
            assert head is not None
            plain_from = head.seq + 1
        return cls(rt, chain_tenant, plain_tenant, plain_from)

    def _plain_row(self) -> dict[str, Any]:
        return {
            "id": new_id(),
            "seq": next(self.plain_seq),
            "at": now(),
            "body_hash": DUMMY_HASH,
            "prev_hash": DUMMY_HASH,
            "hash": DUMMY_HASH,
            **self.plain_fields,
        }

    async def _plain_add(self, rows: list[dict[str, Any]]) -> int:
        async with self.db.transaction(tenant_id=self.plain_tenant) as s:
            s.add_all([AuditRecord(**row) for row in rows])
        return len(rows)

    async def _plain_insert(self, rows: list[dict[str, Any]]) -> int:
        async with self.db.transaction(tenant_id=self.plain_tenant) as s:
            conn = await s.connection()
            await conn.execute(insert(AuditRecord.__table__), rows)
        return len(rows)

    async def chain_one(self) -> int:
        async with self.db.transaction(tenant_id=self.chain_tenant) as s:
            await chain.append(s, self.chain_entry)
        return 1

    async def plain_one(self) -> int:
        return await self._plain_add([self._plain_row()])

    async def core_one(self) -> int:
        return await self._plain_insert([self._plain_row()])

    async def chain_batch(self) -> int:
        async with self.db.transaction(tenant_id=self.chain_tenant) as s:
            for _ in range(BATCH):
                await chain.append(s, self.chain_entry)
        return BATCH

    async def plain_batch(self) -> int:
        return await self._plain_add([self._plain_row() for _ in range(BATCH)])

    async def core_batch(self) -> int:
        return await self._plain_insert([self._plain_row() for _ in range(BATCH)])


async def _compare(
    subject: Any, baseline: Any, *, rounds: int, max_count: int, seconds: float
) -> Comparison:
    result = Comparison()
    await subject()  # warm up (statement caches, pool)
    await baseline()
    for i in range(rounds):
        pairs = [(subject, result.subject), (baseline, result.baseline)]
        for op, series in pairs if i % 2 == 0 else reversed(pairs):
            series.samples.append(await bounded(op, max_count=max_count, max_seconds=seconds))
    return result


async def run(
    rt: Runtime,
    *,
    rounds: int,
    records: int,
    batched_records: int,
    seconds: float,
    verify_runs: int,
) -> AuditResult:
    w = await Writers.create(rt)
    single = await _compare(
        w.chain_one, w.plain_one, rounds=rounds, max_count=records, seconds=seconds
    )
    batched = await _compare(
        w.chain_batch, w.plain_batch, rounds=rounds, max_count=batched_records, seconds=seconds
    )
    single_core = await _compare(
        w.chain_one, w.core_one, rounds=rounds, max_count=records, seconds=seconds
    )
    batched_core = await _compare(
        w.chain_batch, w.core_batch, rounds=rounds, max_count=batched_records, seconds=seconds
    )
    verifies: list[Sample] = []
    checked = 0
    deadline = time.perf_counter() + 4 * seconds
    for _ in range(verify_runs):
        async with rt.database.session(tenant_id=w.chain_tenant, readonly=True) as s:
            start = time.perf_counter()
            res = await chain.verify(s, w.chain_tenant)
            elapsed = time.perf_counter() - start
        assert res.ok, res
        checked = res.checked
        verifies.append(Sample(res.checked, elapsed))
        if time.perf_counter() > deadline:
            break
    return AuditResult(
        single, batched, single_core, batched_core, verifies, checked, await _breakdown(rt, w)
    )


async def _statements(rt: Runtime, op: Any) -> list[str]:
    """The SQL statements ``op`` sends, by kind (first two words), BEGIN left out."""
    seen: list[str] = []

    def listener(_conn: Any, _cur: Any, statement: str, *_args: Any) -> None:
        words = statement.upper().split()
        if not words or words[0] == "BEGIN":
            return
        table = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}
        after = table.get(words[0])
        name = words[words.index(after) + 1] if after in words else "?"
        lock = " FOR UPDATE" if "FOR UPDATE" in " ".join(words) else ""
        seen.append(f"{words[0]} {name.lower()}{lock}")

    engine = rt.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        await op()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def _hash_cost(entry: AuditEntry, *, max_count: int = 20_000, max_seconds: float = 0.5) -> float:
    rec = AuditRecord(id=new_id(), seq=1, at=now(), prev_hash=chain.GENESIS, **entry.model_dump())
    done, start = 0, time.perf_counter()
    while done < max_count and time.perf_counter() - start < max_seconds:
        for _ in range(100):
            chain.body_hash(rec)
        done += 100
    return (time.perf_counter() - start) / done * 1e6


async def _breakdown(rt: Runtime, w: Writers) -> Breakdown:
    return Breakdown(
        chain_statements=await _statements(rt, w.chain_one),
        plain_statements=await _statements(rt, w.core_one),
        hash_us=_hash_cost(w.chain_entry),
    )


def median_rate(samples: list[Sample]) -> float:
    return statistics.median(s.rate for s in samples)
