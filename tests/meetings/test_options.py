"""Meeting options over HTTP: who may change them and when, the checks, the record."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from overleg.meetings.models import Meeting, MeetingParticipant
from tests.api.conftest import audit, problem
from tests.meetings.test_scheduling import Json, Planner, at, client, planner

__all__ = ["client", "planner"]  # fixtures shared with test_scheduling


def url(m: Json) -> str:
    return f"/api/v1/meetings/{m['id']}/options"


async def options(planner: Planner, who: str, m: Json) -> Json:
    r = await planner.call(who, "GET", url(m))
    assert r.status_code == 200, r.text
    found: Json = r.json()
    return found


async def patch(planner: Planner, who: str, m: Json, **body: Any) -> Any:
    return await planner.call(who, "PATCH", url(m), json=body)


async def test_the_organizer_sets_options_before_the_meeting(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia", "sam", "gus"))
    r = await patch(
        planner,
        "olivia",
        m,
        lobby_bypass="invited",
        dial_in_bypass=True,
        who_can_present="specific_people",
        presenters=[str(w.id("gus")), str(w.id("mia")), str(w.id("gus"))],
        coorganizers=[str(w.id("sam"))],
        allow_camera_for_attendees=False,
        lock=True,
    )
    assert r.status_code == 200, r.text
    expected = {
        "lobby_bypass": "invited",
        "dial_in_bypass": True,
        "who_can_present": "specific_people",
        "presenters": [str(w.id("gus")), str(w.id("mia"))],
        "coorganizers": [str(w.id("sam"))],
        "allow_mic_for_attendees": True,
        "allow_camera_for_attendees": False,
        "allow_chat": True,
        "lock": True,
        "who_can_record": "organizers_and_presenters",
    }
    assert r.json() == expected
    # everyone who sees the meeting reads them; sam now co-organizes
    for who in ("mia", "sam", "gus"):
        assert await options(planner, who, m) == expected
    assert (await planner.get("sam", m["id"])).json()["my_role"] == "coorganizer"
    problem(await planner.call("hank", "GET", url(m)), 404, "not-found")
    (rec,) = await audit(planner.rt, "meeting.options", target_id=m["id"])
    assert rec.actor_id == w.id("olivia") and rec.outcome == "success"
    assert rec.details["before"]["lobby_bypass"] == "organization"
    assert rec.details["after"] == expected
    assert rec.details["changed"] == sorted(
        [
            "lobby_bypass",
            "dial_in_bypass",
            "who_can_present",
            "presenters",
            "coorganizers",
            "allow_camera_for_attendees",
            "lock",
        ]
    )
    # options are not calendar data: the sequence stays
    async with planner.rt.database.session(unscoped=True, readonly=True) as db:
        row = await db.get(Meeting, uuid.UUID(m["id"]))
        assert row is not None and row.sequence == 0


async def test_co_organizers_change_options_once_the_meeting_has_started(
    planner: Planner,
) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia", "sam", "hank"))
    r = await patch(planner, "olivia", m, coorganizers=[str(w.id("sam"))])
    assert r.status_code == 200, r.text
    before = await options(planner, "olivia", m)
    r = await patch(planner, "sam", m, lock=True)
    detail = problem(r, 403, "forbidden")["detail"]
    assert "co-organizers can change options once the meeting has started" in detail
    assert await options(planner, "olivia", m) == before
    await planner.set_started(m["id"])
    r = await patch(planner, "sam", m, lock=True, allow_mic_for_attendees=False)
    assert r.status_code == 200, r.text
    assert r.json()["lock"] is True and r.json()["allow_mic_for_attendees"] is False
    # ... but the list of co-organizers stays the organizer's (sending it unchanged is fine)
    r = await patch(planner, "sam", m, coorganizers=[str(w.id("sam")), str(w.id("hank"))])
    assert "only the organizer changes the co-organizers" in problem(r, 403)["detail"]
    r = await patch(planner, "sam", m, coorganizers=[str(w.id("sam"))], lock=False)
    assert r.status_code == 200, r.text
    # the organizer can take sam off; then sam is refused like any attendee
    r = await patch(planner, "olivia", m, coorganizers=[])
    assert r.status_code == 200, r.text
    problem(await patch(planner, "sam", m, lock=True), 403, "forbidden")
    denied = await audit(planner.rt, "meeting.options", outcome="denied")
    assert [d.actor_id for d in denied] == [w.id("sam")] * 3
    assert [d.details["reason"] for d in denied] == [
        "co-organizers can change options once the meeting has started",
        "only the organizer changes the co-organizers",
        "only the organizer and co-organizers do this",
    ]
    done = await audit(planner.rt, "meeting.options", outcome="success")
    assert [d.actor_id for d in done] == [w.id(x) for x in ("olivia", "sam", "sam", "olivia")]


async def test_others_may_not_change_options(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia",))
    before = await options(planner, "olivia", m)
    problem(await patch(planner, "mia", m, lock=True), 403, "forbidden")
    for who in ("hank", "eve"):
        problem(await patch(planner, who, m, lock=True), 404, "not-found")
    assert await options(planner, "olivia", m) == before
    denied = await audit(planner.rt, "meeting.options", outcome="denied")
    assert [d.actor_id for d in denied] == [w.id("mia"), w.id("hank"), w.id("eve")]
    assert await audit(planner.rt, "meeting.options", outcome="success") == []


async def test_bad_options_are_refused_and_change_nothing(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia", "sam", "gus"), emails=("ext@example.org",))
    r = await planner.call(
        "olivia",
        "PUT",
        "/api/admin/policies/meetings",
        json={"default": {"allow_meeting_chat": False}},
    )
    assert r.status_code == 200, r.text
    before = await options(planner, "olivia", m)
    many = [str(uuid.uuid4()) for _ in range(11)]
    cases: list[tuple[Json, str]] = [
        ({}, "Nothing to change"),
        ({"lobby_bypass": "nobody"}, "lobby_bypass"),
        ({"who_can_present": "managers"}, "who_can_present"),
        ({"lock": "sometimes"}, "lock"),
        ({"volume": 11}, "volume"),
        ({"coorganizers": many}, "coorganizers"),
        ({"coorganizers": [str(w.id("gus"))]}, "guest"),
        ({"coorganizers": [str(w.id("olivia"))]}, "organizer"),
        ({"coorganizers": [str(w.id("hank"))]}, "not an invitee"),
        ({"coorganizers": [str(w.id("eve"))]}, "not an invitee"),
        ({"presenters": [str(w.id("hank"))]}, "presenters"),
        ({"allow_chat": True}, "allow_meeting_chat"),
        # all or nothing: a good field next to a bad one is not applied either
        ({"lock": True, "coorganizers": [str(w.id("gus"))]}, "coorganizers"),
    ]
    for body, named in cases:
        r = await planner.call("olivia", "PATCH", url(m), json=body)
        p = problem(r, 422, "validation-failed")
        assert named in p["detail"] or named in r.text, (body, p)
    assert await options(planner, "olivia", m) == before
    assert await audit(planner.rt, "meeting.options") == []
    # turning chat off is always allowed
    r = await planner.call("olivia", "PATCH", url(m), json={"allow_chat": False})
    assert r.status_code == 200 and r.json()["allow_chat"] is False


async def test_options_of_an_ended_meeting_do_not_change(planner: Planner) -> None:
    m = await planner.schedule(invite=("mia",))
    async with planner.rt.database.session(unscoped=True) as db, db.begin():
        row = await db.get(Meeting, uuid.UUID(m["id"]))
        assert row is not None
        row.status = "ended"  # as room.end_for_all leaves it (tested with the room)
    problem(await patch(planner, "olivia", m, lock=True), 409, "conflict")
    assert (await options(planner, "mia", m))["lock"] is False


async def test_a_new_co_organizer_in_the_meeting_gets_the_role(planner: Planner) -> None:
    """Needs the room (room.join, room.after_options_change)."""
    w = planner.world
    m = await planner.schedule(invite=("mia", "sam"), start=at(0))
    await planner.join("mia", m)
    r = await patch(planner, "olivia", m, coorganizers=[str(w.id("mia"))])
    assert r.status_code == 200, r.text
    async with planner.rt.database.session(unscoped=True, readonly=True) as db:
        role = await db.scalar(
            select(MeetingParticipant.role).where(MeetingParticipant.user_id == w.id("mia"))
        )
    assert role == "coorganizer"
