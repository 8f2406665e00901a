"""The hash-chained audit log against tampering done directly in the database.

The world is built through the services (so its records are real), a few more records are
appended, and then rows are changed with SQL behind the application's back: ``verify``
must name the first record that no longer fits, and why.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.util import await_only

from overleg.audit import chain
from overleg.audit import service as audit
from overleg.audit.models import AuditChainHead, AuditRecord
from overleg.audit.schemas import VerifyResult
from overleg.kernel import clock
from overleg.kernel.clock import now
from overleg.kernel.runtime import Runtime
from tests.fixtures.world import World

SEEDED = 30
#: the record the tamper cases aim at: well inside the chain, not its first or last
TARGET = 7


async def _seed(world: World) -> int:
    """Append records by several actors, with details that test the canonical form after a
    round trip through the database (nesting, non-ASCII text, null, numbers, booleans).
    Returns the length of contoso's chain."""
    tid = world.tenants["contoso"].id
    actors = ("olivia", "mia", "cora", "sid")
    async with world.rt.database.transaction(tenant_id=tid) as db:
        for i in range(SEEDED):
            await audit.record(
                world.principal(actors[i % len(actors)]),
                db,
                f"test.seed.{i % 3}",
                target_type="user",
                target_id=world.id("mia"),
                details={
                    "n": i,
                    "name": "Zoë 🙂 <b>&",
                    "nested": {"b": [1, 2.5, None], "a": True},
                    "ratio": 0.1,
                },
            )
    return await _length(world.rt, tid)


async def _length(rt: Runtime, tenant_id: uuid.UUID) -> int:
    async with rt.database.transaction(unscoped=True) as db:
        head = await db.get(AuditChainHead, tenant_id)
        assert head is not None
        return head.seq


async def _verify(rt: Runtime, tenant_id: uuid.UUID) -> VerifyResult:
    async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
        return await chain.verify(db, tenant_id)


def _seal(rec: AuditRecord) -> str:
    """What an attacker who knows the format does: recompute both hashes of ``rec``."""
    rec.body_hash = chain.body_hash(rec)
    rec.hash = chain.record_hash(rec)
    return rec.hash


async def _row(rt: Runtime, tenant_id: uuid.UUID, seq: int) -> AuditRecord:
    async with rt.database.transaction(unscoped=True) as db:
        rec = await db.scalar(
            select(AuditRecord).where(AuditRecord.tenant_id == tenant_id, AuditRecord.seq == seq)
        )
        assert rec is not None
        return rec


async def _tamper_update(rt: Runtime, tenant_id: uuid.UUID, seq: int, /, **values: object) -> None:
    """``UPDATE audit_records SET ... WHERE tenant_id = ? AND seq = ?`` on an unscoped session."""
    async with rt.database.transaction(unscoped=True) as db:
        result = await db.execute(
            update(AuditRecord)
            .where(AuditRecord.tenant_id == tenant_id, AuditRecord.seq == seq)
            .values(**values)
        )
        assert result.rowcount == 1  # type: ignore[attr-defined]


async def _tamper_delete(rt: Runtime, tenant_id: uuid.UUID, seq: int) -> None:
    async with rt.database.transaction(unscoped=True) as db:
        result = await db.execute(
            delete(AuditRecord).where(AuditRecord.tenant_id == tenant_id, AuditRecord.seq == seq)
        )
        assert result.rowcount == 1  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Expect:
    seq: int  # first_bad_seq; 0 or less: counted from the newest record (0 is the newest)
    at_record: bool  # whether first_bad_id names a record (False: the chain head)
    reason: str
    checked: int  # records that passed before the bad one (-1: seq - 1)
    #: seq, BEFORE the tampering, of the record first_bad_id names (0: the same as ``seq``)
    named: int = 0


