"""Versions, rename, move, delete and restore, over HTTP: who may do what, where files
may go, and the recycle bin of a place."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from overleg.files import manage
from overleg.kernel import clock
from overleg.kernel.clock import now
from overleg.kernel.errors import NotFound
from overleg.workspace import service as workspace
from overleg.workspace.schemas import ChannelCreate, MemberAdd, TeamCreate
from tests.files.sharing.desk import Desk, problem, text

F = "/api/v1/files"


async def _listed(desk: Desk, who: str = "mia", **place: str) -> list[str]:
    r = await desk.call(who, "GET", F, params=place or desk.shelf.place())
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()]


async def _bin(desk: Desk, who: str = "mia") -> Any:
    return await desk.call(who, "GET", f"{F}/deleted", params=desk.shelf.place())


async def test_versions_newest_first(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt", text(100))
    await desk.shelf.upload("gus", "plan.txt", text(250), file_id=f["id"])
    r = await desk.call("olivia", "GET", f"{F}/{f['id']}/versions")
    assert r.status_code == 200, r.text
    assert [(v["number"], v["size"], v["current"], v["state"]) for v in r.json()] == [
        (2, 250, True, "scan_pending"),
        (1, 100, False, "clean"),
    ]
    assert r.json()[0]["uploaded_by"] == str(desk.id("gus"))
    for who in ("hank", "eve"):
        problem(await desk.call(who, "GET", f"{F}/{f['id']}/versions"), 404)


async def test_rename(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    path = f"{F}/{f['id']}"
    r = await desk.call("gus", "PATCH", path, json={"name": "  Jaarplan 2027.txt "})
    assert r.status_code == 200 and r.json()["name"] == "Jaarplan 2027.txt", r.text
    assert (await desk.call("mia", "GET", path)).json()["name"] == "Jaarplan 2027.txt"
    for bad in ("../x.txt", "a/b", "CON.txt", "dot.", "x" * 256, "bidi\u202etxt"):
        problem(await desk.call("mia", "PATCH", path, json={"name": bad}), 422)
    for who in ("hank", "eve"):
        problem(await desk.call(who, "PATCH", path, json={"name": "x.txt"}), 404)
    renamed = await desk.audit("file.rename", target=f["id"])
    assert [(r.outcome, r.details) for r in renamed] == [
        ("success", {}),  # the name is sealed: it is not written to the audit log
        ("denied", {"reason": "not visible to the caller"}),
    ]


async def _channels(desk: Desk) -> dict[str, uuid.UUID]:
    """A second channel of the Sales team ("Plans"), a private one without gus
    ("Board"), and the General channel of another team of olivia's with mia in it."""
    w = desk.shelf.world
    olivia = w.principal("olivia")
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        sales = (await workspace.get_channel(olivia, db, desk.shelf.channel_id)).channel
        plans = await workspace.create_channel(
            olivia, db, sales.team_id, ChannelCreate(name="Plans")
        )
        board = await workspace.create_channel(
            olivia,
            db,
            sales.team_id,
            ChannelCreate(name="Board", kind="private", members=[w.id("mia")]),
        )
        other = await workspace.create_team(olivia, db, TeamCreate(name="Finance"))
        await workspace.add_member(olivia, db, other.id, MemberAdd(user_id=w.id("mia")))
    assert other.general_channel_id is not None
    return {"plans": plans.id, "board": board.id, "finance": other.general_channel_id}


async def test_move_between_channels_of_one_team_only(desk: Desk) -> None:
    ch = await _channels(desk)
    f = await desk.file("mia", "plan.txt")
    path = f"{F}/{f['id']}/move"

    def to(key: str) -> dict[str, str]:
        return {"json": {"container_id": str(ch[key])}}  # type: ignore[dict-item]

    r = await desk.call("mia", "POST", path, **to("plans"))
    assert r.status_code == 200 and r.json()["container_id"] == str(ch["plans"]), r.text
    assert await _listed(desk) == []
    assert await _listed(desk, container_type="channel", container_id=str(ch["plans"])) == [f["id"]]
    # another team has other people in it
    body = problem(await desk.call("mia", "POST", path, **to("finance")), 403, "forbidden")
    assert "same team" in body["detail"]
    # a channel one cannot see is not found; to where it is: 422
    problem(await desk.call("gus", "POST", path, **to("board")), 404)
    problem(await desk.call("mia", "POST", path, **to("plans")), 422)
    assert (await desk.call("mia", "POST", path, **to("board"))).status_code == 200
    problem(await desk.call("gus", "GET", f"{F}/{f['id']}"), 404)  # gus is not in Board
    moved = await desk.audit("file.move", target=f["id"])
    assert [m.outcome for m in moved] == ["success", "denied", "success"]
    assert moved[0].details == {
        "from": f"channel:{desk.shelf.channel_id}",
        "to": f"channel:{ch['plans']}",
    }
    # one's own files stay one's own
    own = await desk.file("mia", "cv.txt", where="user")
    r = await desk.call("mia", "POST", f"{F}/{own['id']}/move", **to("plans"))
    problem(r, 422)


