"""Scheduling meetings over HTTP: create, list, read, update, cancel; who sees what of a
meeting; bad input and refusals (problem+json, nothing stored, audited).

``Planner`` and the ``client`` fixture here are shared with the other scheduling test
modules (options, policy, calendar) of this directory.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from overleg.api.v1 import meetings as meetings_api
from overleg.identity import service as identity
from overleg.kernel import clock
from overleg.kernel.clock import now
from overleg.kernel.events.models import OutboxEvent
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.meetings import room
from overleg.meetings.models import Meeting, MeetingInvitee, MeetingParticipant
from overleg.meetings.schemas import JoinRequest
from tests.api.conftest import audit, count_rows, problem
from tests.fixtures.world import World

Json = dict[str, Any]


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app, with the scheduling routers included if main.py does not include them
    (yet): these tests must not depend on the order in which the routers are wired."""
    app = create_app(rt, check_schema=False)
    paths = {ctx.path for ctx in iter_route_contexts(app.routes)}
    if "/api/v1/meetings/{meeting_id}/options" not in paths:
        app.include_router(meetings_api.router)
    if "/api/v1/channels/{channel_id}/meetings" not in paths:
        app.include_router(meetings_api.channel_router)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def at(hours: float) -> datetime:
    """A moment ``hours`` from now, on the minute (UTC)."""
    return (now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


@dataclass
class Planner:
    world: World
    client: httpx.AsyncClient
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def rt(self) -> Runtime:
        return self.world.rt

    async def h(self, who: str) -> dict[str, str]:
        if who not in self._headers:
            self._headers[who] = await self.world.session_headers(who)
        return self._headers[who]

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=await self.h(who), **kw)

    def body(
        self,
        *,
        invite: tuple[str, ...] = (),
        emails: tuple[str, ...] = (),
        start: datetime | None = None,
        hours: float = 1,
        **extra: Any,
    ) -> Json:
        starts = start or at(24)
        return {
            "subject": "Quarterly review",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=hours)).isoformat(),
            "invitees": [{"user_id": str(self.world.id(w))} for w in invite]
            + [{"email": e} for e in emails],
            **extra,
        }

    async def schedule(self, organizer: str = "olivia", **kw: Any) -> Json:
        r = await self.call(organizer, "POST", "/api/v1/meetings", json=self.body(**kw))
        assert r.status_code == 201, r.text
        meeting: Json = r.json()
        return meeting

    async def get(self, who: str, meeting_id: str) -> httpx.Response:
        return await self.call(who, "GET", f"/api/v1/meetings/{meeting_id}")

    async def mine(self, who: str, **params: Any) -> list[Json]:
        r = await self.call(who, "GET", "/api/v1/meetings", params=params)
        assert r.status_code == 200, r.text
        found: list[Json] = r.json()
        return found

    async def set_started(self, meeting_id: str) -> None:
        """Mark the meeting started directly in the database: only a verified person
        joining starts it (room.py, tested there); the rules here only need the fact."""
        async with self.rt.database.session(unscoped=True) as db, db.begin():
            m = await db.get(Meeting, uuid.UUID(meeting_id))
            assert m is not None
            m.started_at = now()

    async def join(self, who: str, meeting: Json) -> None:
        """``who`` joins through the link (the room's service; tested with the room)."""
        principal = self.world.principal(who)
        code = str(meeting["join_url"]).rsplit("/", 1)[-1]
        async with self.rt.database.transaction(tenant_id=principal.tenant_id) as db:
            await room.join(principal, db, code, JoinRequest())


@pytest.fixture
def planner(world: World, client: httpx.AsyncClient) -> Planner:
    return Planner(world, client)


async def events_to(rt: Runtime, user_id: uuid.UUID, type: str = "meeting.updated") -> list[Json]:
    """Payloads of the events of ``type`` addressed to ``user_id`` (oldest first)."""
    async with rt.database.session(unscoped=True, readonly=True) as db:
        rows = await db.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.type == type, OutboxEvent.recipients.contains(f" {user_id.hex} "))
            .order_by(OutboxEvent.seq)
        )
        return [json.loads(e.data) for e in rows]


