"""Sharing links that edit: redeeming a link while signed in (a grant that lasts as long as
the link is active, with the link's role, through the normal file API), and a new version
through an ``anyone`` link to edit by someone without an account (one part, typed from its
content, refused kinds and sizes leave nothing behind). Time is moved with the frozen
clock."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from overleg.audit.models import AuditRecord
from overleg.files import links
from overleg.files.models import LINK_UPLOADER, Blob, FileItem, FileLinkGrant, FileVersion
from overleg.kernel import clock
from overleg.kernel.clock import now
from tests.files.content import samples
from tests.files.sharing.desk import PART, Desk, problem, text

F = "/api/v1/files"


async def _redeem(desk: Desk, who: str, link: dict[str, Any], **kw: Any) -> Any:
    return await desk.call(who, "POST", f"{link['url']}/redeem", **kw)


async def _grants(desk: Desk, file_id: str) -> list[FileLinkGrant]:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        q = select(FileLinkGrant).where(FileLinkGrant.file_id == uuid.UUID(file_id))
        return list((await db.scalars(q)).all())


async def _versions(desk: Desk, file_id: str) -> list[FileVersion]:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        q = select(FileVersion).where(FileVersion.file_id == uuid.UUID(file_id))
        return list((await db.scalars(q.order_by(FileVersion.number))).all())


async def _blob_count(desk: Desk) -> int:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        return int(await db.scalar(select(func.count()).select_from(Blob)) or 0)


async def _audit_of(desk: Desk, who: str, action: str) -> list[AuditRecord]:
    """``action`` records in the chain of ``who``'s organisation."""
    tenant = desk.shelf.world.tenant_of(who)
    async with desk.rt.database.transaction(tenant_id=tenant) as db:
        q = select(AuditRecord).where(AuditRecord.action == action)
        return list((await db.scalars(q.order_by(AuditRecord.seq))).all())


# --- redeeming ------------------------------------------------------------------------------


async def test_redeeming_a_people_link_to_edit_lets_a_member_work_on_the_file(desk: Desk) -> None:
    data = text(3000)
    f = await desk.file("mia", "plan.txt", data)
    fid = f["id"]
    link = await desk.link("mia", fid, role="edit")
    # hank is not in the team: the file does not exist for him until he redeems the link
    problem(await desk.call("hank", "GET", f"{F}/{fid}"), 404)
    r = await _redeem(desk, "hank", link)
    assert r.status_code == 200, r.text
    kept = r.json()
    assert (kept["id"], kept["role"], kept["via_link"], kept["shared_by"]) == (
        fid,
        "edit",
        link["id"],
        "mia@contoso.example",
    )
    # redeeming again changes nothing (one grant, the first moment)
    again = await _redeem(desk, "hank", link)
    assert again.status_code == 200 and again.json()["shared_at"] == kept["shared_at"]
    assert [g.user_id for g in await _grants(desk, fid)] == [desk.id("hank")]
    # the normal API: details, content, a new version by upload, a new name
    assert (await desk.call("hank", "GET", f"{F}/{fid}")).json()["name"] == "plan.txt"
    assert (await desk.shelf.content("hank", fid)).content == data
    v2 = await desk.shelf.upload("hank", "ignored.txt", text(500, b"hank"), file_id=fid)
    assert (v2["id"], v2["version"], v2["state"]) == (fid, 2, "scan_pending")
    r = await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "plan (hank).txt"})
    assert r.status_code == 200 and r.json()["name"] == "plan (hank).txt", r.text
    assert [v.uploaded_by for v in await _versions(desk, fid)] == [desk.id("mia"), desk.id("hank")]
    # still not his to delete or move: that is for the people of its place
    problem(await desk.call("hank", "DELETE", f"{F}/{fid}"), 403)
    # mia, of the place, may redeem it too
    assert (await _redeem(desk, "mia", link)).status_code == 200
    # "Shared with me" and the file's shares show him, marked as coming through the link
    mine = (await desk.call("hank", "GET", f"{F}/shared")).json()
    assert [(x["id"], x["role"], x["via_link"]) for x in mine] == [(fid, "edit", link["id"])]
    shares = (await desk.call("mia", "GET", f"{F}/{fid}/shares")).json()
    assert sorted((s["user_id"], s["role"], s["via_link"]) for s in shares) == sorted(
        [(str(desk.id("hank")), "edit", link["id"]), (str(desk.id("mia")), "edit", link["id"])]
    )
    redeemed = await desk.audit("file.link_redeem", target=fid, outcome="success")
    assert [(x.actor_id, x.details["new"], x.details["link"]) for x in redeemed] == [
        (desk.id("hank"), True, link["id"]),
        (desk.id("hank"), False, link["id"]),
        (desk.id("mia"), True, link["id"]),
    ]


