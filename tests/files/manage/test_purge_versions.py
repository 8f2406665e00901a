"""The purge with version history: versions that share a blob (a restore) are purged with
each blob deleted once; why a file is held is noted on the file itself, so it is audited
once per reason whichever node (or process) runs the purge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.files import purge
from overleg.files.models import Blob, FileItem, FileVersion
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


async def _restored_then_deleted(desk: Desk) -> tuple[str, list[uuid.UUID]]:
    """A file of three versions (the third a restore of the first: it shares its blob),
    then deleted; its id and its versions' blob ids by number."""
    f = await desk.file("mia", "plan.txt", text(PART + 10))
    await desk.shelf.upload("mia", "plan.txt", text(300), file_id=f["id"])
    await desk.set_state(f["id"], "clean")
    r = await desk.call("mia", "POST", f"{F}/{f['id']}/versions/1/restore")
    assert r.status_code == 200 and r.json()["version"] == 3, r.text
    assert (await desk.call("mia", "DELETE", f"{F}/{f['id']}")).status_code == 204
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        blob_ids = list(
            await db.scalars(
                select(FileVersion.blob_id)
                .where(FileVersion.file_id == uuid.UUID(f["id"]))
                .order_by(FileVersion.number)
            )
        )
    assert blob_ids[0] == blob_ids[2] != blob_ids[1]
    return f["id"], blob_ids


async def test_a_file_with_a_restored_version_purges_cleanly(desk: Desk) -> None:
    fid, blob_ids = await _restored_then_deleted(desk)
    assert sum(len(desk.parts_of(b)) for b in set(blob_ids)) == 3
    clock.freeze(now() + 31 * DAY)
    assert await purge.purge_deleted_everywhere(desk.rt) == [("contoso", uuid.UUID(fid))]
    assert [p for b in blob_ids for p in desk.parts_of(b)] == []
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        assert await db.get(FileItem, uuid.UUID(fid)) is None
        assert [await db.get(Blob, b) for b in set(blob_ids)] == [None, None]
        left = await db.scalars(select(FileVersion).where(FileVersion.file_id == uuid.UUID(fid)))
        assert left.all() == []
    (purged,) = await desk.audit("file.purge", target=fid, outcome="success")
    # three versions, two blobs: what was stored is counted once
    assert (purged.details["versions"], purged.details["blobs"]) == (3, 2)
    assert purged.details["bytes"] == PART + 10 + 300
    assert await purge.purge_deleted_everywhere(desk.rt) == []


async def test_why_a_file_is_held_is_noted_on_the_file(
    desk: Desk, blockers: list[purge.PurgeBlocker]
) -> None:
    fid, blob_ids = await _restored_then_deleted(desk)
    reason: dict[str, str | None] = {"now": "retention: keep 7 years"}

    async def hold(db: AsyncSession, f: FileItem) -> str | None:
        return reason["now"] if str(f.id) == fid else None

    async def noted() -> str | None:
        async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
            f = await db.get(FileItem, uuid.UUID(fid))
            assert f is not None
            return f.purge_held

    assert await noted() is None
    blockers.append(hold)
    clock.freeze(now() + 100 * DAY)
    assert await purge.purge_deleted_everywhere(desk.rt) == []
    assert await noted() == "retention: keep 7 years"
    # the note is the file's, not the process's: a later run (on any node, after a
    # restart) does not audit the same hold again
    assert await purge.purge_deleted_everywhere(desk.rt) == []
    reason["now"] = "x" * 600  # longer than the column: noted cut, and once
    for _ in range(2):
        assert await purge.purge_deleted_everywhere(desk.rt) == []
    assert await noted() == "x" * 500
    reason["now"] = "retention: keep 7 years"
    assert await purge.purge_deleted_everywhere(desk.rt) == []
    held = await desk.audit("file.purge_held", target=fid, outcome="success")
    assert [h.details["reason"] for h in held] == [
        "retention: keep 7 years",
        "x" * 500,
        "retention: keep 7 years",
    ]
    assert all(h.actor_label == "system:files.purge" for h in held)
    assert sum(len(desk.parts_of(b)) for b in set(blob_ids)) == 3
    # nothing holds it any more: it goes, note and all
    reason["now"] = None
    assert await purge.purge_deleted_everywhere(desk.rt) == [("contoso", uuid.UUID(fid))]
    assert [p for b in blob_ids for p in desk.parts_of(b)] == []
    assert len(await desk.audit("file.purge_held", target=fid)) == 3
