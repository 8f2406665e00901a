"""Who may list, see, watch and download a recording, over HTTP, for every kind of viewer;
the tenant's download policy; explicit grants and denials per person."""

from __future__ import annotations

from sqlalchemy import select

from overleg.audit.models import AuditRecord
from tests.meetings.recordings.conftest import Scene, problem

FULL = ("listed", 200, 200, 200)
WATCH_ONLY = ("listed", 200, 200, 403)
NOTHING = ("404", 404, 404, 404)
#: sees the meeting (and its list), but not the recording
NOT_LISTED = ("not listed", 404, 404, 404)


async def test_who_sees_a_scheduled_meetings_recording(scheduled: Scene) -> None:
    s = scheduled
    expected = {
        "olivia": FULL,  # organizer
        "sam": FULL,  # started the recording
        "mia": FULL,  # invited
        "gus": NOT_LISTED,  # a guest, invited: only with an explicit grant
        "hank": NOTHING,  # a member of the organisation, not invited
        "cora": NOTHING,  # admins get nothing for being admins
        "eve": NOTHING,  # another organisation
    }
    got = {who: await s.answers(who) for who in expected}
    assert got == expected
    rights = {}
    for who in ("olivia", "sam", "mia"):
        body = (await s.call(who, "GET", s.path)).json()
        rights[who] = body["my_rights"]
    assert rights["olivia"] == rights["sam"] == {"view": True, "download": True, "manage": True}
    assert rights["mia"] == {"view": True, "download": True, "manage": False}


async def test_details_come_from_the_manifest(scheduled: Scene) -> None:
    s, w = scheduled, scheduled.hall.world
    body = (await s.call("mia", "GET", s.path)).json()
    assert body["state"] == "ready" and body["subject"] == "Weekly"
    assert body["meeting_id"] == s.meeting["id"]
    files = {f["id"]: f for f in body["files"]}
    video, audio = files[str(s.rec.video_id)], files[str(s.rec.audio_id)]
    assert (video["display_name"], video["media"], video["content_type"], video["size"]) == (
        "Olivia",
        "video",
        "video/webm",
        300_000,
    )
    assert (audio["display_name"], audio["media"], audio["size"]) == ("Mia", "audio", 70_001)
    people = {p["display_name"]: p for p in body["people"]}
    assert people["Mia"]["user_id"] == str(w.id("mia")) and len(people["Mia"]["ranges"]) == 1
    # the list carries the same
    listed = (await s.call("mia", "GET", f"/api/v1/meetings/{s.meeting['id']}/recordings")).json()
    assert [r["id"] for r in listed] == [str(s.rec.id)] and listed[0]["files"] == body["files"]


async def test_grants_and_denials(scheduled: Scene) -> None:
    s, w = scheduled, scheduled.hall.world
    # the guest, and a member who was not invited, get it by an explicit grant
    for who in ("gus", "hank"):
        r = await s.grant(who, True)
        assert r.status_code == 200, r.text
        assert r.json()["allowed"] is True and r.json()["user_id"] == str(w.id(who))
    assert await s.answers("gus") == FULL
    assert await s.answers("hank") == FULL  # listed although he does not see the meeting
    assert (await s.call("gus", "GET", s.path)).json()["my_rights"]["manage"] is False
    # an invitee loses it by an explicit denial
    r = await s.grant("mia", False, by="sam")  # the starter manages too
    assert r.status_code == 200 and r.json()["allowed"] is False
    assert await s.answers("mia") == NOT_LISTED
    # the owners' choices, for the owners
    r = await s.call("olivia", "GET", f"{s.path}/access")
    assert r.status_code == 200
    entries = {e["user_id"]: e for e in r.json()}
    assert set(entries) == {str(w.id(x)) for x in ("gus", "hank", "mia")}
    assert entries[str(w.id("gus"))]["kind"] == "guest"
    assert entries[str(w.id("mia"))]["by"] == "sam@contoso.example"
    # owners cannot be denied; people outside the organisation cannot be named
    problem(await s.grant("olivia", False), 409, "conflict")
    problem(await s.grant("sam", False, by="olivia"), 409, "conflict")
    problem(await s.grant("eve", True), 404, "not-found")
    # clearing puts people back to what the meeting gives them
    for who in ("mia", "gus"):
        r = await s.call("olivia", "DELETE", f"{s.path}/access/{w.id(who)}")
        assert r.status_code == 204
    assert await s.answers("mia") == FULL
    assert await s.answers("gus") == NOT_LISTED
    r = await s.call("olivia", "DELETE", f"{s.path}/access/{w.id('gus')}")  # again: no-op
    assert r.status_code == 204
    # every change is audited
    sets = await s.audit("recording.access_set", outcome="success")
    assert [(a.details["user_id"], a.details["allowed"]) for a in sets] == [
        (str(w.id("gus")), True),
        (str(w.id("hank")), True),
        (str(w.id("mia")), False),
    ]
    clears = await s.audit("recording.access_clear", outcome="success")
    assert [a.details["before"] for a in clears] == [False, True, None]


