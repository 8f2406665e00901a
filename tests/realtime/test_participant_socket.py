"""The event socket of meeting participants who have no account here (anonymous joiners,
dial-in callers, people signed in elsewhere): a ticket from their participant credential,
the events addressed to their participant id, in order and with catch-up, no presence,
and a socket that outlives their place in the meeting by the grace period only."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from overleg.audit.models import AuditRecord
from overleg.kernel import clock
from overleg.kernel.events import outbox
from overleg.kernel.runtime import Runtime
from overleg.meetings import credentials
from overleg.meetings.models import Meeting, MeetingParticipant
from overleg.realtime.protocol import Close
from tests.fixtures.world import World
from tests.realtime.conftest import WITHIN, Node, emit, head, receive, token_for


@dataclass
class Participant:
    id: uuid.UUID
    credential: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}


@dataclass
class Call:
    """A meeting of contoso (organised by mia) with two people without an account."""

    tenant_id: uuid.UUID
    meeting_id: uuid.UUID
    anon: Participant  # an anonymous joiner, in the meeting
    caller: Participant  # a dial-in caller, waiting in the lobby


async def _participant(
    rt: Runtime, call_tenant: uuid.UUID, meeting_id: uuid.UUID, **fields: object
) -> Participant:
    credential, token_hash = credentials.new_credential()
    async with rt.database.transaction(tenant_id=call_tenant) as db:
        p = MeetingParticipant(
            tenant_id=call_tenant,
            meeting_id=meeting_id,
            role="attendee",
            token_hash=token_hash,
            **fields,
        )
        db.add(p)
        await db.flush()
        pid = p.id
    return Participant(pid, credential)


@pytest.fixture
async def call(rt: Runtime, world: World) -> Call:
    # Built from rows directly: the meeting services (join, lobby, admit) are being
    # written in parallel; these tests need only the rows a join leaves behind.
    contoso = world.tenant_of("mia")
    t = clock.now()
    async with rt.database.transaction(tenant_id=contoso) as db:
        meeting = Meeting(
            tenant_id=contoso,
            join_code=secrets.token_urlsafe(32),
            invite_key=secrets.token_urlsafe(32),
            conference_id="".join(secrets.choice("0123456789") for _ in range(12)),
            pin_enc=b"x",
            kind="scheduled",
            subject="Intake",
            starts_at=t,
            ends_at=t + timedelta(hours=1),
            organizer_id=world.id("mia"),
        )
        db.add(meeting)
        await db.flush()
        meeting_id = meeting.id
    anon = await _participant(
        rt,
        contoso,
        meeting_id,
        type="anonymous",
        display_name="Alex",
        state="in",
        first_joined_at=t,
    )
    caller = await _participant(
        rt,
        contoso,
        meeting_id,
        type="dial_in",
        display_name="Caller",
        phone_masked="+31 6 **** **12",
        state="lobby",
        lobby_since=t,
    )
    return Call(contoso, meeting_id, anon, caller)


async def _ticket(node: Node, who: Participant) -> str:
    async with node.client() as http:
        r = await http.post("/api/v1/events/ticket", headers=who.headers)
    assert r.status_code == 200, r.text
    ticket: str = r.json()["ticket"]
    return ticket


async def _refused(node: Node, **kwargs: object) -> str:
    """The handshake is refused with 401; returns the problem's detail."""
    with pytest.raises(InvalidStatus) as refused:
        async with node.socket(**kwargs):  # type: ignore[arg-type]
            pass
    response = refused.value.response
    assert response.status_code == 401
    body = json.loads(response.body or b"{}")
    assert body["status"] == 401
    return str(body["detail"])


async def _set_state(rt: Runtime, call: Call, who: Participant, state: str) -> None:
    """What leaving/removal/denial does to the row (the service also records when)."""
    async with rt.database.transaction(tenant_id=call.tenant_id) as db:
        p = await db.get(MeetingParticipant, who.id)
        assert p is not None
        p.state, p.left_at = state, clock.now()


