"""Version history over HTTP: an older version is downloaded (whole or a range) by whoever
sees the file and may open that version, and restored (as a new current version sharing
its content) by whoever may write the file; refusals and audit records."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from overleg.files.models import FileItem, FileVersion
from tests.files.sharing.desk import Desk, problem, text

F = "/api/v1/files"


async def _two(desk: Desk, who: str = "mia") -> tuple[str, bytes, bytes]:
    """A file of two clean versions (the first 1000 bytes, the second 400); its id and the
    two contents."""
    first, second = text(1000, b"first draft"), text(400, b"second draft")
    f = await desk.file(who, "plan.txt", first)
    await desk.shelf.upload(who, "plan.txt", second, file_id=f["id"])
    await desk.set_state(f["id"], "clean")
    return f["id"], first, second


async def _version(desk: Desk, file_id: str, number: int) -> FileVersion:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        v = await db.scalar(
            select(FileVersion).where(
                FileVersion.file_id == uuid.UUID(file_id), FileVersion.number == number
            )
        )
        assert v is not None
        return v


async def _set_version_state(desk: Desk, file_id: str, number: int, state: str) -> None:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        v = await db.scalar(
            select(FileVersion).where(
                FileVersion.file_id == uuid.UUID(file_id), FileVersion.number == number
            )
        )
        assert v is not None
        v.scan_state = state


async def _versions(desk: Desk, file_id: str, who: str = "mia") -> list[dict[str, Any]]:
    r = await desk.call(who, "GET", f"{F}/{file_id}/versions")
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


async def test_an_older_version_is_downloaded_whole_or_in_part(desk: Desk) -> None:
    fid, first, second = await _two(desk)
    path = f"{F}/{fid}/versions"
    for who in ("mia", "olivia", "gus"):  # whoever sees the file
        r = await desk.call(who, "GET", f"{path}/1/content")
        assert r.status_code == 200 and r.content == first, (who, r.status_code)
    assert (await desk.call("mia", "GET", f"{path}/2/content")).content == second
    r = await desk.call("gus", "GET", f"{path}/1/content", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206, r.text
    assert r.content == first[100:200]
    assert r.headers["content-range"] == "bytes 100-199/1000"
    r = await desk.call("mia", "GET", f"{path}/1/content", headers={"Range": "bytes=5000-"})
    problem(r, 416)
    problem(await desk.call("mia", "GET", f"{path}/3/content"), 404)
    downloads = await desk.audit("file.download", target=fid, outcome="success")
    assert [d.details for d in downloads] == [
        {"version": 1, "size": 1000},
        {"version": 1, "size": 1000},
        {"version": 1, "size": 1000},
        {"version": 2, "size": 400},
        {"version": 1, "size": 1000, "range": "100-199"},
    ]
    assert downloads[-1].actor_id == desk.id("gus")


async def test_only_a_version_the_caller_may_open_is_downloaded(desk: Desk) -> None:
    fid, _, _ = await _two(desk)
    await _set_version_state(desk, fid, 1, "infected")
    r = await desk.call("mia", "GET", f"{F}/{fid}/versions/1/content")
    assert "quarantined" in problem(r, 403, "forbidden")["detail"]
    # a pending version: its uploader only
    await desk.shelf.upload("gus", "plan.txt", text(50, b"third"), file_id=fid)
    assert (await desk.call("gus", "GET", f"{F}/{fid}/versions/3/content")).status_code == 200
    problem(await desk.call("mia", "GET", f"{F}/{fid}/versions/3/content"), 403)
    # people who do not see the file learn nothing of its versions
    for who in ("hank", "eve"):
        problem(await desk.call(who, "GET", f"{F}/{fid}/versions/2/content"), 404)
    denied = await desk.audit("file.download", target=fid, outcome="denied")
    assert [d.details["reason"] for d in denied] == [
        "version 1: the file is quarantined: malware was found in it",
        "version 3: the file is still being scanned for malware",
        "not visible to the caller",  # hank (eve's refusal is audited in her organisation)
    ]


async def test_restore_makes_a_new_current_version_with_the_old_content(desk: Desk) -> None:
    fid, first, _ = await _two(desk)
    r = await desk.call("gus", "POST", f"{F}/{fid}/versions/1/restore")  # gus writes in Sales
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["size"], body["state"]) == (3, 1000, "clean")
    assert [
        (v["number"], v["current"], v["restored_from"]) for v in await _versions(desk, fid)
    ] == [
        (3, True, 1),
        (2, False, None),
        (1, False, None),
    ]
    # the current content is the first version's; the history is kept
    r = await desk.shelf.content("olivia", fid)
    assert r.status_code == 200 and r.content == first
    assert (await desk.call("mia", "GET", f"{F}/{fid}/versions/2/content")).status_code == 200
    # no bytes are copied: the restored version shares the old one's blob
    v1, v3 = await _version(desk, fid, 1), await _version(desk, fid, 3)
    assert v3.blob_id == v1.blob_id and v3.uploaded_by == desk.id("gus")
    assert (v3.scan_state, v3.content_type) == ("clean", v1.content_type)
    assert len(desk.parts_of(v1.blob_id)) == 1
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        f = await db.get(FileItem, uuid.UUID(fid))
        assert f is not None and f.index_due  # for files.reindex
    restored = await desk.audit("file.version_restore", target=fid)
    assert [(x.outcome, x.actor_id, x.details) for x in restored] == [
        ("success", desk.id("gus"), {"from": 1, "to": 3, "size": 1000})
    ]
    # an older version restored again: the next number
    r = await desk.call("mia", "POST", f"{F}/{fid}/versions/2/restore")
    assert r.status_code == 200 and r.json()["version"] == 4, r.text


async def test_what_cannot_be_restored(desk: Desk) -> None:
    fid, _, _ = await _two(desk)
    body = problem(await desk.call("mia", "POST", f"{F}/{fid}/versions/2/restore"), 422)
    assert "current version" in body["detail"]
    problem(await desk.call("mia", "POST", f"{F}/{fid}/versions/7/restore"), 404)
    await _set_version_state(desk, fid, 1, "infected")
    body = problem(await desk.call("mia", "POST", f"{F}/{fid}/versions/1/restore"), 409, "conflict")
    assert "infected" in body["detail"] and "clean" in body["detail"]
    await _set_version_state(desk, fid, 1, "scan_failed")
    problem(await desk.call("mia", "POST", f"{F}/{fid}/versions/1/restore"), 409)
    # nothing was made
    assert [v["number"] for v in await _versions(desk, fid)] == [2, 1]
    assert await desk.audit("file.version_restore", target=fid, outcome="success") == []


async def test_who_may_restore(desk: Desk) -> None:
    fid, first, _ = await _two(desk)
    assert (await desk.share("mia", fid, "hank", "view")).status_code == 200
    assert (await desk.share("mia", fid, "sam", "edit")).status_code == 200
    # a view share opens the versions, and does not restore them
    r = await desk.call("hank", "GET", f"{F}/{fid}/versions/1/content")
    assert r.status_code == 200 and r.content == first
    r = await desk.call("hank", "POST", f"{F}/{fid}/versions/1/restore")
    assert "to view only" in problem(r, 403, "forbidden")["detail"]
    # another organisation: no such file
    problem(await desk.call("eve", "POST", f"{F}/{fid}/versions/1/restore"), 404)
    problem(await desk.call("eve", "GET", f"{F}/{fid}/versions/1/content"), 404)
    assert [v["number"] for v in await _versions(desk, fid)] == [2, 1]
    # an edit share restores
    r = await desk.call("sam", "POST", f"{F}/{fid}/versions/1/restore")
    assert r.status_code == 200 and r.json()["version"] == 3, r.text
    audited = await desk.audit("file.version_restore", target=fid)
    assert [(x.outcome, x.actor_id) for x in audited] == [
        ("denied", desk.id("hank")),
        ("success", desk.id("sam")),
    ]


async def test_a_restore_counts_against_quotas(desk: Desk) -> None:
    fid, _, _ = await _two(desk)
    # mia holds 1400 bytes; restoring the first version would make 2400
    await desk.policy(user_quota_bytes=2000)
    r = await desk.call("mia", "POST", f"{F}/{fid}/versions/1/restore")
    problem(r, 507, "quota-exceeded")
    assert [v["number"] for v in await _versions(desk, fid)] == [2, 1]
    await desk.policy(user_quota_bytes=2400)
    assert (await desk.call("mia", "POST", f"{F}/{fid}/versions/1/restore")).status_code == 200


async def test_deleting_a_quarantined_version_keeps_content_a_restore_shares(desk: Desk) -> None:
    """A restored version shares its blob with the version it copied: when that one is
    quarantined later (new signatures) and deleted, the copy keeps its content."""
    fid, first, _ = await _two(desk)
    assert (await desk.call("mia", "POST", f"{F}/{fid}/versions/1/restore")).status_code == 200
    v1 = await _version(desk, fid, 1)
    await _set_version_state(desk, fid, 1, "infected")
    r = await desk.call("sid", "POST", f"/api/admin/quarantine/{v1.id}", json={"action": "delete"})
    assert r.status_code == 200, r.text
    assert [v["number"] for v in await _versions(desk, fid)] == [3, 2]
    assert len(desk.parts_of(v1.blob_id)) == 1
    r = await desk.shelf.content("mia", fid)
    assert r.status_code == 200 and r.content == first