async def test_only_owners_manage(scheduled: Scene) -> None:
    s, w = scheduled, scheduled.hall.world
    problem(await s.grant("hank", True, by="mia"), 403, "forbidden")
    problem(await s.call("mia", "GET", f"{s.path}/access"), 403, "forbidden")
    problem(await s.call("mia", "DELETE", f"{s.path}/access/{w.id('hank')}"), 403, "forbidden")
    problem(await s.call("mia", "DELETE", s.path), 403, "forbidden")
    # someone who does not see it at all: the same answer as for a missing recording
    problem(await s.grant("mia", False, by="hank"), 404, "not-found")
    denied = await s.audit("recording.access_set", outcome="denied")
    assert [a.actor_label for a in denied] == ["mia@contoso.example", "hank@contoso.example"]
    assert await s.answers("hank") == NOTHING  # nothing changed


async def test_channel_recording(channel: Scene) -> None:
    s = channel
    expected = {
        "olivia": FULL,  # organizer
        "sam": FULL,  # started the recording
        "hank": FULL,  # owns the channel's team
        "mia": FULL,  # a member of the channel
        "gus": NOT_LISTED,  # a guest member of the channel
        "uma": NOTHING,  # not in the team
        "eve": NOTHING,
    }
    assert {who: await s.answers(who) for who in expected} == expected
    manage = {
        who: (await s.call(who, "GET", s.path)).json()["my_rights"]["manage"]
        for who in ("olivia", "sam", "hank", "mia")
    }
    assert manage == {"olivia": True, "sam": True, "hank": True, "mia": False}
    # the team's owner manages: grants the guest, and cannot be denied himself
    assert (await s.grant("gus", True, by="hank")).status_code == 200
    assert await s.answers("gus") == FULL
    problem(await s.grant("hank", False), 409, "conflict")
    assert (await s.grant("mia", False, by="hank")).status_code == 200
    assert await s.answers("mia") == NOT_LISTED


async def test_channel_recordings_view_only(channel: Scene) -> None:
    s = channel
    await s.hall.policy("recordings", {"channel_recordings_view_only": True})
    expected = {
        "olivia": FULL,
        "sam": FULL,
        "hank": FULL,
        "mia": WATCH_ONLY,
        "gus": NOT_LISTED,
    }
    assert {who: await s.answers(who) for who in expected} == expected
    assert (await s.grant("gus", True)).status_code == 200
    assert await s.answers("gus") == WATCH_ONLY  # a grant follows the same policy
    body = (await s.call("mia", "GET", s.path)).json()
    assert body["my_rights"] == {"view": True, "download": False, "manage": False}
    p = problem(await s.call("mia", "GET", s.file(download=True)), 403, "forbidden")
    assert "view-only" in p["detail"]


async def test_view_only_is_for_channel_recordings(scheduled: Scene) -> None:
    await scheduled.hall.policy("recordings", {"channel_recordings_view_only": True})
    assert await scheduled.answers("mia") == FULL


async def test_no_downloads_at_all(scheduled: Scene, channel: Scene) -> None:
    await scheduled.hall.policy("recordings", {"allow_download": False})
    for s, people in ((scheduled, ("olivia", "sam", "mia")), (channel, ("olivia", "hank", "mia"))):
        for who in people:
            assert await s.answers(who) == WATCH_ONLY, who
        rights = (await s.call("olivia", "GET", s.path)).json()["my_rights"]
        assert rights == {"view": True, "download": False, "manage": True}
    p = problem(await scheduled.call("olivia", "GET", scheduled.file(download=True)), 403)
    assert "does not allow downloading" in p["detail"]
    # each refusal is on record, with its reason; nothing was downloaded
    denied = await scheduled.audit("recording.download", outcome="denied")
    assert len(denied) == 4 and all("downloading" in a.details["reason"] for a in denied)
    assert await scheduled.audit("recording.download", outcome="success") == []


async def test_refusals_of_people_who_see_nothing_are_audited(scheduled: Scene) -> None:
    s, w = scheduled, scheduled.hall.world
    assert await s.answers("hank") == NOTHING
    async with w.rt.database.transaction(tenant_id=w.tenant_of("hank")) as db:
        rows = (
            await db.scalars(
                select(AuditRecord).where(
                    AuditRecord.actor_id == w.id("hank"), AuditRecord.outcome == "denied"
                )
            )
        ).all()
    assert {r.action for r in rows} == {
        "recording.read",
        "recording.view",
        "recording.download",
        "recording.list",
    }
    assert all(r.details["reason"] == "not visible to the caller" for r in rows)