async def test_who_may_redeem_a_people_link(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    link = await desk.link("mia", f["id"], role="edit")
    problem(await desk.anon("POST", f"{link['url']}/redeem"), 401, "unauthenticated")
    body = problem(await _redeem(desk, "gus", link), 403, "forbidden")
    assert "own people" in body["detail"]
    problem(await _redeem(desk, "eve", link), 403, "forbidden")
    problem(await desk.call("hank", "POST", f"{F}/links/{'x' * 43}/redeem"), 404, "not-found")
    assert await _grants(desk, f["id"]) == []
    refused = await desk.audit("file.link_redeem", target=link["id"], outcome="denied")
    assert [x.actor_id for x in refused] == [desk.id("gus")]
    # eve's attempt is on record in her own organisation
    hers = await _audit_of(desk, "eve", "file.link_redeem")
    assert [(x.actor_id, x.outcome, x.target_id) for x in hers] == [
        (desk.id("eve"), "denied", link["id"])
    ]


async def test_a_guest_redeems_an_anyone_link_where_the_policy_allows_it(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    # mia's own files: gus does not see them
    f = await desk.file("mia", "mine.txt", where="user")
    fid = f["id"]
    people = await desk.link("mia", fid)
    anyone = await desk.link("mia", fid, audience="anyone")
    problem(await _redeem(desk, "gus", people), 403)
    problem(await desk.call("gus", "GET", f"{F}/{fid}"), 404)
    r = await _redeem(desk, "gus", anyone)
    assert r.status_code == 200 and r.json()["role"] == "view", r.text
    assert (await desk.call("gus", "GET", f"{F}/{fid}")).status_code == 200
    assert (await desk.shelf.content("gus", fid)).status_code == 200
    # without a session an anyone link opens, but there is nobody to keep it for
    problem(await desk.anon("POST", f"{anyone['url']}/redeem"), 401)
    # accounts of other organisations follow it as visitors, and keep nothing
    assert (await desk.call("eve", "GET", anyone["url"])).status_code == 200
    problem(await _redeem(desk, "eve", anyone), 403)
    assert [g.user_id for g in await _grants(desk, fid)] == [desk.id("gus")]


async def test_a_view_grant_does_not_write(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    link = await desk.link("mia", fid)
    assert (await _redeem(desk, "hank", link)).json()["role"] == "view"
    assert (await desk.shelf.content("hank", fid)).status_code == 200
    body = problem(await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "x.txt"}), 403)
    assert "view only" in body["detail"]
    problem(await desk.shelf.start("hank", "v2.txt", 10, file_id=fid), 403)
    problem(await desk.share("hank", fid, "sam"), 403)
    denied = await desk.audit("file.rename", target=fid, outcome="denied")
    assert [x.actor_id for x in denied] == [desk.id("hank")]
    # the stronger role wins: an edit share on top of the view grant writes
    assert (await desk.share("mia", fid, "hank", "edit")).status_code == 200
    r = await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "x.txt"})
    assert r.status_code == 200, r.text
    mine = (await desk.call("hank", "GET", f"{F}/shared")).json()
    assert [(x["role"], x["via_link"]) for x in mine] == [("edit", None)]


