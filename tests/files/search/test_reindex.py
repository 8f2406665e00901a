"""Search upkeep with a real clamd: a renamed file, one restored from the recycle bin, one
released from quarantine and one whose older version is restored are marked for the index
and found as they are now once ``files.reindex`` has run; files shared with someone by name
are found by their search, and only those."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from overleg.files.models import FileItem
from overleg.files.reindex import reindex_due
from overleg.files.scan import scan_pending
from overleg.files.scanning.signatures import eicar
from tests.files.core.conftest import Shelf
from tests.files.core.conftest import shelf as shelf  # the fixture
from tests.files.sharing.desk import Desk
from tests.files.sharing.desk import desk as desk  # the fixture
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.clamd import clamd as clamd  # the fixture

F = "/api/v1/files"


@pytest.fixture
def settings_overrides(clamd: ClamdInstance) -> dict[str, object]:
    return {
        "scan_clamd_socket": clamd.socket_path,
        "scan_clamd_db_dir": clamd.db_dir,
        "scan_yara_dir": clamd.yara_dir,
    }


async def _find(shelf: Shelf, who: str, q: str) -> list[str]:
    """The names of the files ``who`` finds with ``q`` (asserting the search worked)."""
    r = await shelf.call(who, "GET", "/api/v1/search/files", params={"q": q})
    assert r.status_code == 200, r.text
    return [f["name"] for f in r.json()["files"]]


async def _scanned(shelf: Shelf, who: str, name: str, data: bytes, **kw: Any) -> dict[str, Any]:
    """An upload, scanned (clean, unless it is malware)."""
    made = await shelf.upload(who, name, data, **kw)
    assert len((await scan_pending(shelf.world.rt)).scanned) == 1
    return made


async def _due(desk: Desk, file_id: str) -> bool:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        f = await db.get(FileItem, uuid.UUID(file_id))
        assert f is not None
        return f.index_due


async def test_a_renamed_file_is_found_by_its_new_name(desk: Desk) -> None:
    shelf = desk.shelf
    f = await _scanned(shelf, "mia", "notes.txt", b"The quarterly forecast for Northwind.\n")
    assert await _find(shelf, "mia", "notes") == ["notes.txt"]
    r = await shelf.call("mia", "PATCH", f"{F}/{f['id']}", json={"name": "jaarplan.txt"})
    assert r.status_code == 200, r.text
    assert await _due(desk, f["id"])
    assert await _find(shelf, "mia", "jaarplan") == []  # not yet: the job has not run
    assert await reindex_due(desk.rt) == 1
    assert not await _due(desk, f["id"])
    assert await _find(shelf, "mia", "jaarplan") == ["jaarplan.txt"]
    assert await _find(shelf, "mia", "notes") == []
    assert await _find(shelf, "mia", "northwind forecast") == ["jaarplan.txt"]  # and its text
    assert await _find(shelf, "hank", "jaarplan") == []  # still only who sees it
    assert await reindex_due(desk.rt) == 0  # nothing left to do
    (done,) = await desk.audit("file.reindex", target=f["id"])
    assert done.details == {"version": 1, "indexed": True}
    assert done.actor_label == "system:files.reindex"


async def test_a_file_restored_from_the_recycle_bin_is_found_again(desk: Desk) -> None:
    shelf = desk.shelf
    f = await _scanned(shelf, "mia", "notes.txt", b"Inspection of the Zandvoort depot.\n")
    assert (await shelf.call("mia", "DELETE", f"{F}/{f['id']}")).status_code == 204
    assert await _find(shelf, "mia", "zandvoort") == []
    assert (await shelf.call("mia", "POST", f"{F}/{f['id']}/restore")).status_code == 200
    assert await _find(shelf, "mia", "zandvoort") == []
    assert await reindex_due(desk.rt) == 1
    assert await _find(shelf, "mia", "zandvoort") == ["notes.txt"]


async def test_a_file_deleted_before_the_job_runs_stays_out(desk: Desk) -> None:
    shelf = desk.shelf
    f = await _scanned(shelf, "mia", "notes.txt", b"Inspection of the Zandvoort depot.\n")
    r = await shelf.call("mia", "PATCH", f"{F}/{f['id']}", json={"name": "depot.txt"})
    assert r.status_code == 200, r.text
    assert (await shelf.call("mia", "DELETE", f"{F}/{f['id']}")).status_code == 204
    assert await reindex_due(desk.rt) == 1
    assert not await _due(desk, f["id"])
    assert await _find(shelf, "mia", "zandvoort") == await _find(shelf, "mia", "depot") == []
    (done,) = await desk.audit("file.reindex", target=f["id"])
    assert done.details == {"version": 1, "indexed": False}


async def test_a_file_released_from_quarantine_is_found(desk: Desk) -> None:
    shelf = desk.shelf
    f = await _scanned(shelf, "mia", "eicar-budget.txt", eicar())
    assert await _find(shelf, "mia", "budget") == []
    r = await shelf.call("sid", "GET", "/api/admin/quarantine")
    (held,) = [q for q in r.json() if q["file_id"] == f["id"]]
    r = await shelf.call(
        "sid", "POST", f"/api/admin/quarantine/{held['version_id']}", json={"action": "release"}
    )
    assert r.status_code == 200, r.text
    assert await _due(desk, f["id"])
    assert await reindex_due(desk.rt) == 1
    assert await _find(shelf, "mia", "eicar budget") == ["eicar-budget.txt"]


async def test_a_restored_version_is_found_by_its_own_text(desk: Desk) -> None:
    shelf = desk.shelf
    f = await _scanned(shelf, "mia", "trip.txt", b"Our trip goes to Groningen.\n")
    await _scanned(shelf, "mia", "trip.txt", b"Our trip goes to Utrecht.\n", file_id=f["id"])
    assert await _find(shelf, "mia", "utrecht") == ["trip.txt"]
    assert await _find(shelf, "mia", "groningen") == []
    r = await shelf.call("mia", "POST", f"{F}/{f['id']}/versions/1/restore")
    assert r.status_code == 200, r.text
    assert await reindex_due(desk.rt) == 1
    assert await _find(shelf, "mia", "groningen") == ["trip.txt"]
    assert await _find(shelf, "mia", "utrecht") == []


async def test_jobs_on_several_nodes_index_a_file_once(desk: Desk) -> None:
    shelf = desk.shelf
    f = await _scanned(shelf, "mia", "notes.txt", b"The quarterly forecast for Northwind.\n")
    r = await shelf.call("mia", "PATCH", f"{F}/{f['id']}", json={"name": "jaarplan.txt"})
    assert r.status_code == 200, r.text
    runs = await asyncio.gather(*(reindex_due(desk.rt) for _ in range(3)))
    assert sum(runs) == 1
    assert len(await desk.audit("file.reindex", target=f["id"])) == 1
    assert await _find(shelf, "mia", "jaarplan") == ["jaarplan.txt"]


async def test_files_shared_by_name_are_found_by_whom_they_are_shared_with(desk: Desk) -> None:
    shelf = desk.shelf
    # two files of the Sales channel (sam is not in the team) and two of mia's own
    alpha = await _scanned(shelf, "mia", "alpha-plan.txt", b"A depot in Zeeland.\n")
    await _scanned(shelf, "mia", "beta-plan.txt", b"Another depot in Zeeland.\n")
    diary = await _scanned(shelf, "mia", "diary.txt", b"Zeeland holiday.\n", where="user")
    await _scanned(shelf, "mia", "secret.txt", b"Zeeland surprise.\n", where="user")
    assert await _find(shelf, "sam", "zeeland") == []
    for made in (alpha, diary):
        assert (await desk.share("mia", made["id"], "sam")).status_code == 200
    assert await _find(shelf, "sam", "zeeland") == ["diary.txt", "alpha-plan.txt"]
    assert await _find(shelf, "sam", "depot") == ["alpha-plan.txt"]
    # the shared file's place is not the caller's to name
    assert await _find(shelf, "sam", "zeeland in:sales") == []
    # the owner finds all of them; people it is not shared with none
    assert len(await _find(shelf, "mia", "zeeland")) == 4
    assert await _find(shelf, "hank", "zeeland") == []
    # unshared: not found any more
    r = await shelf.call("mia", "DELETE", f"{F}/{alpha['id']}/shares/{desk.id('sam')}")
    assert r.status_code == 204, r.text
    assert await _find(shelf, "sam", "zeeland") == ["diary.txt"]
    # a deleted file is not found through its share either
    assert (await shelf.call("mia", "DELETE", f"{F}/{diary['id']}")).status_code == 204
    assert await _find(shelf, "sam", "zeeland") == []
