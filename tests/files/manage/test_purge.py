"""The jobs that remove content for good: deleted files after the recycle period (unless a
purge blocker holds them), and blobs nothing references. Checked in the object store's
directory itself. Time is moved with the frozen clock, never slept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.files import purge
from overleg.files.manage import RECYCLE_DAYS
from overleg.files.models import Blob, FileItem, FileShare, FileVersion, ShareLink
from overleg.kernel import clock
from overleg.kernel.clock import now
from tests.files.sharing.desk import PART, Desk, text

F = "/api/v1/files"
DAY = timedelta(days=1)


@pytest.fixture
def blockers() -> Iterator[list[purge.PurgeBlocker]]:
    """PURGE_BLOCKERS, put back as they were after the test."""
    before = list(purge.PURGE_BLOCKERS)
    yield purge.PURGE_BLOCKERS
    purge.PURGE_BLOCKERS[:] = before


async def _blobs_of(desk: Desk, file_id: str) -> list[uuid.UUID]:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        rows = await db.scalars(
            select(FileVersion.blob_id).where(FileVersion.file_id == uuid.UUID(file_id))
        )
        return list(rows)


async def _count(desk: Desk, model: type, file_id: str) -> int:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        q = select(func.count()).select_from(model).where(model.file_id == uuid.UUID(file_id))  # type: ignore[attr-defined]
        return int(await db.scalar(q) or 0)


async def _deleted_with_history(desk: Desk) -> tuple[str, list[uuid.UUID]]:
    """A file of two versions (three parts in all), shared and linked, then deleted."""
    f = await desk.file("mia", "plan.txt", text(PART + 10))
    await desk.shelf.upload("mia", "plan.txt", text(300), file_id=f["id"])
    assert (await desk.share("mia", f["id"], "hank")).status_code == 200
    await desk.link("mia", f["id"])
    assert (await desk.call("mia", "DELETE", f"{F}/{f['id']}")).status_code == 204
    blob_ids = await _blobs_of(desk, f["id"])
    assert len(blob_ids) == 2 and sum(len(desk.parts_of(b)) for b in blob_ids) == 3
    return f["id"], blob_ids


async def test_a_deleted_file_is_purged_after_the_recycle_period(desk: Desk) -> None:
    fid, blob_ids = await _deleted_with_history(desk)
    other = await desk.file("mia", "other.txt")
    (other_blob,) = await _blobs_of(desk, other["id"])
    deleted = now()
    clock.freeze(deleted + RECYCLE_DAYS * DAY - timedelta(minutes=1))
    assert await purge.purge_deleted_everywhere(desk.rt) == []
    assert sum(len(desk.parts_of(b)) for b in blob_ids) == 3
    clock.freeze(deleted + RECYCLE_DAYS * DAY + timedelta(minutes=1))
    assert await purge.purge_deleted_everywhere(desk.rt) == [("contoso", uuid.UUID(fid))]
    # every version's parts are gone from the store, and every row of the file
    assert [p for b in blob_ids for p in desk.parts_of(b)] == []
    for model in (FileVersion, FileShare, ShareLink):
        assert await _count(desk, model, fid) == 0, model
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        assert await db.get(FileItem, uuid.UUID(fid)) is None
        assert [await db.get(Blob, b) for b in blob_ids] == [None, None]
    # another file keeps its content; a second run has nothing to do
    assert len(desk.parts_of(other_blob)) == 1
    assert await purge.purge_deleted_everywhere(desk.rt) == []
    purged = await desk.audit("file.purge", target=fid, outcome="success")
    assert len(purged) == 1
    assert (purged[0].details["versions"], purged[0].details["bytes"]) == (2, PART + 10 + 300)
    assert purged[0].actor_label == "system:files.purge"


async def test_a_restored_file_is_not_purged(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    assert (await desk.call("mia", "DELETE", f"{F}/{f['id']}")).status_code == 204
    assert (await desk.call("mia", "POST", f"{F}/{f['id']}/restore")).status_code == 200
    clock.freeze(now() + 100 * DAY)
    assert await purge.purge_deleted_everywhere(desk.rt) == []
    (blob,) = await _blobs_of(desk, f["id"])
    assert len(desk.parts_of(blob)) == 1


async def test_a_purge_blocker_keeps_the_file(
    desk: Desk, blockers: list[purge.PurgeBlocker]
) -> None:
    fid, blob_ids = await _deleted_with_history(desk)
    reason: dict[str, str | None] = {"now": "legal hold H-1"}

    async def hold(db: AsyncSession, f: FileItem) -> str | None:
        assert db.in_transaction()
        return reason["now"] if str(f.id) == fid else None

    blockers.append(hold)
    clock.freeze(now() + 100 * DAY)
    for _ in range(2):
        assert await purge.purge_deleted_everywhere(desk.rt) == []
    assert sum(len(desk.parts_of(b)) for b in blob_ids) == 3
    held = await desk.audit("file.purge_held", target=fid)
    assert [h.details["reason"] for h in held] == ["legal hold H-1"]  # noted once
    reason["now"] = "legal hold H-2"
    await purge.purge_deleted_everywhere(desk.rt)
    held = await desk.audit("file.purge_held", target=fid)
    assert [h.details["reason"] for h in held] == ["legal hold H-1", "legal hold H-2"]
    # past its recycle period it is not restorable while held
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        assert (await db.get(FileItem, uuid.UUID(fid))) is not None
    reason["now"] = None  # the hold is lifted
    assert await purge.purge_deleted_everywhere(desk.rt) == [("contoso", uuid.UUID(fid))]
    assert [p for b in blob_ids for p in desk.parts_of(b)] == []


async def test_purges_on_several_nodes_at_once_purge_once(desk: Desk) -> None:
    fid, blob_ids = await _deleted_with_history(desk)
    clock.freeze(now() + 31 * DAY)
    runs = await asyncio.gather(*(purge.purge_deleted_everywhere(desk.rt) for _ in range(3)))
    assert [x for run in runs for x in run] == [("contoso", uuid.UUID(fid))]
    assert len(await desk.audit("file.purge", target=fid)) == 1
    assert [p for b in blob_ids for p in desk.parts_of(b)] == []


# --- orphaned blobs ---------------------------------------------------------------------------


async def _abandoned(desk: Desk) -> uuid.UUID:
    """A blob with its two parts stored that nothing references (as a crash between
    storing and referencing it could leave one), made at the clock's "now"."""
    from overleg.files import blobs

    async def one(data: bytes) -> AsyncIterator[bytes]:
        yield data

    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        b = await blobs.new_blob(db, desk.contoso, PART + 5)
        await db.flush()
        for n, chunk in enumerate((text(PART), text(5))):
            await blobs.put_part(db, b, n, one(chunk))
    assert len(desk.parts_of(b.id)) == 2
    return b.id