async def test_revoking_the_link_ends_its_grants(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    link = await desk.link("mia", fid, role="edit")
    assert (await _redeem(desk, "hank", link)).status_code == 200
    r = await desk.call("mia", "DELETE", f"{F}/{fid}/links/{link['id']}")
    assert r.status_code == 204
    problem(await desk.call("hank", "GET", f"{F}/{fid}"), 404, "not-found")
    problem(await desk.shelf.content("hank", fid), 404)
    problem(await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "x.txt"}), 404)
    problem(await _redeem(desk, "hank", link), 404)
    assert (await desk.call("hank", "GET", f"{F}/shared")).json() == []
    assert (await desk.call("mia", "GET", f"{F}/{fid}/shares")).json() == []
    assert await _grants(desk, fid) == []
    revoked = await desk.audit("file.link_revoke", target=fid, outcome="success")
    assert [x.details["grants"] for x in revoked] == [1]


async def test_an_expired_link_gives_nothing_through_its_grants(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    soon = (now() + timedelta(minutes=5)).isoformat()
    link = await desk.link("mia", fid, role="edit", expires_at=soon)
    assert (await _redeem(desk, "hank", link)).status_code == 200
    assert (await desk.call("hank", "GET", f"{F}/{fid}")).status_code == 200
    clock.freeze(now() + timedelta(minutes=6))
    try:
        problem(await desk.call("hank", "GET", f"{F}/{fid}"), 404)
        problem(await desk.shelf.start("hank", "v2.txt", 10, file_id=fid), 404)
        assert (await desk.call("hank", "GET", f"{F}/shared")).json() == []
        listed = (await desk.call("mia", "GET", f"{F}/{fid}/links")).json()
        assert [x["state"] for x in listed] == ["expired"]
    finally:
        clock.freeze(None)
    # the grant is kept, as the record of it, and gives nothing
    assert len(await _grants(desk, fid)) == 1


# --- a new version without an account ---------------------------------------------------------


async def test_a_new_version_through_an_anyone_link_to_edit(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    f = await desk.file("mia", "notes.txt", text(1000))
    fid = f["id"]
    link = await desk.link("mia", fid, role="edit", audience="anyone")
    new = text(PART, b"second")  # exactly one part
    r = await desk.anon("PUT", f"{link['url']}/content", content=new)
    assert r.status_code == 200, r.text
    view = r.json()
    assert (view["version"], view["state"], view["size"], view["name"]) == (
        2,
        "scan_pending",
        PART,
        "notes.txt",
    )
    v1, v2 = await _versions(desk, fid)
    assert (v2.uploaded_by, v2.via_link_id, v2.scan_state, v2.size) == (
        LINK_UPLOADER,
        uuid.UUID(link["id"]),
        "scan_pending",
        PART,
    )
    assert v2.content_type.startswith("text/")  # told from the content
    assert v1.via_link_id is None
    shown = (await desk.call("mia", "GET", f"{F}/{fid}")).json()
    assert (shown["version"], shown["state"]) == (2, "scan_pending")
    # nobody opens it before the scan, the link's visitor neither
    problem(await desk.anon("GET", f"{link['url']}/content"), 403)
    await desk.set_state(fid, "clean")
    assert (await desk.anon("GET", f"{link['url']}/content")).content == new
    # someone signed in elsewhere is a visitor too
    r = await desk.call("eve", "PUT", f"{link['url']}/content", content=b"third version\n")
    assert r.status_code == 200 and r.json()["version"] == 3, r.text
    uploads = await desk.audit("file.upload", target=fid, outcome="success")
    assert [(x.actor_type, x.actor_label, x.details.get("link")) for x in uploads] == [
        ("user", "mia@contoso.example", None),
        ("anonymous", "anonymous", link["id"]),
        ("anonymous", "eve@fabrikam.example (another organisation)", link["id"]),
    ]
    assert uploads[1].details["version"] == 2


async def test_what_a_link_does_not_let_write(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    f = await desk.file("mia", "notes.txt", text(1000))
    fid = f["id"]
    view = await desk.link("mia", fid, audience="anyone")
    edit = await desk.link("mia", fid, role="edit", audience="anyone")
    people = await desk.link("mia", fid, role="edit")
    body = problem(await desk.anon("PUT", f"{view['url']}/content", content=b"new"), 403)
    assert "view only" in body["detail"]
    problem(await desk.anon("PUT", f"{people['url']}/content", content=b"new"), 401)
    # people of the organisation redeem the link and upload as themselves
    body = problem(await desk.call("hank", "PUT", f"{edit['url']}/content", content=b"x"), 403)
    assert "redeem" in body["detail"]
    problem(await desk.call("gus", "PUT", f"{edit['url']}/content", content=b"x"), 403)
    problem(await desk.anon("PUT", f"{edit['url']}/content", content=b""), 422)
    assert [v.number for v in await _versions(desk, fid)] == [1]
    refused = await desk.audit("file.upload", target=fid, outcome="denied")
    assert [x.details["reason"] for x in refused] == [
        "the link is to view only",
        "you have an account of the organisation: redeem the link and upload a new version "
        "as yourself",
        "you have an account of the organisation: redeem the link and upload a new version "
        "as yourself",
    ]
    # a password is asked as for reading
    pw = "correct horse battery"
    guarded = await desk.link("mia", fid, role="edit", audience="anyone", password=pw)
    problem(await desk.anon("PUT", f"{guarded['url']}/content", content=b"x"), 401)
    r = await desk.anon(
        "PUT", f"{guarded['url']}/content", content=b"x", headers={"X-Link-Password": pw}
    )
    assert r.status_code == 200 and r.json()["version"] == 2, r.text


async def test_refused_content_leaves_nothing_behind(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    f = await desk.file("mia", "notes.txt", text(1000))
    fid = f["id"]
    link = await desk.link("mia", fid, role="edit", audience="anyone")
    stored, blob_rows = desk.stored(), await _blob_count(desk)
    body = problem(
        await desk.anon("PUT", f"{link['url']}/content", content=text(PART + 1)), 413, "too-large"
    )
    assert "one part" in body["detail"] and body["max_bytes"] == PART
    body = problem(await desk.anon("PUT", f"{link['url']}/content", content=samples.pe()), 403)
    assert "not allowed here" in body["detail"] and "executable" in body["detail"]
    assert desk.stored() == stored
    assert await _blob_count(desk) == blob_rows
    assert [v.number for v in await _versions(desk, fid)] == [1]
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        item = await db.get(FileItem, uuid.UUID(fid))
        assert item is not None and item.state == "clean"
    refused = await desk.audit("file.upload", target=fid, outcome="denied")
    assert len(refused) == 1 and "executable" in refused[0].details["reason"]
    # a quota that is full refuses too
    await desk.policy(sharing_links="anyone", tenant_quota_bytes=1000)
    problem(await desk.anon("PUT", f"{link['url']}/content", content=b"more"), 507)
    assert desk.stored() == stored


async def test_parts_written_in_a_transaction_that_fails_are_deleted(desk: Desk) -> None:
    """What ``upload_by_link`` names in ``written`` is deleted from the store when its
    transaction does not commit, and kept when it does."""
    store = desk.rt.objects
    assert store is not None
    blob_id = str(uuid.uuid4())
    name = f"blobs/{desk.contoso}/{blob_id}/0"

    def there() -> bool:
        return any(p.parent.name == blob_id for p in desk.stored())

    async def one() -> Any:
        yield b"sealed bytes"

    class Refused(Exception):
        pass

    try:
        async with links.discarding(desk.rt) as written:
            written.append(name)
            await store.put(name, one())
            assert there()
            raise Refused
    except Refused:
        pass
    assert not there()
    async with links.discarding(desk.rt) as written:
        written.append(name)
        await store.put(name, one())
    assert there()
    await store.delete(name)