async def _edit_action(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    await _tamper_update(rt, tid, TARGET, action="user.delete")


async def _edit_details(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    rec = await _row(rt, tid, TARGET)
    await _tamper_update(rt, tid, TARGET, details={**rec.details, "n": 999})


async def _edit_actor(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    await _tamper_update(rt, tid, TARGET, actor_label="someone-else@contoso.example")


async def _delete_middle(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    await _tamper_delete(rt, tid, TARGET)


async def _delete_last(rt: Runtime, tid: uuid.UUID, last: int) -> None:
    await _tamper_delete(rt, tid, last)


async def _delete_last_and_roll_back_head(rt: Runtime, tid: uuid.UUID, last: int) -> None:
    """Cut the newest record off and move the head's seq back too (but not its hash)."""
    await _tamper_delete(rt, tid, last)
    async with rt.database.transaction(unscoped=True) as db:
        await db.execute(
            update(AuditChainHead).where(AuditChainHead.tenant_id == tid).values(seq=last - 1)
        )


async def _delete_head(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    async with rt.database.transaction(unscoped=True) as db:
        await db.execute(delete(AuditChainHead).where(AuditChainHead.tenant_id == tid))


async def _swap_seq(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    """Reorder: records TARGET and TARGET + 3 trade places (their seq values)."""
    a, b = TARGET, TARGET + 3
    await _tamper_update(rt, tid, a, seq=-1)
    await _tamper_update(rt, tid, b, seq=a)
    await _tamper_update(rt, tid, -1, seq=b)


async def _swap_contents(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    """Reorder by moving every field but id and seq from one row to the other."""
    a, b = await _row(rt, tid, TARGET), await _row(rt, tid, TARGET + 1)
    fields = [
        c.key for c in AuditRecord.__table__.columns if c.key not in ("id", "seq", "tenant_id")
    ]
    await _tamper_update(rt, tid, TARGET, **{f: getattr(b, f) for f in fields})
    await _tamper_update(rt, tid, TARGET + 1, **{f: getattr(a, f) for f in fields})


async def _edit_and_rehash(rt: Runtime, tid: uuid.UUID, _last: int) -> None:
    """An attacker who knows the format edits a record and recomputes its own hash."""
    rec = await _row(rt, tid, TARGET)
    rec.action = "user.delete"
    _seal(rec)
    await _tamper_update(
        rt, tid, TARGET, action="user.delete", body_hash=rec.body_hash, hash=rec.hash
    )


async def _edit_and_rehash_newest(rt: Runtime, tid: uuid.UUID, last: int) -> None:
    """The same on the newest record, which no later record links to: the head does."""
    rec = await _row(rt, tid, last)
    rec.outcome = "denied"
    _seal(rec)
    await _tamper_update(rt, tid, last, outcome="denied", body_hash=rec.body_hash, hash=rec.hash)


Tamper = Callable[[Runtime, uuid.UUID, int], Awaitable[None]]
CASES: dict[str, tuple[Tamper, Expect]] = {
    "edit-action": (_edit_action, Expect(TARGET, True, "edited", -1)),
    "edit-details": (_edit_details, Expect(TARGET, True, "edited", -1)),
    "edit-actor": (_edit_actor, Expect(TARGET, True, "edited", -1)),
    "delete-middle": (
        _delete_middle,
        Expect(TARGET + 1, True, f"record {TARGET} is missing", TARGET - 1),
    ),
    "delete-last": (_delete_last, Expect(0, False, "records removed", -1)),
    "delete-last-and-head-seq": (
        _delete_last_and_roll_back_head,
        Expect(-1, True, "not the one the chain head names", -1),
    ),
    "delete-chain-head": (_delete_head, Expect(1, True, "not covered by the chain head", 0)),
    "reorder-swap-seq": (_swap_seq, Expect(TARGET, True, "link", -1, named=TARGET + 3)),
    "reorder-swap-contents": (_swap_contents, Expect(TARGET, True, "link", -1)),
    "edit-and-rehash": (_edit_and_rehash, Expect(TARGET + 1, True, "link", TARGET)),
    "edit-and-rehash-newest": (
        _edit_and_rehash_newest,
        Expect(0, True, "not the one the chain head names", -1),
    ),
}


async def test_a_built_world_verifies_and_links_every_record(world: World) -> None:
    tid = world.tenants["contoso"].id
    length = await _seed(world)
    assert length > SEEDED + 8  # tenant, domain and eight users came before the seed
    for slug in ("contoso", "fabrikam"):
        result = await _verify(world.rt, world.tenants[slug].id)
        assert result.ok, result
        assert result.checked == await _length(world.rt, world.tenants[slug].id)
        assert result.first_bad_seq is None and result.reason is None
    system = await _verify(world.rt, chain.SYSTEM_TENANT)
    assert system.ok and system.checked == 2  # the two "tenant.create" of the operator

    async with world.rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.scalars(
                select(AuditRecord).where(AuditRecord.tenant_id == tid).order_by(AuditRecord.seq)
            )
        ).all()
        head = await db.get(AuditChainHead, tid)
    assert [r.seq for r in rows] == list(range(1, length + 1))
    assert rows[0].prev_hash == chain.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    assert all(chain.record_hash(r) == r.hash for r in rows)
    assert head is not None and head.last_hash == rows[-1].hash
    # the details survived the round trip exactly
    seeded = [r for r in rows if r.action.startswith("test.seed.")]
    assert seeded[0].details["name"] == "Zoë 🙂 <b>&"
    assert seeded[0].details["nested"] == {"b": [1, 2.5, None], "a": True}


async def _snapshot(rt: Runtime, tid: uuid.UUID) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    records, heads = AuditRecord.__table__, AuditChainHead.__table__
    async with rt.database.transaction(unscoped=True) as db:
        rows = (await db.execute(select(records).where(records.c.tenant_id == tid))).mappings()
        head = (await db.execute(select(heads).where(heads.c.tenant_id == tid))).mappings()
        return [dict(r) for r in rows.all()], dict(head.one())


async def _restore(
    rt: Runtime, tid: uuid.UUID, rows: list[dict[str, Any]], head: dict[str, Any]
) -> None:
    records, heads = AuditRecord.__table__, AuditChainHead.__table__
    async with rt.database.transaction(unscoped=True) as db:
        await db.execute(delete(records).where(records.c.tenant_id == tid))
        await db.execute(insert(records), rows)
        await db.execute(delete(heads).where(heads.c.tenant_id == tid))
        await db.execute(insert(heads), [head])


async def test_tampering_in_the_database_is_found(world: World, subtests: pytest.Subtests) -> None:
    """Each case on the same world: snapshot the chain, tamper, verify, restore."""
    tid, other = world.tenants["contoso"].id, world.tenants["fabrikam"].id
    last = await _seed(world)
    rows, head = await _snapshot(world.rt, tid)
    for case, (tamper, expect) in CASES.items():
        with subtests.test(case=case):
            assert (await _verify(world.rt, tid)).ok
            bad_seq = expect.seq if expect.seq > 0 else last + expect.seq
            named = expect.named or bad_seq
            victim = (await _row(world.rt, tid, named)) if expect.at_record else None

            await tamper(world.rt, tid, last)

            result = await _verify(world.rt, tid)
            assert not result.ok
            assert result.first_bad_seq == bad_seq, result
            assert expect.reason in (result.reason or ""), result
            if victim is not None:
                assert result.first_bad_id == victim.id, result
            else:
                assert result.first_bad_id is None
            assert result.checked == (expect.checked if expect.checked >= 0 else bad_seq - 1)
            # the other tenant's chain is its own and stays intact
            assert (await _verify(world.rt, other)).ok
        await _restore(world.rt, tid, rows, head)
    assert (await _verify(world.rt, tid)).ok


async def test_a_chain_longer_than_one_batch_is_checked_across_batches(rt: Runtime) -> None:
    """Verify reads 1000 records at a time; a link across the batch edge still counts.

    The 1003 records are built here with ``record_hash`` and inserted in one statement
    (appending them one by one would only make the test slow).
    """
    tid, prev, at = uuid.uuid4(), chain.GENESIS, now()
    recs = []
    for seq in range(1, 1004):
        rec = AuditRecord(
            id=uuid.uuid4(),
            tenant_id=tid,
            seq=seq,
            at=at,
            actor_type="operator",
            actor_id=None,
            actor_label="operator:test",
            action="test.bulk",
            target_type=None,
            target_id=None,
            outcome="success",
            ip=None,
            user_agent=None,
            request_id=None,
            details={"i": seq},
            prev_hash=prev,
        )
        prev = _seal(rec)
        recs.append(rec)
    async with rt.database.transaction(tenant_id=tid) as db:
        db.add_all(recs)
        db.add(AuditChainHead(tenant_id=tid, seq=1003, last_hash=prev))
    result = await _verify(rt, tid)
    assert result.ok and result.checked == 1003, result
    # edit record 1000 and recompute its hash: the first record of the next batch breaks
    rec = await _row(rt, tid, 1000)
    rec.details = {"i": -1}
    _seal(rec)
    await _tamper_update(rt, tid, 1000, details={"i": -1}, body_hash=rec.body_hash, hash=rec.hash)
    result = await _verify(rt, tid)
    assert not result.ok and result.first_bad_seq == 1001 and result.checked == 1000
    assert "link" in (result.reason or "")


async def test_concurrent_appends_keep_one_gapless_chain(world: World) -> None:
    tid = world.tenants["contoso"].id
    before = await _length(world.rt, tid)
    n = 20

    async def one(i: int) -> None:
        async with world.rt.database.transaction(tenant_id=tid) as db:
            await audit.record(world.principal("mia"), db, "test.concurrent", details={"i": i})

    await asyncio.gather(*(one(i) for i in range(n)))

    async with world.rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.scalars(
                select(AuditRecord).where(AuditRecord.tenant_id == tid).order_by(AuditRecord.seq)
            )
        ).all()
    seqs = [r.seq for r in rows]
    assert seqs == list(range(1, before + n + 1))
    assert sorted(r.details["i"] for r in rows if r.action == "test.concurrent") == list(range(n))
    assert len({r.hash for r in rows}) == len(rows)
    result = await _verify(world.rt, tid)
    assert result.ok and result.checked == before + n


async def test_appends_during_a_verify_are_no_false_alarm(world: World) -> None:
    """Another transaction appends while ``verify`` walks the chain (PostgreSQL reads each
    statement at READ COMMITTED). Wherever the append lands, the chain is reported intact.

    The append is made deterministic: a hook on verify's session runs it, in a transaction
    of its own, just before verify's n-th statement.
    """
    rt, tid = world.rt, world.tenants["contoso"].id

    async def append_elsewhere() -> None:
        async with rt.database.transaction(tenant_id=tid) as db:
            await audit.record(world.principal("mia"), db, "test.meanwhile")

    statements = 0
    while True:
        before = await _length(rt, tid)
        seen: list[str] = []
        async with rt.database.session(tenant_id=tid, readonly=True) as db:

            def hook(state: ORMExecuteState, seen: list[str] = seen, at: int = statements) -> None:
                if len(seen) == at:
                    await_only(append_elsewhere())
                seen.append(str(state.statement))

            event.listen(db.sync_session, "do_orm_execute", hook)
            result = await chain.verify(db, tid)
        assert await _length(rt, tid) == before + (statements < len(seen))
        assert result.ok, (statements, result, seen[statements - 1 : statements + 1])
        if statements >= len(seen):
            break
        statements += 1
    assert statements >= 2


async def test_a_record_added_behind_the_heads_back_is_found(world: World) -> None:
    """A forged record appended after the newest one, linked and hashed correctly, without
    moving the chain head: verify names it."""
    rt, tid = world.rt, world.tenants["contoso"].id
    last = await _length(rt, tid)
    newest = await _row(rt, tid, last)
    forged = AuditRecord(
        id=uuid.uuid4(),
        tenant_id=tid,
        seq=last + 1,
        at=now(),
        actor_type="user",
        actor_id=world.id("olivia"),
        actor_label="olivia@contoso.example",
        action="user.roles",
        target_type="user",
        target_id=str(world.id("mia")),
        outcome="success",
        ip=None,
        user_agent=None,
        request_id=None,
        details={"after": ["global_admin"]},
        prev_hash=newest.hash,
    )
    _seal(forged)
    async with rt.database.transaction(unscoped=True) as db:
        db.add(forged)
    result = await _verify(rt, tid)
    assert not result.ok
    assert (result.first_bad_seq, result.first_bad_id) == (last + 1, forged.id), result
    assert "chain head" in (result.reason or "")


async def test_records_made_while_the_clock_is_not_in_utc_verify(world: World) -> None:
    tid = world.tenants["contoso"].id
    clock.freeze(datetime(2030, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))))
    async with world.rt.database.transaction(tenant_id=tid) as db:
        await audit.record(world.principal("mia"), db, "test.elsewhere")
    clock.freeze(None)
    result = await _verify(world.rt, tid)
    assert result.ok, result