async def test_orphaned_blobs_are_collected_and_blobs_in_use_never(desk: Desk) -> None:
    orphan = await _abandoned(desk)
    in_use = await desk.file("mia", "plan.txt")
    (used_blob,) = await _blobs_of(desk, in_use["id"])
    deleted = await desk.file("mia", "deleted.txt")  # in the recycle bin: still in use
    (deleted_blob,) = await _blobs_of(desk, deleted["id"])
    assert (await desk.call("mia", "DELETE", f"{F}/{deleted['id']}")).status_code == 204
    r = await desk.shelf.start("mia", "ongoing.txt", 10)  # an upload still going on
    assert (await desk.shelf.put("mia", r.json()["id"], 0, b"0123456789")).status_code == 200
    # young orphans are left alone
    assert (await purge.collect_orphans(desk.rt)).removed == []
    assert len(desk.parts_of(orphan)) == 2
    t = now() + purge.ORPHAN_AGE + timedelta(minutes=1)
    clock.freeze(t)
    young = await _abandoned(desk)  # made "now", at the frozen time
    run = await purge.collect_orphans(desk.rt)
    assert run.removed == [orphan] and run.kept == []
    assert desk.parts_of(orphan) == []
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        assert await db.get(Blob, orphan) is None
        assert await db.get(Blob, young) is not None
    for blob in (used_blob, deleted_blob):
        assert len(desk.parts_of(blob)) == 1
    assert len(desk.parts_of(young)) == 2
    clock.freeze(None)
    # what is in use still opens
    assert (await desk.call("mia", "GET", f"{F}/{in_use['id']}/content")).status_code == 200
    r2 = await desk.call("mia", "POST", f"{F}/uploads/{r.json()['id']}/complete")
    assert r2.status_code == 201, r2.text
    collected = await desk.audit("file.blob_collect", target=str(orphan), outcome="success")
    assert len(collected) == 1 and collected[0].actor_label == "system:files.orphans"
    assert (await purge.collect_orphans(desk.rt)).removed == []  # idempotent
