"""Shares, link grants and links follow the state of the file's place: a file of a deleted
channel or team opens through none of them (404, as a missing file); in an archived
channel or team they only read (403 "this place is read-only" on writes)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.files.sharing.desk import Desk, problem, text

F = "/api/v1/files"


async def _channel(desk: Desk, name: str = "Plans") -> tuple[str, str]:
    """A standard channel of the "Sales" team (olivia's): (team id, channel id)."""
    r = await desk.call("olivia", "GET", f"/api/v1/channels/{desk.shelf.channel_id}")
    assert r.status_code == 200, r.text
    team = r.json()["team_id"]
    r = await desk.call("olivia", "POST", f"/api/v1/teams/{team}/channels", json={"name": name})
    assert r.status_code == 201, r.text
    return team, r.json()["id"]


async def _reached(desk: Desk, fid: str, link: dict[str, Any], anyone: dict[str, Any]) -> None:
    """hank (a share), sam (a grant) and an anonymous visitor (a link) reach the file."""
    for who in ("hank", "sam"):
        assert (await desk.call(who, "GET", f"{F}/{fid}")).status_code == 200, who
        assert (await desk.shelf.content(who, fid)).status_code == 200, who
    assert (await desk.anon("GET", f"{anyone['url']}/content")).status_code == 200


async def _shared_three_ways(desk: Desk, fid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An edit share with hank, a people link to edit that sam redeemed, an anyone link to
    edit."""
    await desk.policy(sharing_links="anyone")
    assert (await desk.share("mia", fid, "hank", "edit")).status_code == 200
    link = await desk.link("mia", fid, role="edit")
    assert (await desk.call("sam", "POST", f"{link['url']}/redeem")).status_code == 200
    anyone = await desk.link("mia", fid, role="edit", audience="anyone")
    await _reached(desk, fid, link, anyone)
    return link, anyone


async def test_a_file_of_a_deleted_channel_opens_through_nothing(desk: Desk) -> None:
    _, channel = await _channel(desk)
    f = await desk.file("mia", "plan.txt", container_id=channel)
    fid = f["id"]
    link, anyone = await _shared_three_ways(desk, fid)
    assert (await desk.call("olivia", "DELETE", f"/api/v1/channels/{channel}")).status_code == 204
    missing = problem(await desk.call("hank", "GET", f"{F}/{uuid.uuid4()}"), 404, "not-found")
    for who in ("hank", "sam", "mia"):
        body = problem(await desk.call(who, "GET", f"{F}/{fid}"), 404, "not-found")
        assert body["title"] == missing["title"]
        problem(await desk.shelf.content(who, fid), 404)
        assert (await desk.call(who, "GET", f"{F}/shared")).json() == [], who
    problem(await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "x.txt"}), 404)
    # its links are as missing as a link that never existed
    never = problem(await desk.anon("GET", f"{F}/links/{'x' * 43}"), 404)
    for path in (anyone["url"], f"{anyone['url']}/content"):
        assert problem(await desk.anon("GET", path), 404)["detail"] == never["detail"]
    problem(await desk.anon("PUT", f"{anyone['url']}/content", content=b"new"), 404)
    problem(await desk.call("hank", "GET", link["url"]), 404)
    problem(await desk.call("hank", "POST", f"{link['url']}/redeem"), 404)
    dead = await desk.audit("file.link_use", target=anyone["id"], outcome="denied")
    assert [x.details["reason"] for x in dead] == ["the file's place is deleted"]
    refused = await desk.audit("file.read", target=fid, outcome="denied")
    assert {x.actor_id for x in refused} >= {desk.id("hank"), desk.id("sam")}


async def test_a_file_of_a_deleted_team_opens_through_nothing(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    _, anyone = await _shared_three_ways(desk, fid)
    team = (await desk.call("olivia", "GET", f"/api/v1/channels/{desk.shelf.channel_id}")).json()
    r = await desk.call("olivia", "DELETE", f"/api/v1/teams/{team['team_id']}")
    assert r.status_code == 204, r.text
    for who in ("hank", "sam"):
        problem(await desk.call(who, "GET", f"{F}/{fid}"), 404)
    problem(await desk.anon("GET", anyone["url"]), 404)


async def test_an_archived_channel_makes_shares_and_grants_read_only(desk: Desk) -> None:
    _, channel = await _channel(desk)
    data = text(2000)
    f = await desk.file("mia", "plan.txt", data, container_id=channel)
    fid = f["id"]
    link, anyone = await _shared_three_ways(desk, fid)
    r = await desk.call("olivia", "POST", f"/api/v1/channels/{channel}/archive")
    assert r.status_code == 200, r.text
    # they still see and download it
    await _reached(desk, fid, link, anyone)
    assert (await desk.shelf.content("hank", fid)).content == data
    # and write nothing: neither a new name nor a new version, by share, grant or link
    for who in ("hank", "sam"):
        body = problem(await desk.call(who, "PATCH", f"{F}/{fid}", json={"name": "x.txt"}), 403)
        assert "this place is read-only" in body["detail"], who
        problem(await desk.shelf.start(who, "v2.txt", 10, file_id=fid, container_id=channel), 403)
    body = problem(await desk.anon("PUT", f"{anyone['url']}/content", content=b"new"), 403)
    assert "read-only" in body["detail"]
    # the place's own people read only too (as before)
    problem(await desk.call("mia", "PATCH", f"{F}/{fid}", json={"name": "x.txt"}), 403)
    denied = await desk.audit("file.rename", target=fid, outcome="denied")
    assert [x.details["reason"] for x in denied] == ["this place is read-only"] * 3
    # unarchived, the share writes again
    r = await desk.call("olivia", "POST", f"/api/v1/channels/{channel}/unarchive")
    assert r.status_code == 200, r.text
    r = await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "x.txt"})
    assert r.status_code == 200, r.text


async def test_an_archived_team_makes_a_share_read_only(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    fid = f["id"]
    assert (await desk.share("mia", fid, "hank", "edit")).status_code == 200
    team = (await desk.call("olivia", "GET", f"/api/v1/channels/{desk.shelf.channel_id}")).json()
    r = await desk.call("olivia", "POST", f"/api/v1/teams/{team['team_id']}/archive")
    assert r.status_code == 200, r.text
    assert (await desk.shelf.content("hank", fid)).status_code == 200
    body = problem(await desk.call("hank", "PATCH", f"{F}/{fid}", json={"name": "x.txt"}), 403)
    assert "this place is read-only" in body["detail"]
    mine = (await desk.call("hank", "GET", f"{F}/shared")).json()
    assert [(x["id"], x["role"]) for x in mine] == [(fid, "edit")]