# --- create, read --------------------------------------------------------------------------


async def test_a_scheduled_meeting_and_who_sees_it(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(
        invite=("mia", "mia"),
        emails=(
            "SAM@Contoso.example",
            "Ext@Example.org",
            "ext@example.org",
            "olivia@contoso.example",
        ),
    )
    assert m["kind"] == "scheduled" and m["status"] == "scheduled" and not m["started"]
    assert m["organizer"] == {"id": str(w.id("olivia")), "display_name": "Olivia"}
    assert m["my_role"] == "organizer"
    # repeats collapse; an address of an account here is that account; the organizer is
    # not her own invitee; other addresses are kept lower case
    got = {(i["user_id"], i["email"]) for i in m["invitees"]}
    assert got == {
        (str(w.id("mia")), "mia@contoso.example"),
        (str(w.id("sam")), "sam@contoso.example"),
        (None, "ext@example.org"),
    }
    base = planner.rt.settings.public_base_url
    assert m["join_url"].startswith(f"{base}/meet/") and len(m["join_url"].rsplit("/")[-1]) >= 43
    assert m["invitation_url"].startswith(m["join_url"] + "?invitation=")
    assert m["dial_in"]["conference_id"].isdigit() and len(m["dial_in"]["conference_id"]) == 9
    assert m["dial_in"]["pin"].isdigit() and len(m["dial_in"]["pin"]) == 6
    # policy defaults (nothing set): organization bypasses, everyone presents
    assert m["options"]["lobby_bypass"] == "organization"
    assert m["options"]["who_can_present"] == "everyone"
    assert m["options"]["dial_in_bypass"] is False
    # the invitees see it, with the invitation (forwarding is allowed) and the dial-in
    for who in ("mia", "sam"):
        r = await planner.get(who, m["id"])
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["my_role"] is None
        assert seen["invitation_url"] == m["invitation_url"]
        assert seen["dial_in"] == m["dial_in"]
    # nobody else does, not even another organisation's admin: 404, audited
    for who in ("hank", "gus", "eve"):
        problem(await planner.get(who, m["id"]), 404, "not-found")
    denied = await audit(planner.rt, "meeting.read", outcome="denied", target_id=m["id"])
    assert {d.actor_id for d in denied} == {w.id("hank"), w.id("gus"), w.id("eve")}
    created = await audit(planner.rt, "meeting.create", target_id=m["id"])
    assert len(created) == 1 and created[0].actor_id == w.id("olivia")
    assert created[0].details["invitees"] == [
        str(w.id("mia")),
        str(w.id("sam")),
        "ext@example.org",
    ]
    # invitees with an account hear of it
    for who in ("mia", "sam"):
        events = await events_to(planner.rt, w.id(who))
        assert {"meeting_id": m["id"], "change": "invited"}.items() <= events[-1].items()
    assert await events_to(planner.rt, w.id("hank")) == []


async def test_an_invitation_by_address_reaches_the_account_that_has_it_later(
    planner: Planner,
) -> None:
    w = planner.world
    olivia = w.principal("olivia")
    async with planner.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        await identity.disable_user(olivia, db, w.id("hank"))
    # hank's account is disabled: his address is kept as an address
    m = await planner.schedule(emails=("hank@contoso.example",))
    assert [(i["user_id"], i["email"]) for i in m["invitees"]] == [(None, "hank@contoso.example")]
    async with planner.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        await identity.enable_user(olivia, db, w.id("hank"))
    r = await planner.get("hank", m["id"])
    assert r.status_code == 200, r.text
    assert r.json()["invitation_url"] == m["invitation_url"]
    assert [x["id"] for x in await planner.mine("hank")] == [m["id"]]


async def test_guests_do_not_schedule(planner: Planner) -> None:
    r = await planner.call("gus", "POST", "/api/v1/meetings", json=planner.body(invite=("mia",)))
    problem(r, 403, "forbidden")
    r = await planner.call("gus", "POST", "/api/v1/meetings/now", json={})
    problem(r, 403, "forbidden")
    denied = await audit(planner.rt, "meeting.create", outcome="denied")
    assert [d.actor_id for d in denied] == [planner.world.id("gus")] * 2
    assert await count_rows(planner.rt, Meeting) == 0


async def test_bad_input_is_refused_and_stores_nothing(planner: Planner) -> None:
    w = planner.world
    start = at(24)
    naive = start.replace(tzinfo=None)
    outsider = str(uuid.uuid4())
    cases: list[tuple[Json, str]] = [
        ({"ends_at": (start - timedelta(minutes=1)).isoformat()}, "ends_at"),
        ({"ends_at": start.isoformat()}, "ends_at"),
        ({"ends_at": (start + timedelta(days=7, minutes=1)).isoformat()}, "ends_at"),
        ({"starts_at": naive.isoformat()}, "starts_at"),
        ({"ends_at": (naive + timedelta(hours=1)).isoformat()}, "ends_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"subject": ""}, "subject"),
        ({"invitees": [{"user_id": outsider}]}, outsider),
        ({"invitees": [{"user_id": str(w.id("eve"))}]}, str(w.id("eve"))),
        ({"invitees": [{"email": "not-an-address"}]}, "invitees.0.email"),
        ({"invitees": [{"user_id": str(w.id("mia")), "email": "mia@contoso.example"}]}, "invitees"),
        ({"colour": "blue"}, "colour"),
        ({"options": {"lobby_bypass": "nobody"}}, "options.lobby_bypass"),
        ({"options": {"who_can_present": "managers"}}, "options.who_can_present"),
        ({"options": {"volume": 11}}, "options.volume"),
        ({"options": {"coorganizers": [str(uuid.uuid4()) for _ in range(11)]}}, "coorganizers"),
        ({"options": {"coorganizers": [str(w.id("hank"))]}}, "coorganizers"),
    ]
    url = "/api/v1/meetings"
    for change, named in cases:
        body = {**planner.body(invite=("mia",), start=start), **change}
        r = await planner.call("olivia", "POST", url, json=body)
        p = problem(r, 422, "validation-failed")
        assert named in r.text, (change, p)
    assert await count_rows(planner.rt, Meeting) == 0
    assert await count_rows(planner.rt, MeetingInvitee) == 0
    assert await audit(planner.rt, "meeting.create") == []


# --- channel meetings ----------------------------------------------------------------------


async def _team_with_channel(planner: Planner) -> tuple[str, str]:
    """A private team "Sales" of olivia with mia and the guest gus; its General channel."""
    r = await planner.call("olivia", "POST", "/api/v1/teams", json={"name": "Sales"})
    assert r.status_code == 201, r.text
    team = r.json()
    for who in ("mia", "gus"):
        r = await planner.call(
            "olivia",
            "POST",
            f"/api/v1/teams/{team['id']}/members",
            json={"user_id": str(planner.world.id(who))},
        )
        assert r.status_code == 201, r.text
    return team["id"], team["general_channel_id"]


async def test_a_channel_meeting_invites_the_channel(planner: Planner) -> None:
    w = planner.world
    team_id, channel = await _team_with_channel(planner)
    body = planner.body()
    del body["invitees"]
    body["options"] = {"coorganizers": [str(w.id("mia"))]}
    r = await planner.call("olivia", "POST", f"/api/v1/channels/{channel}/meetings", json=body)
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["kind"] == "channel" and m["channel_id"] == channel
    assert m["options"]["coorganizers"] == [str(w.id("mia"))]
    # channel members see it, with the invitation and dial-in; mia co-organizes it
    for who, role in (("mia", "coorganizer"), ("gus", None)):
        r = await planner.get(who, m["id"])
        assert r.status_code == 200, r.text
        assert r.json()["my_role"] == role
        assert r.json()["invitation_url"] == m["invitation_url"]
        assert r.json()["dial_in"] == m["dial_in"]
        assert m["id"] in [x["id"] for x in await planner.mine(who)]
        assert [e["change"] for e in await events_to(planner.rt, w.id(who))] == ["invited"]
    problem(await planner.get("hank", m["id"]), 404, "not-found")
    assert await planner.mine("hank") == []
    # a guest of the team may not organize one; someone outside the team finds no channel
    r = await planner.call("gus", "POST", f"/api/v1/channels/{channel}/meetings", json=body)
    problem(r, 403, "forbidden")
    r = await planner.call("hank", "POST", f"/api/v1/channels/{channel}/meetings", json=body)
    problem(r, 404, "not-found")
    # a guest member of the channel cannot co-organize
    body["options"] = {"coorganizers": [str(w.id("gus"))]}
    r = await planner.call("olivia", "POST", f"/api/v1/channels/{channel}/meetings", json=body)
    assert "guest" in problem(r, 422)["detail"]
    # someone who leaves the team is no longer invited
    r = await planner.call("olivia", "DELETE", f"/api/v1/teams/{team_id}/members/{w.id('gus')}")
    assert r.status_code == 204, r.text
    problem(await planner.get("gus", m["id"]), 404, "not-found")
    assert await count_rows(planner.rt, Meeting) == 1


# --- list ----------------------------------------------------------------------------------


async def test_my_meetings_in_a_window(planner: Planner) -> None:
    early = await planner.schedule(invite=("mia",), start=at(2))
    late = await planner.schedule("sam", invite=("mia",), start=at(48))
    by_mail = await planner.schedule("hank", emails=("mia@contoso.example",), start=at(26))
    other = await planner.schedule("sam", invite=("hank",), start=at(3))
    ids = [m["id"] for m in await planner.mine("mia")]
    assert ids == [early["id"], by_mail["id"], late["id"]]
    assert [m["id"] for m in await planner.mine("sam")] == [other["id"], late["id"]]
    # overlapping [start, end): the early one ends at +3h
    window = await planner.mine("mia", start=at(3).isoformat(), end=at(48).isoformat())
    assert [m["id"] for m in window] == [by_mail["id"]]
    window = await planner.mine("mia", start=at(2.5).isoformat())
    assert [m["id"] for m in window] == [early["id"], by_mail["id"], late["id"]]
    # co-organizing a meeting lists it too (co-organizers are invitees)
    r = await planner.call(
        "olivia",
        "PATCH",
        f"/api/v1/meetings/{early['id']}/options",
        json={"coorganizers": [str(planner.world.id("mia"))]},
    )
    assert r.status_code == 200, r.text
    assert [m["my_role"] for m in await planner.mine("mia", end=at(4).isoformat())] == [
        "coorganizer"
    ]
    # bad windows
    naive = at(1).replace(tzinfo=None).isoformat()
    r = await planner.call("mia", "GET", "/api/v1/meetings", params={"start": naive})
    assert "start" in problem(r, 422)["detail"]
    r = await planner.call(
        "mia",
        "GET",
        "/api/v1/meetings",
        params={"start": at(5).isoformat(), "end": at(4).isoformat()},
    )
    assert "end" in problem(r, 422)["detail"]
    # eve sees nothing of contoso
    assert await planner.mine("eve") == []


# --- update --------------------------------------------------------------------------------


async def test_the_organizer_reschedules_and_reinvites(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia", "sam"), emails=("ext@example.org",))
    r = await planner.call(
        "olivia",
        "PATCH",
        f"/api/v1/meetings/{m['id']}/options",
        json={"coorganizers": [str(w.id("mia"))], "presenters": [str(w.id("mia"))]},
    )
    assert r.status_code == 200, r.text
    new_start = at(30).astimezone(UTC)
    r = await planner.call(
        "olivia",
        "PATCH",
        f"/api/v1/meetings/{m['id']}",
        json={
            "subject": "Quarterly review (moved)",
            "starts_at": new_start.isoformat(),
            "ends_at": (new_start + timedelta(minutes=90)).isoformat(),
            "allow_forwarding": False,
            "add_invitees": [{"user_id": str(w.id("hank"))}, {"email": "sam@contoso.example"}],
            "remove_invitees": [{"email": "MIA@contoso.example"}, {"email": "ext@example.org"}],
        },
    )
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["subject"] == "Quarterly review (moved)" and u["allow_forwarding"] is False
    assert datetime.fromisoformat(u["starts_at"]) == new_start
    assert datetime.fromisoformat(u["ends_at"]) == new_start + timedelta(minutes=90)
    assert {i["user_id"] for i in u["invitees"]} == {str(w.id("sam")), str(w.id("hank"))}
    # mia was uninvited: she no longer co-organizes, presents or sees the meeting
    assert u["options"]["coorganizers"] == [] and u["options"]["presenters"] == []
    problem(await planner.get("mia", m["id"]), 404, "not-found")
    # the organizer keeps the invitation link; invitees lose it with forwarding off
    assert u["invitation_url"] == m["invitation_url"]
    r = await planner.get("hank", m["id"])
    assert r.status_code == 200 and r.json()["invitation_url"] is None
    assert r.json()["dial_in"] == m["dial_in"]
    # on record, with what changed; the calendar sequence went up
    (rec,) = await audit(planner.rt, "meeting.update", target_id=m["id"])
    assert rec.actor_id == w.id("olivia") and rec.details["sequence"] == 1
    changed = rec.details["changed"]
    assert set(changed) >= {"subject", "starts_at", "ends_at", "allow_forwarding", "options"}
    assert changed["subject"] == {"before": "Quarterly review", "after": "Quarterly review (moved)"}
    assert sorted(changed["uninvited"]["after"]) == sorted([str(w.id("mia")), "ext@example.org"])
    assert changed["invited"]["after"] == [str(w.id("hank"))]
    # who heard what
    assert (await events_to(planner.rt, w.id("mia")))[-1]["change"] == "uninvited"
    assert (await events_to(planner.rt, w.id("sam")))[-1]["change"] == "updated"
    assert (await events_to(planner.rt, w.id("hank")))[-1]["change"] == "updated"


async def test_bad_updates_change_nothing(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia",))
    url = f"/api/v1/meetings/{m['id']}"
    start = datetime.fromisoformat(m["starts_at"])
    cases: list[tuple[Json, int, str]] = [
        ({}, 422, "Nothing to change"),
        ({"ends_at": (start - timedelta(hours=1)).isoformat()}, 422, "ends_at"),
        ({"starts_at": (start + timedelta(hours=2)).isoformat()}, 422, "starts_at"),
        ({"ends_at": (start + timedelta(days=8)).isoformat()}, 422, "7 days"),
        ({"starts_at": start.replace(tzinfo=None).isoformat()}, 422, "starts_at"),
        ({"remove_invitees": [{"user_id": str(w.id("hank"))}]}, 422, "not invited"),
        ({"add_invitees": [{"user_id": str(w.id("frank"))}]}, 422, str(w.id("frank"))),
        (
            {
                "add_invitees": [{"user_id": str(w.id("mia"))}],
                "remove_invitees": [{"user_id": str(w.id("mia"))}],
            },
            422,
            "both added and removed",
        ),
        ({"subject": "x", "organizer_id": str(w.id("mia"))}, 422, "organizer_id"),
    ]
    for body, status, named in cases:
        r = await planner.call("olivia", "PATCH", url, json=body)
        assert named in problem(r, status)["detail"] or named in r.text, (body, r.text)
    r = await planner.get("olivia", m["id"])
    assert r.json() == m
    assert await audit(planner.rt, "meeting.update") == []


async def test_only_the_organizer_updates(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia",))
    url = f"/api/v1/meetings/{m['id']}"
    r = await planner.call("mia", "PATCH", url, json={"subject": "Mine now"})
    assert "only the organizer" in problem(r, 403, "forbidden")["detail"]
    for who in ("hank", "eve"):
        problem(await planner.call(who, "PATCH", url, json={"subject": "Mine"}), 404, "not-found")
        r = await planner.call(who, "POST", f"{url}/cancel")
        problem(r, 404, "not-found")
    problem(await planner.call("mia", "POST", f"{url}/cancel"), 403, "forbidden")
    assert (await planner.get("olivia", m["id"])).json()["subject"] == "Quarterly review"
    denied = await audit(planner.rt, outcome="denied", target_id=m["id"])
    assert sorted((d.action, d.actor_label) for d in denied) == sorted(
        [
            ("meeting.update", "mia@contoso.example"),
            ("meeting.update", "hank@contoso.example"),
            ("meeting.update", "eve@fabrikam.example"),
            ("meeting.cancel", "hank@contoso.example"),
            ("meeting.cancel", "eve@fabrikam.example"),
            ("meeting.cancel", "mia@contoso.example"),
        ]
    )
    assert {d.actor_id for d in denied} == {w.id("mia"), w.id("hank"), w.id("eve")}


# --- cancel --------------------------------------------------------------------------------


async def test_cancel_once(planner: Planner) -> None:
    w = planner.world
    m = await planner.schedule(invite=("mia",))
    url = f"/api/v1/meetings/{m['id']}"
    r = await planner.call("olivia", "POST", f"{url}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    problem(await planner.call("olivia", "POST", f"{url}/cancel"), 409, "conflict")
    problem(await planner.call("olivia", "PATCH", url, json={"subject": "Back"}), 409, "conflict")
    r = await planner.call("olivia", "PATCH", f"{url}/options", json={"lock": True})
    problem(r, 409, "conflict")
    # the invitee still sees it, as cancelled; lists leave it out unless asked
    assert (await planner.get("mia", m["id"])).json()["status"] == "cancelled"
    assert await planner.mine("mia") == []
    assert [x["id"] for x in await planner.mine("mia", include_cancelled=True)] == [m["id"]]
    (rec,) = await audit(planner.rt, "meeting.cancel", target_id=m["id"])
    assert rec.outcome == "success" and rec.details["sequence"] == 1
    assert (await events_to(planner.rt, w.id("mia")))[-1]["change"] == "cancelled"
    async with planner.rt.database.session(unscoped=True, readonly=True) as db:
        row = await db.get(Meeting, uuid.UUID(m["id"]))
        assert row is not None and row.ended_at is not None and row.sequence == 1
        assert row.ended_by == "olivia@contoso.example"


async def test_cancel_ends_the_meeting_for_those_in_it(planner: Planner) -> None:
    """Needs the room (room.join, room.end_for_all)."""
    m = await planner.schedule(invite=("mia",), start=at(0))
    await planner.join("mia", m)
    r = await planner.call("olivia", "POST", f"/api/v1/meetings/{m['id']}/cancel")
    assert r.status_code == 200, r.text
    async with planner.rt.database.session(unscoped=True, readonly=True) as db:
        states = (
            await db.scalars(
                select(MeetingParticipant.state).where(
                    MeetingParticipant.meeting_id == uuid.UUID(m["id"])
                )
            )
        ).all()
    assert states == ["left"]
    assert r.json()["status"] == "cancelled"


# --- meet now, and what participants see ---------------------------------------------------


async def test_meet_now(planner: Planner) -> None:
    """Needs the room (room.join)."""
    body = {"invitees": [{"user_id": str(planner.world.id("sam"))}]}
    await planner.h("mia")
    t = now().replace(microsecond=0)
    clock.freeze(t)  # "now" exactly (the root conftest unfreezes after the test)
    r = await planner.call("mia", "POST", "/api/v1/meetings/now", json=body)
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["kind"] == "instant" and m["subject"] == "Meet now" and m["started"] is True
    assert datetime.fromisoformat(m["starts_at"]) == t
    assert datetime.fromisoformat(m["ends_at"]) == t + timedelta(hours=1)
    async with planner.rt.database.session(unscoped=True, readonly=True) as db:
        rows = (await db.scalars(select(MeetingParticipant))).all()
    assert [(p.user_id, p.role, p.state) for p in rows] == [
        (planner.world.id("mia"), "organizer", "in")
    ]
    r = await planner.call("mia", "POST", "/api/v1/meetings/now", json={"subject": ""})
    problem(r, 422, "validation-failed")
    assert await count_rows(planner.rt, Meeting) == 1


async def test_a_past_participant_sees_only_the_join_link(planner: Planner) -> None:
    """Needs the room (room.join): hank, not invited, came in through the bare link."""
    m = await planner.schedule(invite=("mia",), start=at(0))
    await planner.join("hank", m)
    r = await planner.get("hank", m["id"])
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["join_url"] == m["join_url"]
    assert seen["invitation_url"] is None and seen["dial_in"] is None and seen["my_role"] is None
