"""Joining and the lobby over HTTP: the "not yet started" rules, forwarded invitations,
lock, removal and rejoin, deny and admit-all, who sees the lobby, bad input, and that a
server restart loses nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy import func, select

from overleg.audit.models import AuditRecord
from overleg.bootstrap import build_runtime
from overleg.kernel.events.models import OutboxEvent
from overleg.kernel.events.outbox import parse_recipients
from overleg.main import create_app
from overleg.meetings.models import MeetingParticipant
from tests.meetings.conftest import Hall


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


async def _admit(hall: Hall, who: str, mid: str, pid: str) -> None:
    r = await hall.call(who, "POST", f"/api/v1/meetings/{mid}/lobby/{pid}/admit")
    assert r.status_code == 200, r.text


async def _participants(hall: Hall) -> int:
    async with hall.world.rt.database.transaction(unscoped=True) as db:
        return int(await db.scalar(select(func.count()).select_from(MeetingParticipant)) or 0)


async def _events(hall: Hall, type: str) -> list[tuple[dict[str, Any], set[str]]]:
    import json

    async with hall.world.rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.scalars(
                select(OutboxEvent).where(OutboxEvent.type == type).order_by(OutboxEvent.seq)
            )
        ).all()
    return [(json.loads(r.data), {str(x) for x in parse_recipients(r.recipients)}) for r in rows]


# --- before the meeting starts ------------------------------------------------------------


async def test_anonymous_waits_until_a_signed_in_person_starts_the_meeting(hall: Hall) -> None:
    meeting = await hall.schedule(options={"lobby_bypass": "everyone", "dial_in_bypass": True})
    anon = await hall.join(None, meeting, name="Early Bird")
    assert anon["me"]["state"] == "lobby" and anon["me"]["admit_on_start"]
    assert not anon["meeting"]["started"]
    olivia = await hall.join("olivia", meeting)
    assert olivia["meeting"]["started"]
    me = await hall.room(hall.as_participant(anon), meeting["id"])
    assert me["me"]["state"] == "in"
    told = [d for d, to in await _events(hall, "meeting.you") if anon["me"]["id"] in to]
    assert [d["state"] for d in told] == ["waiting", "admitted"]
    # it stays started when the organizer leaves
    r = await hall.call("olivia", "POST", f"/api/v1/meetings/{meeting['id']}/leave")
    assert r.status_code == 204
    late = await hall.join(None, meeting, name="Late")
    assert late["me"]["state"] == "in"


async def test_people_the_rules_send_to_the_lobby_are_not_admitted_at_start(hall: Hall) -> None:
    meeting = await hall.schedule(options={"lobby_bypass": "invited"})
    hank = await hall.join("hank", meeting)
    assert hank["me"]["state"] == "lobby" and not hank["me"]["admit_on_start"]
    await hall.join("olivia", meeting)
    assert (await hall.room("hank", meeting["id"]))["me"]["state"] == "lobby"


async def test_anonymous_can_start_lets_them_in_without_starting_it(hall: Hall) -> None:
    await hall.policy("meetings", {"default": {"anonymous_can_start": True}})
    meeting = await hall.schedule(options={"lobby_bypass": "everyone"})
    anon = await hall.join(None, meeting, name="Host Helper")
    assert anon["me"]["state"] == "in"
    assert not anon["meeting"]["started"]  # only a verified person starts it
    mia = await hall.join("mia", meeting)
    assert mia["meeting"]["started"]


async def test_anonymous_join_off_refuses_unverified_people(hall: Hall) -> None:
    await hall.policy("meetings", {"default": {"anonymous_join": False}})
    meeting = await hall.schedule(options={"lobby_bypass": "everyone"})
    await hall.join("olivia", meeting)
    before = await _participants(hall)
    p = _problem(await hall.join_raw(None, meeting, name="Nobody"), 403)
    assert "signed-in" in p["detail"]
    _problem(await hall.join_raw("eve", meeting), 403)  # an untrusted organisation
    assert await _participants(hall) == before
    await hall.policy("federation", {"trusted_domains": ["fabrikam.example"]})
    assert (await hall.join("frank", meeting))["me"]["state"] == "in"
    # phone callers are governed by dial_in_bypass, not by anonymous_join
    from overleg.meetings import room
    from overleg.meetings.rules import ParticipantType
    from overleg.security.principal import anonymous

    w = hall.world
    caller = replace(anonymous(None, None, "test"), tenant_id=w.tenant_of("olivia"))
    async with w.rt.database.transaction(tenant_id=w.tenant_of("olivia")) as db:
        m = await room.meeting_by_join_code(db, hall.code(meeting))
        knock = room.Knock(ParticipantType.DIAL_IN, "+3120•••••78", phone_masked="+3120•••••78")
        called = await room.enter(caller, db, m, knock)
    assert called.me.state == "lobby"


# --- forwarded invitations ----------------------------------------------------------------


async def test_a_forwarded_invitation_makes_a_signed_in_person_invited(hall: Hall) -> None:
    meeting = await hall.schedule(invite=("mia",), options={"lobby_bypass": "invited"})
    await hall.join("olivia", meeting)
    seen = (await hall.call("mia", "GET", f"/api/v1/meetings/{meeting['id']}")).json()
    key = seen["invitation_url"].rsplit("invitation=", 1)[-1]
    hank = await hall.join("hank", meeting, invitation=key)
    assert hank["me"]["state"] == "in" and hank["me"]["invited"]
    await hall.policy("federation", {"trusted_domains": ["fabrikam.example"]})
    frank = await hall.join("frank", meeting, invitation=key)
    assert frank["me"]["state"] == "in" and frank["me"]["invited"]
    # a wrong key is no invitation; the bare link is no invitation
    sam = await hall.join("sam", meeting, invitation="not-the-key")
    assert sam["me"]["state"] == "lobby" and not sam["me"]["invited"]
    anon = await hall.join(None, meeting, name="Forwarded To", invitation=key)
    assert anon["me"]["state"] == "lobby"  # anonymous people are never invited


async def test_forwarding_off_ignores_the_invitation_key(hall: Hall) -> None:
    meeting = await hall.schedule(
        invite=("mia",), options={"lobby_bypass": "invited"}, allow_forwarding=False
    )
    await hall.join("olivia", meeting)
    mine = (await hall.call("olivia", "GET", f"/api/v1/meetings/{meeting['id']}")).json()
    key = mine["invitation_url"].rsplit("invitation=", 1)[-1]
    hank = await hall.join("hank", meeting, invitation=key)
    assert hank["me"]["state"] == "lobby" and not hank["me"]["invited"]


# --- lock -----------------------------------------------------------------------------------


async def test_a_locked_meeting_takes_nobody_new(hall: Hall) -> None:
    w = hall.world
    meeting = await hall.schedule(
        invite=("sam",),
        options={"lobby_bypass": "invited", "coorganizers": [str(w.id("sam"))]},
    )
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    hank = await hall.join("hank", meeting)  # waits
    r = await hall.call("olivia", "PATCH", f"/api/v1/meetings/{mid}/options", json={"lock": True})
    assert r.status_code == 200 and r.json()["lock"], r.text
    before = await _participants(hall)
    _problem(await hall.join_raw("mia", meeting), 403)
    _problem(await hall.join_raw(None, meeting, name="Gatecrasher"), 403)
    assert await _participants(hall) == before
    assert (await hall.join("sam", meeting))["me"]["state"] == "in"  # co-organizers may
    assert (await hall.join("hank", meeting))["me"]["state"] == "lobby"  # still waits
    await _admit(hall, "olivia", mid, hank["me"]["id"])
    r = await hall.call("olivia", "PATCH", f"/api/v1/meetings/{mid}/options", json={"lock": False})
    assert r.status_code == 200
    assert (await hall.join("mia", meeting))["me"]["state"] == "lobby"


# --- removal and rejoin ------------------------------------------------------------------------


async def test_removed_people_come_back_through_the_lobby_or_not_at_all(hall: Hall) -> None:
    meeting = await hall.schedule(invite=("mia", "sam"), options={"lobby_bypass": "organization"})
    mid = meeting["id"]
    olivia = await hall.join("olivia", meeting)
    mia = await hall.join("mia", meeting)
    assert mia["me"]["state"] == "in"
    r = await hall.call(
        "olivia", "DELETE", f"/api/v1/meetings/{mid}/participants/{mia['me']['id']}"
    )
    assert r.status_code == 200 and r.json()["state"] == "removed"
    assert (await hall.room("mia", mid))["me"]["state"] == "removed"
    _problem(
        await hall.call("mia", "PATCH", f"/api/v1/meetings/{mid}/me/media", json={"muted": False}),
        403,
    )
    again = await hall.join("mia", meeting)
    assert again["me"]["state"] == "lobby"  # bypass no longer applies to her
    await _admit(hall, "olivia", mid, again["me"]["id"])
    # only the organizer blocks rejoining; nobody removes the organizer
    sam = await hall.join("sam", meeting)
    assert sam["me"]["role"] == "presenter"
    p = _problem(
        await hall.call(
            "sam",
            "DELETE",
            f"/api/v1/meetings/{mid}/participants/{mia['me']['id']}",
            params={"block_rejoin": "true"},
        ),
        403,
    )
    assert "only the organizer" in p["detail"]
    p = _problem(
        await hall.call(
            "sam", "DELETE", f"/api/v1/meetings/{mid}/participants/{olivia['me']['id']}"
        ),
        403,
    )
    assert "organizer cannot be removed" in p["detail"]
    r = await hall.call(
        "olivia",
        "DELETE",
        f"/api/v1/meetings/{mid}/participants/{mia['me']['id']}",
        params={"block_rejoin": "true"},
    )
    assert r.status_code == 200
    p = _problem(await hall.join_raw("mia", meeting), 403)
    assert "blocked" in p["detail"]
    # only the organizer lifts the block; then she comes back through the lobby
    unblock = f"/api/v1/meetings/{mid}/participants/{mia['me']['id']}/unblock"
    _problem(await hall.call("sam", "POST", unblock), 403)
    r = await hall.call("olivia", "POST", unblock)
    assert r.status_code == 200, r.text
    _problem(await hall.call("olivia", "POST", unblock), 404)  # not blocked any more
    assert (await hall.join("mia", meeting))["me"]["state"] == "lobby"
    removed = [d for d, _ in await _events(hall, "meeting.you") if d.get("state") == "removed"]
    assert removed[-1]["rejoin_blocked"] is True


# --- the lobby ----------------------------------------------------------------------------------


async def test_deny_and_admit_all(hall: Hall) -> None:
    meeting = await hall.schedule(options={"lobby_bypass": "organizer"})
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    waiting = [await hall.join(None, meeting, name=f"Guest {i}") for i in range(3)]
    assert all(w["me"]["state"] == "lobby" for w in waiting)
    lobby = (await hall.call("olivia", "GET", f"/api/v1/meetings/{mid}/lobby")).json()
    assert [p["display_name"] for p in lobby] == ["Guest 0", "Guest 1", "Guest 2"]
    r = await hall.call(
        "olivia", "POST", f"/api/v1/meetings/{mid}/lobby/{waiting[0]['me']['id']}/deny"
    )
    assert r.status_code == 200 and r.json()["state"] == "denied"
    # the denied person's credential is finished
    _problem(
        await hall.call(hall.as_participant(waiting[0]), "GET", f"/api/v1/meetings/{mid}/room"), 401
    )
    r = await hall.call("olivia", "POST", f"/api/v1/meetings/{mid}/lobby/admit-all")
    assert r.json() == {"admitted": 2}
    assert (await hall.call("olivia", "GET", f"/api/v1/meetings/{mid}/lobby")).json() == []
    for w in waiting[1:]:
        assert (await hall.room(hall.as_participant(w), mid))["me"]["state"] == "in"
    # admitting someone who is not waiting is a 404
    _problem(
        await hall.call(
            "olivia", "POST", f"/api/v1/meetings/{mid}/lobby/{waiting[1]['me']['id']}/admit"
        ),
        404,
    )


async def test_only_admitters_see_and_hear_about_the_lobby(hall: Hall) -> None:
    await hall.policy("meetings", {"default": {"who_can_admit": "organizers_and_coorganizers"}})
    w = hall.world
    meeting = await hall.schedule(
        invite=("sam", "mia"),
        options={"lobby_bypass": "invited", "coorganizers": [str(w.id("sam"))]},
    )
    mid = meeting["id"]
    for who in ("olivia", "sam", "mia"):
        assert (await hall.join(who, meeting))["me"]["state"] == "in"
    assert (await hall.room("mia", mid))["me"]["role"] == "presenter"
    knock = await hall.join(None, meeting, name="Knocker")
    _problem(await hall.call("mia", "GET", f"/api/v1/meetings/{mid}/lobby"), 403)
    assert (await hall.room("mia", mid))["lobby"] is None
    assert len((await hall.room("sam", mid))["lobby"]) == 1
    # the knocker sees only themselves
    view = await hall.room(hall.as_participant(knock), mid)
    assert view["me"]["state"] == "lobby" and view["participants"] == [] and view["lobby"] is None
    entered = [to for d, to in await _events(hall, "meeting.lobby") if d["change"] == "entered"]
    assert entered == [{str(w.id("olivia")), str(w.id("sam"))}]
    _problem(
        await hall.call(hall.as_participant(knock), "GET", f"/api/v1/meetings/{mid}/participants"),
        403,
    )


# --- bad input and failure --------------------------------------------------------------------


async def test_bad_links_and_over_meetings_are_clear_errors(hall: Hall) -> None:
    _problem(await hall.call("mia", "POST", "/api/v1/meetings/join/no-such-meeting", json={}), 404)
    _problem(
        await hall.call(
            None, "POST", "/api/v1/meetings/join/no-such-meeting", json={"display_name": "x"}
        ),
        404,
    )
    meeting = await hall.schedule(options={"lobby_bypass": "everyone"})
    _problem(await hall.join_raw(None, meeting), 422)  # no display name
    _problem(await hall.join_raw(None, meeting, name="   "), 422)
    r = await hall.call(
        None,
        "POST",
        f"/api/v1/meetings/join/{hall.code(meeting)}",
        json={"display_name": "x", "colour": "red"},
    )
    _problem(r, 422)
    await hall.join("olivia", meeting)
    r = await hall.call("olivia", "POST", f"/api/v1/meetings/{meeting['id']}/end")
    assert r.status_code == 204
    p = _problem(await hall.join_raw("mia", meeting), 409)
    assert "ended" in p["detail"]
    cancelled = await hall.schedule()
    r = await hall.call("olivia", "POST", f"/api/v1/meetings/{cancelled['id']}/cancel")
    assert r.status_code == 200, r.text
    p = _problem(await hall.join_raw(None, cancelled, name="x"), 409)
    assert "cancelled" in p["detail"]


async def test_refusals_change_nothing_and_are_audited(hall: Hall) -> None:
    meeting = await hall.schedule(invite=("mia",), options={"who_can_present": "organizer"})
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    mia = await hall.join("mia", meeting)
    assert mia["me"]["role"] == "attendee"
    async with hall.world.rt.database.transaction(unscoped=True) as db:
        before = await db.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.outcome == "denied")
        )
    _problem(await hall.call("mia", "POST", f"/api/v1/meetings/{mid}/end"), 403)
    _problem(
        await hall.call(
            "mia",
            "PUT",
            f"/api/v1/meetings/{mid}/participants/{mia['me']['id']}/role",
            json={"role": "presenter"},
        ),
        403,
    )
    _problem(
        await hall.call(
            "mia",
            "PUT",
            f"/api/v1/meetings/{mid}/participants/{mia['me']['id']}/role",
            json={"role": "organizer"},
        ),
        422,
    )
    async with hall.world.rt.database.transaction(unscoped=True) as db:
        after = await db.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.outcome == "denied")
        )
    assert after == (before or 0) + 2
    view = await hall.room("olivia", mid)
    assert view["meeting"]["status"] == "scheduled"
    assert {p["role"] for p in view["participants"]} == {"organizer", "attendee"}
    # someone who is not in the meeting is told nothing about it
    _problem(await hall.call("hank", "GET", f"/api/v1/meetings/{mid}/room"), 404)
    _problem(await hall.call("eve", "GET", f"/api/v1/meetings/{mid}/room"), 404)


async def test_a_restart_loses_no_participant_state(hall: Hall) -> None:
    meeting = await hall.schedule(options={"lobby_bypass": "organizer"})
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    anon = await hall.join(None, meeting, name="Persistent")
    r = await hall.call("olivia", "POST", f"/api/v1/meetings/{mid}/me/hand")
    assert r.status_code == 200
    before = await hall.room("olivia", mid)
    # a second server process on the same database (the first one's memory is irrelevant)
    rt2 = build_runtime(hall.world.rt.settings)
    try:
        app = create_app(rt2, check_schema=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get(f"/api/v1/meetings/{mid}/room", headers=await hall.h("olivia"))
            assert r.status_code == 200 and r.json() == before
            r = await c.get(f"/api/v1/meetings/{mid}/room", headers=hall.as_participant(anon))
            assert r.status_code == 200 and r.json()["me"]["state"] == "lobby"
            r = await c.post(
                f"/api/v1/meetings/{mid}/lobby/admit-all", headers=await hall.h("olivia")
            )
            assert r.json() == {"admitted": 1}
    finally:
        await rt2.database.dispose()


# --- inside ---------------------------------------------------------------------------------------


async def test_attendee_mics_and_cameras_follow_options_and_permissions(hall: Hall) -> None:
    meeting = await hall.schedule(
        invite=("mia", "hank"),
        options={
            "who_can_present": "specific_people",
            "presenters": [str(hall.world.id("mia"))],
            "allow_camera_for_attendees": False,
        },
    )
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    hank = (await hall.join("hank", meeting))["me"]
    assert hank["role"] == "attendee" and hank["muted"]
    r = await hall.call("hank", "PATCH", f"/api/v1/meetings/{mid}/me/media", json={"muted": False})
    assert r.status_code == 200 and not r.json()["muted"]
    _problem(
        await hall.call(
            "hank", "PATCH", f"/api/v1/meetings/{mid}/me/media", json={"camera_on": True}
        ),
        403,
    )
    _problem(
        await hall.call(
            "hank", "PATCH", f"/api/v1/meetings/{mid}/me/media", json={"sharing": True}
        ),
        403,
    )
    await hall.join("mia", meeting)
    r = await hall.call(
        "mia",
        "PUT",
        f"/api/v1/meetings/{mid}/participants/{hank['id']}/media-permissions",
        json={"mic": False},
    )
    assert r.status_code == 200 and r.json()["mic_disabled"] and r.json()["muted"]
    _problem(
        await hall.call("hank", "PATCH", f"/api/v1/meetings/{mid}/me/media", json={"muted": False}),
        403,
    )
    r = await hall.call(
        "mia",
        "PUT",
        f"/api/v1/meetings/{mid}/participants/{hank['id']}/media-permissions",
        json={"mic": True},
    )
    assert r.status_code == 200
    r = await hall.call("hank", "PATCH", f"/api/v1/meetings/{mid}/me/media", json={"muted": False})
    assert r.status_code == 200 and not r.json()["muted"]
    # turning attendee mics off mutes them at once
    r = await hall.call(
        "olivia",
        "PATCH",
        f"/api/v1/meetings/{mid}/options",
        json={"allow_mic_for_attendees": False},
    )
    assert r.status_code == 200, r.text
    assert (await hall.room("hank", mid))["me"]["muted"]
    # a demoted presenter stops sharing at once
    r = await hall.call("mia", "PATCH", f"/api/v1/meetings/{mid}/me/media", json={"sharing": True})
    assert r.status_code == 200 and r.json()["sharing"]
    mia_id = r.json()["id"]
    r = await hall.call(
        "olivia",
        "PUT",
        f"/api/v1/meetings/{mid}/participants/{mia_id}/role",
        json={"role": "attendee"},
    )
    assert r.status_code == 200 and not r.json()["sharing"]


async def test_meeting_chat_during_and_after(hall: Hall) -> None:
    meeting = await hall.schedule(invite=("mia",), options={"lobby_bypass": "everyone"})
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    await hall.join("mia", meeting)
    anon = await hall.join(None, meeting, name="Visitor")
    r = await hall.call(
        hall.as_participant(anon),
        "POST",
        f"/api/v1/meetings/{mid}/messages",
        json={"text": "hello **all** <script>x</script>"},
    )
    assert r.status_code == 201, r.text
    assert "<script>" not in r.json()["html"] and "<strong>all</strong>" in r.json()["html"]
    r = await hall.call("mia", "POST", f"/api/v1/meetings/{mid}/messages", json={"text": "hi"})
    assert r.status_code == 201
    _problem(await hall.call("hank", "GET", f"/api/v1/meetings/{mid}/messages"), 404)
    r = await hall.call(
        "olivia", "PATCH", f"/api/v1/meetings/{mid}/options", json={"allow_chat": False}
    )
    assert r.status_code == 200
    _problem(
        await hall.call("mia", "POST", f"/api/v1/meetings/{mid}/messages", json={"text": "x"}), 403
    )
    assert (await hall.call("olivia", "POST", f"/api/v1/meetings/{mid}/end")).status_code == 204
    texts = [
        m["text"]
        for m in (await hall.call("mia", "GET", f"/api/v1/meetings/{mid}/messages")).json()
    ]
    assert texts == ["hello **all** <script>x</script>", "hi"]
    _problem(
        await hall.call(hall.as_participant(anon), "GET", f"/api/v1/meetings/{mid}/messages"), 401
    )
    # the text is sealed at rest
    from overleg.meetings.models import MeetingMessage

    async with hall.world.rt.database.transaction(unscoped=True) as db:
        blobs = (await db.scalars(select(MeetingMessage.body_enc))).all()
    assert blobs and all(b"hello" not in b for b in blobs)


async def test_attendance_report(hall: Hall) -> None:
    meeting = await hall.schedule(invite=("mia",), options={"lobby_bypass": "organization"})
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    mia = await hall.join("mia", meeting)
    assert (await hall.call("mia", "POST", f"/api/v1/meetings/{mid}/leave")).status_code == 204
    await hall.join("mia", meeting)
    anon = await hall.join(None, meeting, name="Walk-in")
    await _admit(hall, "olivia", mid, anon["me"]["id"])
    r = await hall.call("olivia", "GET", f"/api/v1/meetings/{mid}/attendance")
    assert r.status_code == 200, r.text
    rows = {row["display_name"]: row for row in r.json()["participants"]}
    assert set(rows) == {"Olivia", "Mia", "Walk-in"}
    assert [i["entered_by"] for i in rows["Mia"]["intervals"]] == ["bypass", "bypass"]
    assert rows["Mia"]["intervals"][0]["left_at"] is not None
    assert rows["Walk-in"]["intervals"][0]["entered_by"] == "admitted"
    assert rows["Walk-in"]["type"] == "anonymous"
    assert mia["me"]["id"] == rows["Mia"]["participant_id"]
    _problem(await hall.call("mia", "GET", f"/api/v1/meetings/{mid}/attendance"), 403)
    _problem(await hall.call("hank", "GET", f"/api/v1/meetings/{mid}/attendance"), 404)


async def test_a_link_expires_sixty_days_after_the_meeting(hall: Hall) -> None:
    from datetime import datetime, timedelta

    from overleg.kernel import clock

    meeting = await hall.schedule(options={"lobby_bypass": "everyone"})
    end = datetime.fromisoformat(meeting["ends_at"])
    await hall.join("olivia", meeting)
    clock.freeze(end + timedelta(days=59))  # (anonymous: sessions would have expired)
    assert (await hall.join(None, meeting, name="Early"))["me"]["state"] == "in"
    clock.freeze(end + timedelta(days=61))
    p = _problem(await hall.join_raw(None, meeting, name="Late"), 409)
    assert "expired" in p["detail"]
