"""The transactional outbox: stored and published only on commit, numbered per tenant in
commit order without gaps, kept for the retention time, purged by a job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from overleg.audit.models import AuditRecord
from overleg.bootstrap import build_runtime
from overleg.kernel import clock
from overleg.kernel.db.tenancy import TenantScopeError
from overleg.kernel.events import outbox
from overleg.kernel.events.broker import Envelope
from overleg.kernel.runtime import Runtime
from overleg.realtime.service import purge_expired
from overleg.security.principal import system
from tests.conftest import _truncate_all
from tests.conftest import test_settings as settings_for_test
from tests.fixtures.world import World, build_world
from tests.realtime.conftest import WITHIN, emit


def _recorder(rt: Runtime) -> list[Envelope]:
    seen: list[Envelope] = []
    rt.broker.subscribe(seen.append)
    return seen


async def test_rolled_back_events_are_neither_stored_nor_published(
    rt: Runtime, world: World
) -> None:
    seen = _recorder(rt)
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    with pytest.raises(RuntimeError):
        async with rt.database.transaction(tenant_id=contoso) as db:
            await outbox.emit(
                db, tenant_id=contoso, type="message.created", payload={"n": 0}, recipients=[mia]
            )
            await db.flush()  # a flush writes nothing of the outbox yet
            raise RuntimeError("abort")
    async with rt.database.session(tenant_id=contoso) as db:
        assert await outbox.count(db, contoso) == 0
    assert seen == []

    await emit(rt, contoso, [mia, mia], n=1)  # a recipient listed twice gets it once
    assert [(e.seq, e.type, e.data, e.recipients) for e in seen] == [
        (1, "message.created", '{"n":1}', (mia,))
    ]
    async with rt.database.session(tenant_id=contoso) as db:
        stored = await outbox.read(db, contoso, after=0, limit=10)
    assert stored == seen


async def test_numbers_are_per_tenant_and_reused_after_a_rollback(
    rt: Runtime, world: World
) -> None:
    seen = _recorder(rt)
    contoso, fabrikam = world.tenant_of("mia"), world.tenant_of("eve")
    await emit(rt, contoso, [world.id("mia")], n=1)
    await emit(rt, fabrikam, [world.id("eve")], n=1)
    with pytest.raises(RuntimeError):
        async with rt.database.transaction(tenant_id=contoso) as db:
            await outbox.emit(
                db, tenant_id=contoso, type="read_state", payload={}, recipients=[world.id("mia")]
            )
            await db.run_sync(outbox.write_pending)  # number 2 is handed out and written ...
            raise RuntimeError("abort")  # ... and rolled back
    async with rt.database.transaction(tenant_id=contoso) as db:
        for n in (2, 3):
            await outbox.emit(
                db,
                tenant_id=contoso,
                type="message.created",
                payload={"n": n},
                recipients=[world.id("sam")],
            )
    assert [(e.tenant_id, e.seq) for e in seen] == [
        (contoso, 1),
        (fabrikam, 1),
        (contoso, 2),
        (contoso, 3),
    ]


async def test_an_event_emitted_in_a_savepoint_that_rolls_back_is_forgotten(
    rt: Runtime, world: World
) -> None:
    seen = _recorder(rt)
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    async with rt.database.transaction(tenant_id=contoso) as db:
        await outbox.emit(
            db, tenant_id=contoso, type="read_state", payload={"n": 1}, recipients=[mia]
        )
        with pytest.raises(RuntimeError):
            async with db.begin_nested():
                await outbox.emit(
                    db, tenant_id=contoso, type="read_state", payload={"n": 2}, recipients=[mia]
                )
                raise RuntimeError("abort the savepoint")
        async with db.begin_nested():  # released: its event commits with the transaction
            await outbox.emit(
                db, tenant_id=contoso, type="read_state", payload={"n": 3}, recipients=[mia]
            )
        assert seen == []  # nothing before the commit
    assert [(e.seq, e.data) for e in seen] == [(1, '{"n":1}'), (2, '{"n":3}')]


async def test_emit_refuses_bad_types_and_other_tenants(rt: Runtime, world: World) -> None:
    contoso = world.tenant_of("mia")
    async with rt.database.transaction(tenant_id=contoso) as db:
        with pytest.raises(ValueError, match="bad event type"):
            await outbox.emit(db, tenant_id=contoso, type="Bad Type", payload={}, recipients=[])
        with pytest.raises(TenantScopeError):
            await outbox.emit(
                db,
                tenant_id=world.tenant_of("eve"),
                type="message.created",
                payload={},
                recipients=[world.id("eve")],
            )


async def test_missed_finds_a_users_events_and_says_when_to_resync(
    rt: Runtime, world: World
) -> None:
    contoso, mia, sam = world.tenant_of("mia"), world.id("mia"), world.id("sam")
    await emit(rt, contoso, [mia], n=1)
    await emit(rt, contoso, [sam], n=2)
    await emit(rt, contoso, [sam, mia], n=3)
    await emit(rt, contoso, [mia], n=4)
    long_ago = clock.now() - timedelta(days=1)
    async with rt.database.session(tenant_id=contoso) as db:
        m = await outbox.missed(db, contoso, mia, after=1, not_before=long_ago, limit=10)
        assert (m.head, [e.seq for e in m.events], m.resync) == (4, [3, 4], None)
        m = await outbox.missed(db, contoso, mia, after=4, not_before=long_ago, limit=10)
        assert (m.events, m.resync) == ([], None)
        m = await outbox.missed(db, contoso, mia, after=0, not_before=long_ago, limit=2)
        assert (m.events, m.resync) == ([], "too_many")
        m = await outbox.missed(db, contoso, mia, after=5, not_before=long_ago, limit=10)
        assert m.resync == "unknown_position"
        m = await outbox.missed(db, contoso, mia, after=-1, not_before=long_ago, limit=10)
        assert m.resync == "unknown_position"
        soon = clock.now() + timedelta(seconds=1)
        m = await outbox.missed(db, contoso, mia, after=1, not_before=soon, limit=10)
        assert m.resync == "expired"


@pytest.mark.parametrize("settings_overrides", [{"events_retention_seconds": 60}])
async def test_purge_removes_events_older_than_the_retention_time(
    rt: Runtime, world: World
) -> None:
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    await emit(rt, contoso, [mia], n=1)
    clock.freeze(clock.now() + timedelta(seconds=61))
    await emit(rt, contoso, [mia], n=2)
    async with rt.database.transaction(unscoped=True) as db:
        result = await purge_expired(system(job="test"), db)
    assert (result.events, result.tickets) == (1, 0)
    async with rt.database.session(tenant_id=contoso) as db:
        assert [e.seq for e in await outbox.read(db, contoso, after=0, limit=10)] == [2]
        # event 1 is gone: a client whose last id is 0 must reload
        m = await outbox.missed(db, contoso, mia, after=0, not_before=clock.now(), limit=10)
        assert m.resync == "expired"
    async with rt.database.session(unscoped=True) as db:
        audited = (
            await db.scalars(select(AuditRecord).where(AuditRecord.action == "events.purge"))
        ).all()
    assert [r.details["events"] for r in audited] == [1]
    # only jobs and operators purge; a scoped session cannot span tenants
    with pytest.raises(TenantScopeError):
        async with rt.database.transaction(tenant_id=contoso) as db:
            await outbox.purge(db, before=clock.now())


# -- commit order on PostgreSQL: the head's row lock ------------------------------------------


@pytest.fixture
async def pg_rt(postgres_ready: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    await _truncate_all(postgres_ready)
    runtime = build_runtime(settings_for_test(tmp_path / "data", postgres_ready), create=True)
    yield runtime
    await runtime.database.dispose()


async def _waiting_for_a_lock(rt: Runtime) -> None:
    async with asyncio.timeout(WITHIN):
        while True:
            async with rt.database.engine.connect() as conn:
                waiting = await conn.scalar(
                    text(
                        "select count(*) from pg_stat_activity "
                        "where wait_event_type = 'Lock' and datname = current_database()"
                    )
                )
            if waiting:
                return
            await asyncio.sleep(0.01)


async def test_on_postgresql_a_smaller_number_never_commits_after_a_bigger_one(
    pg_rt: Runtime,
) -> None:
    """T1 takes number 1 and holds it; T2 must wait for T1's end, so nobody can see 2
    before 1. If T1 rolls back, T2 gets 1: numbers have no gaps."""
    rt = pg_rt
    world = await build_world(rt)
    seen: list[Envelope] = []
    rt.broker.subscribe(seen.append)
    contoso, mia = world.tenant_of("mia"), world.id("mia")

    async def t2() -> None:
        await emit(rt, contoso, [mia], who="t2")

    for t1_commits in (True, False):
        seen.clear()
        base = await _head(rt, contoso)
        s1 = rt.database.session(tenant_id=contoso)
        async with s1:
            await s1.begin()
            await outbox.emit(
                s1,
                tenant_id=contoso,
                type="message.created",
                payload={"who": "t1"},
                recipients=[mia],
            )
            await s1.run_sync(outbox.write_pending)  # what the commit does first: take the number
            second = asyncio.create_task(t2())
            await _waiting_for_a_lock(rt)
            assert not second.done()
            if t1_commits:
                await s1.commit()
            else:
                await s1.rollback()
        await second
        numbers = [(e.seq - base, e.data) for e in seen if e.seq is not None]
        if t1_commits:
            assert numbers == [(1, '{"who":"t1"}'), (2, '{"who":"t2"}')]
        else:
            assert numbers == [(1, '{"who":"t2"}')]


async def _head(rt: Runtime, tenant_id: uuid.UUID) -> int:
    async with rt.database.session(unscoped=True) as db:
        return (await outbox.heads(db, [tenant_id]))[tenant_id]
