"""Sharing a file with named people of the organisation: what a share lets them do, who
may share, with whom, and the audit trail of it."""

from __future__ import annotations

from tests.files.sharing.desk import Desk, problem, text

F = "/api/v1/files"


async def test_a_view_share_lets_a_person_outside_the_place_see_and_open(desk: Desk) -> None:
    data = text(5000)
    f = await desk.file("mia", "plan.txt", data)
    fid = f["id"]
    # hank is not in the team: the file does not exist for him
    problem(await desk.call("hank", "GET", f"{F}/{fid}"), 404, "not-found")
    problem(await desk.call("hank", "GET", f"{F}/{fid}/content"), 404)
    r = await desk.share("mia", fid, "hank")
    assert r.status_code == 200, r.text
    share = r.json()
    assert (share["user_id"], share["role"], share["by"]) == (
        str(desk.id("hank")),
        "view",
        "mia@contoso.example",
    )
    assert (await desk.call("hank", "GET", f"{F}/{fid}")).json()["name"] == "plan.txt"
    r = await desk.call("hank", "GET", f"{F}/{fid}/content", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    # "Shared with me", with the role; the place itself stays closed to him
    mine = (await desk.call("hank", "GET", f"{F}/shared")).json()
    assert [(x["id"], x["role"], x["shared_by"]) for x in mine] == [
        (fid, "view", "mia@contoso.example")
    ]
    assert (await desk.call("sam", "GET", f"{F}/shared")).json() == []
    problem(await desk.call("hank", "GET", F, params=desk.shelf.place()), 404)
    # to view only: no new name, no new version, no sharing on
    body = problem(await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "mine.txt"}), 403)
    assert "view only" in body["detail"]
    problem(await desk.shelf.start("hank", "v2.txt", 10, file_id=fid), 403)
    problem(await desk.share("hank", fid, "sam"), 403)
    denied = await desk.audit("file.rename", target=fid, outcome="denied")
    assert [d.actor_id for d in denied] == [desk.id("hank")]


async def test_an_edit_share_writes_but_does_not_delete_or_move(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    assert (await desk.share("mia", fid, "hank", "edit")).status_code == 200
    r = await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "plan v2.txt"})
    assert r.status_code == 200 and r.json()["name"] == "plan v2.txt", r.text
    v2 = await desk.shelf.upload("hank", "ignored.txt", text(300), file_id=fid)
    assert (v2["id"], v2["version"]) == (fid, 2)
    # the file's place decides where it goes and whether it goes
    problem(await desk.call("hank", "DELETE", f"{F}/{fid}"), 403)
    channel = str(desk.shelf.channel_id)
    problem(await desk.call("hank", "POST", f"{F}/{fid}/move", json={"container_id": channel}), 403)
    # an editor may share on (SharePoint: "can edit" includes sharing)
    assert (await desk.share("hank", fid, "sam")).status_code == 200
    listed = (await desk.call("mia", "GET", f"{F}/{fid}/shares")).json()
    assert sorted((s["display_name"], s["role"]) for s in listed) == sorted(
        [(await _name(desk, "hank"), "edit"), (await _name(desk, "sam"), "view")]
    )


async def _name(desk: Desk, who: str) -> str:
    return desk.shelf.world.users[who].display_name


