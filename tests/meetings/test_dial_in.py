"""Dial-in: gateway credentials (admin), and phone callers put into meetings by a gateway
with the conference id and PIN they typed: the lobby by ``dial_in_bypass``, PIN guessing
throttled, one answer for a wrong conference id and a wrong PIN, the number masked."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from overleg.api.admin import dial_in as admin_dial_in
from overleg.api.v1 import dial_in as v1_dial_in
from overleg.audit.models import AuditRecord
from overleg.kernel import clock
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.meetings import scheduling
from overleg.meetings.dial_in import WRONG
from overleg.meetings.models import DialInGateway, Meeting, MeetingAttendance, MeetingParticipant
from overleg.meetings.schemas import MeetingCreate, MeetingOptionsUpdate
from overleg.security.authn.tokens import hash_token
from overleg.security.models import SignInThrottle
from tests.fixtures.world import World

CALLS = "/api/v1/dial-in/calls"
GATEWAYS = "/api/admin/dial-in/gateways"
NUMBER = "+31 20 123 4578"
DIGITS = "31201234578"  # the caller's number as the digits anyone could search for
MASKED = "+3120•••••78"


@pytest.fixture
async def http(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt, check_schema=False)
    known = {ctx.path for ctx in iter_route_contexts(app.routes)}
    # main.py includes these routers once they are listed there; until then, here
    if CALLS not in known:
        app.include_router(v1_dial_in.router)
    if GATEWAYS not in known:
        app.include_router(admin_dial_in.router)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Conference:
    id: str  # the meeting's id
    join_code: str
    conference_id: str
    pin: str


@dataclass
class Desk:
    """Sessions of the cast, gateways, and meetings made through the scheduling service."""

    world: World
    http: httpx.AsyncClient
    headers: dict[str, dict[str, str]]

    async def h(self, who: str) -> dict[str, str]:
        if who not in self.headers:
            self.headers[who] = await self.world.session_headers(who)
        return self.headers[who]

    async def gateway(self, admin: str = "olivia", name: str = "PSTN bridge") -> str:
        r = await self.http.post(GATEWAYS, json={"name": name}, headers=await self.h(admin))
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token

    async def schedule(self, *, dial_in_bypass: bool, organizer: str = "mia") -> Conference:
        p = self.world.principal(organizer)
        start = clock.now() + timedelta(hours=1)
        data = MeetingCreate(
            subject="Intake",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            options=MeetingOptionsUpdate(dial_in_bypass=dial_in_bypass),
        )
        async with self.world.rt.database.transaction(tenant_id=p.tenant_id) as db:
            m = await scheduling.create_meeting(p, db, data)
        assert m.dial_in is not None and m.options.dial_in_bypass is dial_in_bypass
        code = m.join_url.rsplit("/", 1)[-1]
        return Conference(str(m.id), code, m.dial_in.conference_id, m.dial_in.pin)

    async def call(
        self, token: str, conference_id: str, pin: str, number: str = NUMBER
    ) -> httpx.Response:
        body = {"conference_id": conference_id, "pin": pin, "caller_number": number}
        return await self.http.post(CALLS, json=body, headers=bearer(token))

    async def join(self, who: str, c: Conference) -> dict[str, Any]:
        r = await self.http.post(
            f"/api/v1/meetings/join/{c.join_code}", json={}, headers=await self.h(who)
        )
        assert r.status_code == 200, r.text
        joined: dict[str, Any] = r.json()
        return joined


@pytest.fixture
async def desk(world: World, http: httpx.AsyncClient) -> Desk:
    return Desk(world, http, {})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wrong_pin(pin: str) -> str:
    """``pin`` with its first digit changed."""
    return str((int(pin[0]) + 1) % 10) + pin[1:]


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/" + slug), body
    return body


async def audit(rt: Runtime, action: str) -> list[AuditRecord]:
    async with rt.database.session(unscoped=True, readonly=True) as db:
        rows = await db.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
        )
        return list(rows)


async def callers(rt: Runtime) -> list[MeetingParticipant]:
    async with rt.database.session(unscoped=True, readonly=True) as db:
        rows = await db.scalars(
            select(MeetingParticipant).where(MeetingParticipant.type == "dial_in")
        )
        return list(rows)


async def participant(rt: Runtime, pid: str) -> MeetingParticipant:
    async with rt.database.session(unscoped=True, readonly=True) as db:
        p = await db.get(MeetingParticipant, uuid.UUID(pid))
    assert p is not None
    return p


# --- gateway credentials ----------------------------------------------------------------------


async def test_an_admin_creates_lists_and_revokes_a_gateway_and_its_token_stops_at_once(
    rt: Runtime, desk: Desk
) -> None:
    r = await desk.http.post(GATEWAYS, json={"name": "PSTN bridge"}, headers=await desk.h("olivia"))
    assert r.status_code == 201, r.text
    created = r.json()
    token, gw = created["token"], created["gateway"]
    assert token.startswith("olg_") and gw["name"] == "PSTN bridge" and gw["revoked_at"] is None
    assert gw["created_by"] == "olivia@contoso.example"
    # only the hash is kept, and the audit record names the gateway, not its token
    async with rt.database.session(unscoped=True, readonly=True) as db:
        row = await db.get(DialInGateway, uuid.UUID(gw["id"]))
    assert row is not None and row.token_hash == hash_token(token)
    (made,) = await audit(rt, "dial_in.gateway_create")
    assert made.outcome == "success" and made.target_id == gw["id"]
    assert made.actor_label == "olivia@contoso.example"
    assert token not in json.dumps(made.details)

    listed = await desk.http.get(GATEWAYS, headers=await desk.h("olivia"))
    assert listed.status_code == 200
    assert [(g["id"], g["revoked_at"]) for g in listed.json()] == [(gw["id"], None)]
    assert "token" not in listed.json()[0]

    c = await desk.schedule(dial_in_bypass=False)
    assert (await desk.call(token, c.conference_id, c.pin)).status_code == 200

    gone = await desk.http.delete(f"{GATEWAYS}/{gw['id']}", headers=await desk.h("olivia"))
    assert gone.status_code == 204, gone.text
    (revoked,) = await audit(rt, "dial_in.gateway_revoke")
    assert revoked.outcome == "success" and revoked.target_id == gw["id"]
    after = (await desk.http.get(GATEWAYS, headers=await desk.h("olivia"))).json()
    assert after[0]["revoked_at"] is not None
    problem(await desk.call(token, c.conference_id, c.pin), 401, "unauthenticated")
    assert len(await callers(rt)) == 1  # the call before the revocation only


async def test_members_and_stale_admins_cannot_manage_gateways_and_are_audited(
    rt: Runtime, desk: Desk, world: World
) -> None:
    mia = await desk.h("mia")
    problem(await desk.http.post(GATEWAYS, json={"name": "mine"}, headers=mia), 403, "forbidden")
    problem(await desk.http.get(GATEWAYS, headers=mia), 403, "forbidden")
    stale = await world.session_headers("olivia", mfa=False)
    r = await desk.http.post(GATEWAYS, json={"name": "stale"}, headers=stale)
    problem(r, 401, "mfa-required")
    async with rt.database.session(unscoped=True, readonly=True) as db:
        assert await db.scalar(select(DialInGateway.id)) is None
    denied = [a for a in await audit(rt, "dial_in.manage") if a.outcome == "denied"]
    assert {a.actor_label for a in denied} == {"mia@contoso.example", "olivia@contoso.example"}
    assert len(denied) == 3


async def test_a_gateway_of_another_tenant_is_not_found_for_revocation(desk: Desk) -> None:
    await desk.gateway("olivia")
    mine = (await desk.http.get(GATEWAYS, headers=await desk.h("olivia"))).json()[0]
    r = await desk.http.delete(f"{GATEWAYS}/{mine['id']}", headers=await desk.h("eve"))
    problem(r, 404, "not-found")
    assert (await desk.http.get(GATEWAYS, headers=await desk.h("eve"))).json() == []
    still = (await desk.http.get(GATEWAYS, headers=await desk.h("olivia"))).json()[0]
    assert still["revoked_at"] is None


async def test_only_the_dial_in_route_accepts_a_gateway_token(desk: Desk) -> None:
    token = await desk.gateway()
    problem(await desk.http.get("/api/v1/me", headers=bearer(token)), 401, "unauthenticated")
    problem(
        await desk.http.post("/api/v1/events/ticket", headers=bearer(token)),
        401,
        "unauthenticated",
    )
    c = await desk.schedule(dial_in_bypass=True)
    problem(await desk.call("olg_made-up", c.conference_id, c.pin), 401, "unauthenticated")
    body = {"conference_id": c.conference_id, "pin": c.pin, "caller_number": NUMBER}
    problem(await desk.http.post(CALLS, json=body), 401, "unauthenticated")
    # a user's session is no gateway credential either
    r = await desk.http.post(CALLS, json=body, headers=await desk.h("olivia"))
    problem(r, 401, "unauthenticated")


# --- callers and the lobby --------------------------------------------------------------------


async def test_bypass_off_the_caller_waits_in_the_lobby_until_admitted(
    rt: Runtime, desk: Desk
) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=False)
    r = await desk.call(token, c.conference_id, c.pin)
    assert r.status_code == 200, r.text
    joined = r.json()
    me = joined["me"]
    assert me["state"] == "lobby" and me["admit_on_start"] is False
    assert me["type"] == "dial_in" and me["phone"] == MASKED and me["display_name"] == MASKED
    assert joined["token"].startswith("olp_")
    # the meeting starting (the organizer comes in) does not let a lobby caller in
    await desk.join("mia", c)
    assert (await participant(rt, me["id"])).state == "lobby"
    admitted = await desk.http.post(
        f"/api/v1/meetings/{c.id}/lobby/{me['id']}/admit", headers=await desk.h("mia")
    )
    assert admitted.status_code == 200, admitted.text
    p = await participant(rt, me["id"])
    assert p.state == "in" and p.admitted_by == "mia@contoso.example"
    # the gateway acts for the caller with the participant credential (events socket ticket)
    ticket = await desk.http.post("/api/v1/events/ticket", headers=bearer(joined["token"]))
    assert ticket.status_code == 200, ticket.text
    (dialled,) = [a for a in await audit(rt, "meeting.dial_in") if a.outcome == "success"]
    assert dialled.target_id == c.id and dialled.details["participant_id"] == me["id"]
    assert dialled.actor_label == "dial-in-gateway:PSTN bridge"
    joins = [a for a in await audit(rt, "meeting.join") if a.actor_label == f"dial-in:{MASKED}"]
    assert [a.details["entry"] for a in joins] == ["lobby"]


async def test_bypass_on_before_start_waits_and_is_let_in_when_the_organizer_joins(
    rt: Runtime, desk: Desk
) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    r = await desk.call(token, c.conference_id, c.pin)
    assert r.status_code == 200, r.text
    me = r.json()["me"]
    assert me["state"] == "lobby" and me["admit_on_start"] is True
    assert r.json()["meeting"]["started"] is False
    await desk.join("mia", c)  # a verified person who bypasses: the meeting starts
    p = await participant(rt, me["id"])
    assert p.state == "in" and p.admitted_by == "meeting start"
    async with rt.database.session(unscoped=True, readonly=True) as db:
        stays = list(
            await db.scalars(
                select(MeetingAttendance).where(MeetingAttendance.participant_id == p.id)
            )
        )
    assert [(s.how, s.entered_by) for s in stays] == [("dial_in", "at_start")]


async def test_bypass_on_before_start_goes_straight_in_when_anonymous_can_start(
    desk: Desk,
) -> None:
    r = await desk.http.put(
        "/api/admin/policies/meetings",
        json={"default": {"anonymous_can_start": True}},
        headers=await desk.h("olivia"),
    )
    assert r.status_code == 200, r.text
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    r = await desk.call(token, c.conference_id, c.pin)
    assert r.status_code == 200, r.text
    assert r.json()["me"]["state"] == "in"


async def test_bypass_on_after_start_the_caller_goes_straight_in(rt: Runtime, desk: Desk) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    await desk.join("mia", c)
    r = await desk.call(token, c.conference_id, c.pin)
    assert r.status_code == 200, r.text
    me = r.json()["me"]
    assert me["state"] == "in" and me["admit_on_start"] is False
    assert (await participant(rt, me["id"])).state == "in"


async def test_a_caller_into_a_recorded_meeting_gets_the_prompt_flag_and_statement(
    desk: Desk,
) -> None:
    r = await desk.http.put(
        "/api/admin/policies/privacy",
        json={"statement_url": "https://contoso.example/privacy"},
        headers=await desk.h("olivia"),
    )
    assert r.status_code == 200, r.text
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    await desk.join("mia", c)
    r = await desk.http.post(
        f"/api/v1/meetings/{c.id}/recording/start", headers=await desk.h("mia")
    )
    assert r.status_code == 204, r.text
    r = await desk.call(token, c.conference_id, c.pin)
    assert r.status_code == 200, r.text
    meeting = r.json()["meeting"]
    # the gateway plays its recording prompt before the caller is heard
    assert meeting["recording"] is True
    assert meeting["privacy_statement_url"] == "https://contoso.example/privacy"


async def test_the_caller_is_shown_and_recorded_by_a_masked_number_only(
    rt: Runtime, desk: Desk
) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=False)
    assert (await desk.call(token, c.conference_id, c.pin)).status_code == 200
    problem(await desk.call(token, c.conference_id, wrong_pin(c.pin)), 403, "forbidden")
    (p,) = await callers(rt)
    columns = {col.name: getattr(p, col.key) for col in MeetingParticipant.__mapper__.columns}
    assert p.phone_masked == MASKED and p.display_name == MASKED
    stored = json.dumps(columns, default=str)
    assert DIGITS not in stored and NUMBER not in stored
    async with rt.database.session(unscoped=True, readonly=True) as db:
        records = list(await db.scalars(select(AuditRecord)))
    about_calls = [a for a in records if a.action in ("meeting.dial_in", "meeting.join")]
    assert len(about_calls) >= 3  # dial-in success, the join, and the wrong PIN
    for a in records:
        text = json.dumps([a.actor_label, a.target_id, a.details, a.user_agent], default=str)
        assert DIGITS not in text and NUMBER not in text, a.action


# --- wrong secrets ----------------------------------------------------------------------------


async def test_a_wrong_pin_is_refused_stores_nothing_and_is_audited(
    rt: Runtime, desk: Desk
) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    wrong = wrong_pin(c.pin)
    body = problem(await desk.call(token, c.conference_id, wrong), 403, "forbidden")
    assert body["detail"] == WRONG
    assert await callers(rt) == []
    (denied,) = await audit(rt, "meeting.dial_in")
    assert denied.outcome == "denied" and denied.target_id == c.id
    assert denied.details["reason"] == "wrong PIN" and denied.details["caller"] == MASKED
    assert wrong not in json.dumps(denied.details) and c.pin not in json.dumps(denied.details)
    # the failure was counted, though the request rolled back
    async with rt.database.session(unscoped=True, readonly=True) as db:
        counted = await db.get(SignInThrottle, f"dialin:conf:{denied.tenant_id}:{c.conference_id}")
    assert counted is not None and counted.failures == 1


async def test_a_wrong_conference_id_and_a_wrong_pin_get_the_same_answer(
    rt: Runtime, desk: Desk
) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    unknown = "9" * 9 if c.conference_id != "9" * 9 else "8" * 9
    wrong = wrong_pin(c.pin)
    a = await desk.call(token, unknown, c.pin)
    b = await desk.call(token, c.conference_id, wrong)
    pa, pb = problem(a, 403, "forbidden"), problem(b, 403, "forbidden")
    strip = {"request_id", "instance"}
    assert {k: v for k, v in pa.items() if k not in strip} == {
        k: v for k, v in pb.items() if k not in strip
    }
    reasons = [x.details["reason"] for x in await audit(rt, "meeting.dial_in")]
    assert reasons == ["unknown conference id", "wrong PIN"]
    assert await callers(rt) == []


async def test_five_wrong_pins_block_even_the_right_one_until_the_delay_is_over(
    rt: Runtime, desk: Desk
) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    wrong = wrong_pin(c.pin)
    start = clock.now()
    clock.freeze(start)
    for _ in range(5):
        problem(await desk.call(token, c.conference_id, wrong), 403, "forbidden")
    blocked = problem(await desk.call(token, c.conference_id, c.pin), 429, "too-many-attempts")
    assert blocked["retry_after"] == 1
    assert await callers(rt) == []
    throttled = [
        a for a in await audit(rt, "meeting.dial_in") if a.details["reason"] == "throttled"
    ]
    assert len(throttled) == 1 and throttled[0].outcome == "denied"
    # a sixth wrong PIN doubles the delay: 2 s more
    clock.freeze(start + timedelta(seconds=2))
    problem(await desk.call(token, c.conference_id, wrong), 403, "forbidden")
    again = problem(await desk.call(token, c.conference_id, c.pin), 429, "too-many-attempts")
    assert again["retry_after"] == 2
    clock.freeze(start + timedelta(seconds=5))
    r = await desk.call(token, c.conference_id, c.pin)
    assert r.status_code == 200, r.text
    # the right PIN cleared the conference's counter (the gateway's stays)
    async with rt.database.session(unscoped=True, readonly=True) as db:
        keys = set(await db.scalars(select(SignInThrottle.key)))
    assert [k.split(":")[1] for k in keys] == ["gw"]


async def test_a_cancelled_meeting_is_a_conflict_but_only_with_the_right_pin(
    rt: Runtime, desk: Desk, world: World
) -> None:
    token = await desk.gateway()
    c = await desk.schedule(dial_in_bypass=True)
    async with rt.database.transaction(tenant_id=world.tenant_of("mia")) as db:
        await scheduling.cancel_meeting(world.principal("mia"), db, uuid.UUID(c.id))
    wrong = wrong_pin(c.pin)
    problem(await desk.call(token, c.conference_id, wrong), 403, "forbidden")
    body = problem(await desk.call(token, c.conference_id, c.pin), 409, "conflict")
    assert "cancelled" in body["detail"]
    assert await callers(rt) == []
    denied = [a for a in await audit(rt, "meeting.dial_in") if a.outcome == "denied"]
    assert [a.details["reason"] for a in denied] == ["wrong PIN", "meeting cancelled"]


async def test_a_gateway_of_fabrikam_cannot_reach_a_contoso_conference(
    rt: Runtime, desk: Desk
) -> None:
    theirs = await desk.gateway("eve", name="Fabrikam bridge")
    c = await desk.schedule(dial_in_bypass=True)
    body = problem(await desk.call(theirs, c.conference_id, c.pin), 403, "forbidden")
    assert body["detail"] == WRONG
    assert await callers(rt) == []
    (denied,) = await audit(rt, "meeting.dial_in")
    assert denied.details["reason"] == "unknown conference id"
    async with rt.database.session(unscoped=True, readonly=True) as db:
        m = await db.get(Meeting, uuid.UUID(c.id))
    assert m is not None and denied.tenant_id != m.tenant_id  # recorded in fabrikam's log


@pytest.mark.parametrize(
    "body",
    [
        {"conference_id": "123456789", "pin": "12ab56", "caller_number": NUMBER},
        {"conference_id": "123456789", "pin": "123456"},
        {"conference_id": "12345abc9", "pin": "123456", "caller_number": NUMBER},
        {"conference_id": "123456789", "pin": "123456", "caller_number": "call me"},
        {"conference_id": "123456789", "pin": "123456", "caller_number": NUMBER, "x": 1},
    ],
    ids=["letters-in-pin", "no-caller-number", "letters-in-conference", "bad-number", "extra"],
)
async def test_bad_input_is_a_422_and_changes_nothing(
    rt: Runtime, desk: Desk, body: dict[str, Any]
) -> None:
    token = await desk.gateway()
    r = await desk.http.post(CALLS, json=body, headers=bearer(token))
    problem(r, 422, "validation-failed")
    assert await callers(rt) == []
    assert await audit(rt, "meeting.dial_in") == []
    async with rt.database.session(unscoped=True, readonly=True) as db:
        assert await db.scalar(select(SignInThrottle.key)) is None
