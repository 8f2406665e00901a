"""How an append reaches the database: written by the trigger of ``audit_appends`` at the
session's next flush, statement or commit, in order, and gone with a rollback."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import func, select

from overleg.audit import chain
from overleg.audit.models import AuditChainHead, AuditRecord
from overleg.audit.schemas import AuditEntry
from overleg.kernel.clock import now
from overleg.kernel.db.tenancy import TenantScopeError
from overleg.kernel.runtime import Runtime
from tests.fixtures.world import World


def _entry(tenant_id: uuid.UUID, action: str = "test.append") -> AuditEntry:
    return AuditEntry(
        tenant_id=tenant_id, action=action, actor_type="operator", actor_label="operator:test"
    )


async def _records(rt: Runtime, tenant_id: uuid.UUID) -> list[AuditRecord]:
    async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
        stmt = select(AuditRecord).order_by(AuditRecord.seq)
        return list((await db.scalars(stmt)).all())


async def test_appends_of_one_transaction_link_in_order(world: World) -> None:
    tid = world.tenants["contoso"].id
    before = await _records(world.rt, tid)
    async with world.rt.database.transaction(tenant_id=tid) as db:
        ids = [await chain.append(db, _entry(tid, f"test.order.{i}")) for i in range(5)]
    after = await _records(world.rt, tid)
    new = after[len(before) :]
    assert [r.id for r in new] == ids
    assert [r.action for r in new] == [f"test.order.{i}" for i in range(5)]
    assert [r.seq for r in new] == list(range(before[-1].seq + 1, before[-1].seq + 6))
    assert new[0].prev_hash == before[-1].hash
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(new))
    assert all(r.body_hash == chain.body_hash(r) for r in new)
    assert all(r.hash == chain.link_hash(r.prev_hash, r.seq, r.body_hash or "") for r in new)
    async with world.rt.database.session(unscoped=True, readonly=True) as db:
        head = await db.get(AuditChainHead, tid)
    assert head is not None and (head.seq, head.last_hash) == (new[-1].seq, new[-1].hash)


async def test_a_rolled_back_append_leaves_no_record(world: World) -> None:
    tid = world.tenants["contoso"].id
    before = await _records(world.rt, tid)
    with pytest.raises(RuntimeError, match="boom"):
        async with world.rt.database.transaction(tenant_id=tid) as db:
            await chain.append(db, _entry(tid))
            raise RuntimeError("boom")
    # a session that appends and rolls back without ever touching the database
    db = world.rt.database.session(tenant_id=tid)
    await chain.append(db, _entry(tid))
    await db.rollback()
    await db.commit()  # nothing left over to write
    await db.close()
    assert [r.id for r in await _records(world.rt, tid)] == [r.id for r in before]
    async with world.rt.database.session(tenant_id=tid, readonly=True) as reader:
        assert (await chain.verify(reader, tid)).ok


async def test_a_query_in_the_same_transaction_sees_the_append(world: World) -> None:
    tid = world.tenants["contoso"].id
    async with world.rt.database.transaction(tenant_id=tid) as db:
        rid = await chain.append(db, _entry(tid, "test.visible"))
        found = await db.scalar(select(AuditRecord.action).where(AuditRecord.id == rid))
    assert found == "test.visible"


async def test_append_refuses_another_tenants_chain(world: World) -> None:
    contoso, fabrikam = world.tenants["contoso"].id, world.tenants["fabrikam"].id
    async with world.rt.database.session(tenant_id=contoso) as db:
        with pytest.raises(TenantScopeError):
            await chain.append(db, _entry(fabrikam))
    async with world.rt.database.session(tenant_id=contoso) as db:
        db.info.pop("tenant_id")  # neither scoped nor unscoped
        with pytest.raises(TenantScopeError):
            await chain.append(db, _entry(contoso))


async def test_a_new_tenant_without_a_head_gets_one_at_its_first_append(rt: Runtime) -> None:
    tid = uuid.uuid4()
    async with rt.database.transaction(tenant_id=tid) as db:
        await chain.append(db, _entry(tid))
    (rec,) = await _records(rt, tid)
    assert (rec.seq, rec.prev_hash) == (1, chain.GENESIS)
    async with rt.database.session(tenant_id=tid, readonly=True) as db:
        assert (await chain.verify(db, tid)).ok


async def _legacy_chain(rt: Runtime, tid: uuid.UUID, n: int) -> str:
    """Records as written before revision 0002: no body hash, one whole-record hash."""
    prev = chain.GENESIS
    async with rt.database.transaction(tenant_id=tid) as db:
        for seq in range(1, n + 1):
            rec = AuditRecord(
                id=uuid.uuid4(),
                tenant_id=tid,
                seq=seq,
                at=now(),
                actor_type="operator",
                actor_id=None,
                actor_label="operator:test",
                action="test.legacy",
                target_type=None,
                target_id=None,
                outcome="success",
                ip=None,
                user_agent=None,
                request_id=None,
                details={"seq": seq},
                body_hash=None,
                prev_hash=prev,
            )
            rec.hash = prev = chain.record_hash(rec)
            db.add(rec)
        db.add(AuditChainHead(tenant_id=tid, seq=n, last_hash=prev))
    return prev


async def test_records_from_before_the_database_chain_still_verify(rt: Runtime) -> None:
    tid = uuid.uuid4()
    last_legacy = await _legacy_chain(rt, tid, 3)
    async with rt.database.transaction(tenant_id=tid) as db:
        await chain.append(db, _entry(tid))
    recs = await _records(rt, tid)
    assert recs[3].prev_hash == last_legacy and recs[3].body_hash is not None
    async with rt.database.session(tenant_id=tid, readonly=True) as db:
        result = await chain.verify(db, tid)
    assert result.ok and result.checked == 4, result


async def test_a_record_made_to_look_legacy_after_the_switch_is_caught(rt: Runtime) -> None:
    """Dropping a new record's body hash and re-hashing it the old way is tampering."""
    tid = uuid.uuid4()
    await _legacy_chain(rt, tid, 2)
    async with rt.database.transaction(tenant_id=tid) as db:
        for _ in range(3):
            await chain.append(db, _entry(tid))
    async with rt.database.transaction(tenant_id=tid) as db:
        rec = await db.scalar(select(AuditRecord).where(AuditRecord.seq == 4))
        assert rec is not None
        rec.body_hash = None
        rec.hash = chain.record_hash(rec)  # the whole-record form
        rest = (await db.scalars(select(AuditRecord).where(AuditRecord.seq > 4))).all()
        prev = rec.hash
        for later in sorted(rest, key=lambda r: r.seq):  # relink the tail, as an attacker
            later.prev_hash = prev
            later.hash = prev = chain.record_hash(later)
        head = await db.get(AuditChainHead, tid)
        assert head is not None
        head.last_hash = prev
    async with rt.database.session(tenant_id=tid, readonly=True) as db:
        result = await chain.verify(db, tid)
        count = await db.scalar(select(func.count()).select_from(AuditRecord))
    assert count == 5
    assert not result.ok and result.first_bad_seq == 4, result