async def test_delete_and_restore(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    keep = await desk.file("mia", "keep.txt")
    assert (await desk.share("mia", f["id"], "hank")).status_code == 200
    # hank may see it, not delete it; strangers do not find it
    problem(await desk.call("hank", "DELETE", f"{F}/{f['id']}"), 403)
    problem(await desk.call("eve", "DELETE", f"{F}/{f['id']}"), 404)
    assert (await desk.call("gus", "DELETE", f"{F}/{f['id']}")).status_code == 204
    assert await _listed(desk) == [keep["id"]]
    for who in ("mia", "hank"):
        problem(await desk.call(who, "GET", f"{F}/{f['id']}"), 404)
        problem(await desk.call(who, "GET", f"{F}/{f['id']}/content"), 404)
    assert (await desk.call("hank", "GET", f"{F}/shared")).json() == []
    # the recycle bin of the place: for its people
    deleted = (await _bin(desk, "olivia")).json()
    assert [(x["id"], x["name"], x["deleted_by"]) for x in deleted] == [
        (f["id"], "plan.txt", "gus@northwind.example")
    ]
    assert deleted[0]["purge_after"] > deleted[0]["deleted_at"]
    problem(await _bin(desk, "hank"), 404)
    problem(await desk.call("hank", "POST", f"{F}/{f['id']}/restore"), 404)
    problem(await desk.call("mia", "POST", f"{F}/{keep['id']}/restore"), 404)  # not deleted
    r = await desk.call("mia", "POST", f"{F}/{f['id']}/restore")
    assert r.status_code == 200 and r.json()["name"] == "plan.txt", r.text
    assert sorted(await _listed(desk)) == sorted([f["id"], keep["id"]])
    assert (await _bin(desk)).json() == []
    # its shares come back with it
    assert (await desk.call("hank", "GET", f"{F}/{f['id']}/content")).status_code == 200
    # (eve's refusal is on her own organisation's chain)
    deletes = await desk.audit("file.delete", target=f["id"])
    assert [(a.outcome, a.actor_id) for a in deletes] == [
        ("denied", desk.id("hank")),
        ("success", desk.id("gus")),
    ]
    assert len(await desk.audit("file.restore", target=f["id"], outcome="success")) == 1


async def test_ones_own_files_are_deleted_and_restored_by_oneself(desk: Desk) -> None:
    own = await desk.file("mia", "cv.txt", where="user")
    for who in ("olivia", "sam"):
        problem(await desk.call(who, "DELETE", f"{F}/{own['id']}"), 404)
    assert (await desk.call("mia", "DELETE", f"{F}/{own['id']}")).status_code == 204
    r = await desk.call("mia", "GET", f"{F}/deleted", params=desk.shelf.place("user", "mia"))
    assert [x["id"] for x in r.json()] == [own["id"]]
    problem(await desk.call("olivia", "POST", f"{F}/{own['id']}/restore"), 404)
    assert (await desk.call("mia", "POST", f"{F}/{own['id']}/restore")).status_code == 200


async def test_the_recycle_period_ends(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    assert (await desk.call("mia", "DELETE", f"{F}/{f['id']}")).status_code == 204
    deleted = now()
    mia = desk.shelf.world.principal("mia")
    ch = desk.shelf.channel_id
    clock.freeze(deleted + timedelta(days=manage.RECYCLE_DAYS) - timedelta(minutes=1))
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        listed = await manage.recycle_bin(mia, db, "channel", ch)
    assert [x.id for x in listed] == [uuid.UUID(f["id"])]
    clock.freeze(deleted + timedelta(days=manage.RECYCLE_DAYS, minutes=1))
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        assert await manage.recycle_bin(mia, db, "channel", ch) == []
    with pytest.raises(NotFound):
        async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
            await manage.restore_file(mia, db, uuid.UUID(f["id"]))


async def test_an_archived_channels_files_are_read_only(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    olivia = desk.shelf.world.principal("olivia")
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        sales = (await workspace.get_channel(olivia, db, desk.shelf.channel_id)).channel
        await workspace.set_team_archived(olivia, db, sales.team_id, True)
    problem(await desk.call("mia", "DELETE", f"{F}/{f['id']}"), 403)
    problem(await desk.call("mia", "PATCH", f"{F}/{f['id']}", json={"name": "x.txt"}), 403)
    assert (await desk.call("mia", "GET", f"{F}/{f['id']}/content")).status_code == 200