async def _closed(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:  # anything still queued is not what this waits for
            await asyncio.wait_for(ws.recv(), WITHIN)
    return ws.close_code


async def test_a_participant_credential_gets_a_ticket_that_opens_its_socket_once(
    node: Node, rt: Runtime, world: World, call: Call
) -> None:
    async with node.client() as http:
        r = await http.post("/api/v1/events/ticket", headers=call.anon.headers)
        assert r.status_code == 200, r.text
        issued = r.json()
        assert set(issued) == {"ticket", "expires_at", "expires_in"}
        assert issued["expires_in"] == 60
        # a user's session still gets a user's ticket from the same route
        mine = await http.post("/api/v1/events/ticket", headers=await world.session_headers("mia"))
        assert mine.status_code == 200, mine.text
    async with node.socket(ticket=issued["ticket"]) as ws:
        assert (await receive(ws))["type"] == "resync"
        assert node.gateway.count(call.anon.id) == 1
        await emit(rt, call.tenant_id, [call.anon.id], type="meeting.you", what="admitted")
        got = await receive(ws)
        assert (got["type"], got["data"]) == ("meeting.you", {"what": "admitted"})
    async with node.socket(ticket=mine.json()["ticket"]) as ws:
        assert (await receive(ws))["type"] == "resync"
    detail = await _refused(node, ticket=issued["ticket"])  # used up
    assert "unknown, used or expired" in detail

    async with rt.database.session(unscoped=True, readonly=True) as db:
        audited = (
            await db.scalars(
                select(AuditRecord)
                .where(AuditRecord.action == "events.ticket")
                .order_by(AuditRecord.at)
            )
        ).all()
    assert [(r.actor_type, r.actor_id, r.target_type, r.target_id) for r in audited] == [
        ("participant", None, "participant", str(call.anon.id)),
        ("user", world.id("mia"), "session", audited[1].target_id),
    ]
    assert audited[0].actor_label == "anonymous:Alex"
    assert audited[0].tenant_id == call.tenant_id


async def test_unknown_used_expired_and_stale_tickets_and_credentials_are_refused(
    node: Node, rt: Runtime, call: Call
) -> None:
    assert "unknown, used or expired" in await _refused(node, ticket=secrets.token_urlsafe(32))
    async with node.client() as http:
        made_up = {"Authorization": f"Bearer {credentials.new_credential()[0]}"}
        r = await http.post("/api/v1/events/ticket", headers=made_up)
        assert r.status_code == 401
        assert "credential is unknown" in r.json()["detail"]

    # a ticket whose participant was denied before it was used
    ticket = await _ticket(node, call.caller)
    await _set_state(rt, call, call.caller, "denied")
    assert "no longer in this meeting" in await _refused(node, ticket=ticket)
    assert "unknown, used or expired" in await _refused(node, ticket=ticket)  # and used up
    async with node.client() as http:  # the credential itself stops working at once
        r = await http.post("/api/v1/events/ticket", headers=call.caller.headers)
        assert r.status_code == 401

    expiring = await _ticket(node, call.anon)
    clock.freeze(clock.now() + timedelta(seconds=credentials.TICKET_SECONDS + 1))
    assert "unknown, used or expired" in await _refused(node, ticket=expiring)


async def test_a_participant_credential_opens_no_route_for_users(node: Node, call: Call) -> None:
    async with node.client() as http:
        for method, path in (
            ("GET", "/api/v1/teams"),
            ("GET", f"/api/v1/presence?user_id={call.anon.id}"),
            ("PUT", "/api/v1/me/presence"),
        ):
            r = await http.request(
                method, path, headers=call.anon.headers, json={"availability": "busy"}
            )
            assert r.status_code == 401, (path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        # nor is it a session cookie
        cookie = {"Cookie": f"overleg_session={call.anon.credential}"}
        r = await http.post("/api/v1/events/ticket", headers=cookie)
        assert r.status_code == 401


async def test_events_reach_the_participant_they_are_addressed_to_in_order_and_nobody_else(
    node: Node, rt: Runtime, world: World, call: Call
) -> None:
    mia = world.id("mia")
    at = await head(rt, call.tenant_id)
    async with (
        node.socket(ticket=await _ticket(node, call.anon), last_event_id=at) as anon_ws,
        node.socket(ticket=await _ticket(node, call.caller), last_event_id=at) as caller_ws,
        node.socket(await token_for(world, "mia"), last_event_id=at) as mia_ws,
    ):
        await emit(rt, call.tenant_id, [call.anon.id], n=1)
        await emit(rt, call.tenant_id, [call.caller.id], n=2)
        async with rt.database.transaction(tenant_id=call.tenant_id) as db:
            for n in (3, 4):  # two events of one transaction
                await outbox.emit(
                    db,
                    tenant_id=call.tenant_id,
                    type="meeting.participant",
                    payload={"n": n},
                    recipients=[mia, call.anon.id],
                )
        anon_got = [await receive(anon_ws) for _ in range(3)]
        caller_got = await receive(caller_ws)
        mia_got = [await receive(mia_ws) for _ in range(2)]
    assert [(m["id"], m["data"]["n"]) for m in anon_got] == [(at + 1, 1), (at + 3, 3), (at + 4, 4)]
    assert (caller_got["id"], caller_got["data"]["n"]) == (at + 2, 2)
    assert [(m["id"], m["data"]["n"]) for m in mia_got] == [(at + 3, 3), (at + 4, 4)]


async def test_a_participant_has_no_presence_and_its_presence_and_typing_are_ignored(
    node: Node, rt: Runtime, world: World, call: Call
) -> None:
    mia, sam = world.id("mia"), world.id("sam")
    at = await head(rt, call.tenant_id)
    async with (
        node.socket(await token_for(world, "sam"), last_event_id=at) as sam_ws,
        node.socket(ticket=await _ticket(node, call.anon), last_event_id=at) as anon_ws,
    ):
        await anon_ws.send(json.dumps({"type": "presence.subscribe", "user_ids": [str(mia)]}))
        typing = {"type": "typing", "container_type": "chat", "container_id": str(uuid.uuid4())}
        await anon_ws.send(json.dumps(typing))
        await emit(rt, call.tenant_id, [call.anon.id, sam], n=1)
        # the event, and no presence answer before it; sam gets no typing from anon
        assert await receive(anon_ws) == {"id": at + 1, "type": "message.created", "data": {"n": 1}}
        assert await receive(sam_ws) == {"id": at + 1, "type": "message.created", "data": {"n": 1}}
        # both sockets are set up now: sam counts as online, the participant does not
        assert set(node.gateway.presence.local) == {(call.tenant_id, sam)}
        assert await node.gateway.presence.online(call.tenant_id, [call.anon.id, sam]) == {sam}
        # the well-formed messages did not end the socket; a malformed one does (the
        # reader takes messages in order, so the ignored ones were handled before it)
        await anon_ws.send("not json")
        assert await _closed(anon_ws) == Close.INVALID
    async with asyncio.timeout(WITHIN):
        await node.gateway.until(lambda: node.gateway.count() == 0)
    assert node.gateway.presence.local == {}
    # ignored means ignored: not even a refused typing attempt went on record
    async with rt.database.session(unscoped=True, readonly=True) as db:
        by_participant = await db.scalars(
            select(AuditRecord.action).where(AuditRecord.actor_type == "participant")
        )
        assert list(by_participant) == ["events.ticket"]


async def test_catch_up_with_last_event_id_replays_the_participants_missed_events(
    node: Node, rt: Runtime, world: World, call: Call
) -> None:
    mia = world.id("mia")
    async with node.socket(ticket=await _ticket(node, call.anon), last_event_id=0) as ws:
        await emit(rt, call.tenant_id, [call.anon.id], n=1)
        last = (await receive(ws))["id"]
    await emit(rt, call.tenant_id, [call.anon.id], n=2)
    await emit(rt, call.tenant_id, [mia], n=3)
    await emit(rt, call.tenant_id, [mia, call.anon.id], n=4)
    async with node.socket(ticket=await _ticket(node, call.anon), last_event_id=last) as ws:
        missed = [await receive(ws), await receive(ws)]
        await emit(rt, call.tenant_id, [call.anon.id], n=5)
        live = await receive(ws)
    assert [(m["id"], m["data"]["n"]) for m in missed] == [(last + 1, 2), (last + 3, 4)]
    assert (live["id"], live["data"]["n"]) == (last + 4, 5)


@pytest.mark.parametrize("settings_overrides", [{"events_session_check_seconds": 0.1}])
async def test_a_denied_participant_gets_the_last_word_then_its_socket_is_closed(
    node: Node, rt: Runtime, call: Call
) -> None:
    at = await head(rt, call.tenant_id)
    async with node.socket(ticket=await _ticket(node, call.caller), last_event_id=at) as ws:
        async with rt.database.transaction(tenant_id=call.tenant_id) as db:
            p = await db.get(MeetingParticipant, call.caller.id)
            assert p is not None
            p.state, p.left_at = "denied", clock.now()
            await outbox.emit(
                db,
                tenant_id=call.tenant_id,
                type="meeting.you",
                payload={"what": "denied"},
                recipients=[call.caller.id],
            )
        assert await receive(ws) == {
            "id": at + 1,
            "type": "meeting.you",
            "data": {"what": "denied"},
        }
        # within the grace period the socket still gets what is addressed to it
        await emit(rt, call.tenant_id, [call.caller.id], type="meeting.updated", what="ended")
        assert (await receive(ws))["id"] == at + 2
        async with node.client() as http:  # while the credential no longer opens anything
            r = await http.post("/api/v1/events/ticket", headers=call.caller.headers)
            assert r.status_code == 401
        # no event comes: the periodic check closes it once the grace period is over
        clock.freeze(clock.now() + timedelta(seconds=credentials.GRACE_SECONDS + 1))
        assert await _closed(ws) == Close.SESSION_ENDED
        assert ws.close_reason == "you are no longer in the meeting"


async def test_a_participant_out_of_the_meeting_is_closed_at_the_next_event(
    node: Node, rt: Runtime, world: World, call: Call
) -> None:
    mia = world.id("mia")
    at = await head(rt, call.tenant_id)
    async with (
        node.socket(ticket=await _ticket(node, call.anon), last_event_id=at) as anon_ws,
        node.socket(ticket=await _ticket(node, call.caller), last_event_id=at) as caller_ws,
        node.socket(await token_for(world, "mia"), last_event_id=at) as mia_ws,
    ):
        await _set_state(rt, call, call.anon, "left")
        clock.freeze(clock.now() + timedelta(seconds=credentials.GRACE_SECONDS + 1))
        # the periodic check is 30 s away: the delivery's own check closes the socket
        await emit(rt, call.tenant_id, [call.anon.id, call.caller.id, mia], n=1)
        assert await _closed(anon_ws) == Close.SESSION_ENDED
        assert (await receive(caller_ws))["data"] == {"n": 1}  # still in the lobby
        assert (await receive(mia_ws))["data"] == {"n": 1}
