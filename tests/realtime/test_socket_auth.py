"""Who may open the event socket: the session cookie or a single-use ticket, never a
token in the URL, never from a foreign page; and a socket whose session ends is closed."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed, InvalidStatus

from overleg.audit.models import AuditRecord
from overleg.identity import service as identity
from overleg.kernel import clock
from overleg.kernel.runtime import Runtime
from overleg.realtime.protocol import Close
from overleg.security.sessions import revoke_user_sessions
from tests.fixtures.world import World
from tests.realtime.conftest import WITHIN, Node, emit, head, receive, token_for


async def _refused(node: Node, status: int, **kwargs: object) -> dict[str, object]:
    with pytest.raises(InvalidStatus) as refused:
        async with node.socket(**kwargs):  # type: ignore[arg-type]
            pass
    response = refused.value.response
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = json.loads(response.body or b"{}")
    assert body["status"] == status
    return body


async def _audit(rt: Runtime, action: str) -> list[AuditRecord]:
    async with rt.database.session(unscoped=True, readonly=True) as db:
        rows = await db.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.at)
        )
        return list(rows.all())


async def test_without_a_session_or_with_a_token_in_the_url_the_handshake_is_refused(
    node: Node, world: World
) -> None:
    await _refused(node, 401)
    await _refused(node, 401, token="not-a-session")
    token = await token_for(world, "mia")
    for name in ("token", "access_token"):
        body = await _refused(node, 401, query=f"{name}={token}")
        assert "never accepted in the URL" in str(body["detail"])
        # even next to a valid cookie: a token in a URL ends up in logs and histories
        await _refused(node, 401, token=token, query=f"{name}={token}")


async def test_a_foreign_origin_is_refused_and_audited(
    node: Node, rt: Runtime, world: World
) -> None:
    token = await token_for(world, "mia")
    body = await _refused(node, 403, token=token, origin="https://evil.example")
    assert str(body["type"]).endswith("/forbidden-origin")
    await _refused(node, 403, token=token, origin="null")
    # the page the socket belongs to (the Host it was opened on), and no browser at all
    for origin in ("same", None):
        async with node.socket(token, origin=origin) as ws:
            assert (await receive(ws))["type"] == "resync"
    records = await _audit(rt, "events.connect")
    assert [(r.outcome, r.actor_id, r.target_id) for r in records] == [
        ("denied", world.id("mia"), "https://evil.example"),
        ("denied", world.id("mia"), "null"),
    ]


@pytest.mark.parametrize("settings_overrides", [{"public_base_url": "https://overleg.example"}])
async def test_the_public_base_url_is_an_allowed_origin(node: Node, world: World) -> None:
    token = await token_for(world, "mia")
    async with node.socket(token, origin="https://overleg.example") as ws:
        assert (await receive(ws))["type"] == "resync"
    await _refused(node, 403, token=token, origin="https://overleg.example:8443")
    await _refused(node, 403, token=token, origin="http://overleg.example")


async def test_a_ticket_opens_one_socket_once_within_a_minute(
    node: Node, rt: Runtime, world: World
) -> None:
    headers = await world.session_headers("mia")
    async with node.client() as http:
        assert (await http.post("/api/v1/events/ticket")).status_code == 401
        r = await http.post("/api/v1/events/ticket", headers=headers)
        assert r.status_code == 200, r.text
        issued = r.json()
        assert issued["expires_in"] == 60
        ticket = issued["ticket"]
        async with node.socket(ticket=ticket) as ws:
            assert (await receive(ws))["type"] == "resync"
            await emit(rt, world.tenant_of("mia"), [world.id("mia")], n=1)
            assert (await receive(ws))["data"] == {"n": 1}
        body = await _refused(node, 401, ticket=ticket)  # used up
        assert "unknown, used or expired" in str(body["detail"])

        expiring = (await http.post("/api/v1/events/ticket", headers=headers)).json()["ticket"]
        clock.freeze(clock.now() + timedelta(seconds=61))
        await _refused(node, 401, ticket=expiring)
    records = await _audit(rt, "events.ticket")
    assert [(r.outcome, r.actor_id) for r in records] == [("success", world.id("mia"))] * 2


async def test_a_disabled_user_or_a_revoked_session_is_closed_at_the_next_event(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso, mia, sam = world.tenant_of("mia"), world.id("mia"), world.id("sam")
    at = await head(rt, contoso)
    async with (
        node.socket(await token_for(world, "mia"), last_event_id=at) as mia_ws,
        node.socket(await token_for(world, "sam"), last_event_id=at) as sam_ws,
        node.socket(await token_for(world, "hank"), last_event_id=at) as hank_ws,
    ):
        async with rt.database.transaction(tenant_id=contoso) as db:
            await identity.disable_user(world.principal("olivia"), db, mia)
        async with rt.database.transaction(tenant_id=contoso) as db:
            await revoke_user_sessions(db, sam, reason="test")
        await emit(rt, contoso, [mia, sam, world.id("hank")], n=1)
        for ws in (mia_ws, sam_ws):
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WITHIN)  # closed instead of the event
            assert ws.close_code == Close.SESSION_ENDED
        assert (await receive(hank_ws))["data"] == {"n": 1}


@pytest.mark.parametrize("settings_overrides", [{"events_session_check_seconds": 0.1}])
async def test_a_quiet_socket_is_closed_soon_after_its_session_ends(
    node: Node, rt: Runtime, world: World
) -> None:
    async with node.socket(await token_for(world, "sam"), last_event_id=0) as ws:
        async with rt.database.transaction(tenant_id=world.tenant_of("sam")) as db:
            await revoke_user_sessions(db, world.id("sam"), reason="test")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WITHIN)
        assert ws.close_code == Close.SESSION_ENDED