async def test_changing_and_removing_a_share(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    assert (await desk.share("mia", fid, "hank")).json()["role"] == "view"
    assert (await desk.share("olivia", fid, "hank", "edit")).json()["role"] == "edit"
    shares = (await desk.call("mia", "GET", f"{F}/{fid}/shares")).json()
    assert [(s["role"], s["by"]) for s in shares] == [("edit", "olivia@contoso.example")]
    r = await desk.call("mia", "DELETE", f"{F}/{fid}/shares/{desk.id('hank')}")
    assert r.status_code == 204
    problem(await desk.call("hank", "GET", f"{F}/{fid}"), 404)
    assert (await desk.call("hank", "GET", f"{F}/shared")).json() == []
    # unsharing someone who has no share is "not found", and audited as a denial
    problem(await desk.call("mia", "DELETE", f"{F}/{fid}/shares/{desk.id('hank')}"), 404)
    shared = await desk.audit("file.share", target=fid, outcome="success")
    assert [(s.details["role"], s.details["was"]) for s in shared] == [
        ("view", None),
        ("edit", "view"),
    ]
    unshared = await desk.audit("file.unshare", target=fid)
    assert [u.outcome for u in unshared] == ["success", "denied"]


async def test_a_pending_file_shared_is_seen_but_not_opened(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt", state="scan_pending")
    assert (await desk.share("mia", f["id"], "hank")).status_code == 200
    assert (await desk.call("hank", "GET", f"{F}/{f['id']}")).json()["state"] == "scan_pending"
    problem(await desk.call("hank", "GET", f"{F}/{f['id']}/content"), 403)
    await desk.set_state(f["id"], "infected")
    problem(await desk.call("hank", "GET", f"{F}/{f['id']}/content"), 403)


async def test_who_may_share_and_with_whom(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    # guests do not share, even what they may write (SharePoint's default)
    problem(await desk.share("gus", fid, "hank"), 403)
    problem(await desk.call("gus", "GET", f"{F}/{fid}/shares"), 403)
    refused = await desk.audit("file.share", target=fid, outcome="denied")
    assert [r.actor_id for r in refused] == [desk.id("gus")]
    # people who do not see the file: "not found" (another organisation too)
    for who in ("hank", "eve"):
        problem(await desk.share(who, fid, "sam"), 404)
    # only people of this organisation, and not oneself
    r = await desk.call("mia", "PUT", f"{F}/{fid}/shares/{desk.id('eve')}", json={"role": "view"})
    problem(r, 404)
    problem(await desk.share("mia", fid, "mia"), 422)
    r = await desk.call("mia", "PUT", f"{F}/{fid}/shares/{desk.id('hank')}", json={"role": "own"})
    problem(r, 422)


async def test_guests_of_the_organisation_are_shared_with_only_where_links_reach_them(
    desk: Desk,
) -> None:
    own = await desk.file("mia", "cv.txt", where="user")
    # the default policy keeps sharing inside the organisation
    body = problem(await desk.share("mia", own["id"], "gus"), 403)
    assert "guests" in body["detail"]
    problem(await desk.call("gus", "GET", f"{F}/{own['id']}"), 404)
    await desk.policy(sharing_links="anyone")
    assert (await desk.share("mia", own["id"], "gus")).status_code == 200
    r = await desk.call("gus", "GET", f"{F}/{own['id']}/content")
    assert r.status_code == 200 and r.content == text(1000)


async def test_ones_own_files_are_shared_by_their_owner(desk: Desk) -> None:
    own = await desk.file("mia", "cv.txt", where="user")
    fid = own["id"]
    for who in ("olivia", "sam"):  # an admin is nobody special here
        problem(await desk.share(who, fid, "hank"), 404)
    assert (await desk.share("mia", fid, "sam")).status_code == 200
    assert (await desk.call("sam", "GET", f"{F}/{fid}/content")).status_code == 200
    problem(await desk.call("hank", "GET", f"{F}/{fid}"), 404)
    # sam sees it through the share only: he cannot delete it
    problem(await desk.call("sam", "DELETE", f"{F}/{fid}"), 403)


async def test_a_chats_file_is_shared_by_its_members(desk: Desk) -> None:
    from overleg.messaging import service as messaging
    from overleg.messaging.schemas import ChatCreate

    w = desk.shelf.world
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        chat = await messaging.create_chat(
            w.principal("mia"), db, ChatCreate(members=[w.id("sam")])
        )
    f = await desk.file("sam", "notes.txt", container_type="chat", container_id=str(chat.id))
    problem(await desk.share("hank", f["id"], "olivia"), 404)
    assert (await desk.share("mia", f["id"], "hank")).status_code == 200
    assert (await desk.call("hank", "GET", f"{F}/{f['id']}/content")).status_code == 200
