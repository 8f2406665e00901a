"""Realtime: the event socket, its tickets, and presence.

``GET /api/v1/events`` (WebSocket) is the one socket per client; the protocol (resuming
with ``last_event_id``, event types, client messages, close codes) is described in
``overleg.realtime.protocol``. It authenticates itself (session cookie or ticket) and
checks ``Origin``, so it is not a PUBLIC_ROUTE and needs no CSRF token: a refused
handshake gets a problem+json answer (401, 403; 503 while the gateway is not running).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import JSONResponse

from overleg.api.deps import COOKIE, CurrentPrincipal, Db, DbMeeting, MeetingPrincipal
from overleg.api.middleware import client_ip
from overleg.api.problems import MEDIA_TYPE, PROBLEM_BASE
from overleg.kernel.errors import OverlegError, ServiceUnavailable, Unauthenticated
from overleg.kernel.runtime import Runtime
from overleg.realtime import service as realtime
from overleg.realtime.schemas import PresencePublic, PresenceUpdate, TicketIssued

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.post(
    "/events/ticket",
    response_model=TicketIssued,
    summary="Get a single-use ticket for the event socket",
)
async def ticket(p: MeetingPrincipal, db: DbMeeting) -> TicketIssued:
    """For clients that cannot send the session cookie with the WebSocket handshake: open
    ``/api/v1/events?ticket=...`` within 60 seconds, once, on any server node. A meeting
    participant (``Authorization: Bearer olp_...``) gets a ticket for its own socket: it
    receives the events addressed to the participant, for as long as it is in the
    meeting (and a short grace period after)."""
    return await realtime.issue_ticket(p, db)


@router.put("/me/presence", response_model=PresencePublic, summary="Set my availability")
async def set_my_presence(body: PresenceUpdate, p: CurrentPrincipal, db: Db) -> PresencePublic:
    """``available``, ``busy``, ``do_not_disturb``, ``away`` or ``offline`` (appear
    offline). Whether you are online comes from your open event sockets only."""
    return await realtime.set_presence(p, db, body)


@router.get("/presence", response_model=list[PresencePublic], summary="Presence of people")
async def get_presence(
    p: CurrentPrincipal,
    db: Db,
    user_id: Annotated[list[uuid.UUID], Query(max_length=realtime.MAX_PRESENCE_QUERY)],
) -> list[PresencePublic]:
    """``?user_id=...&user_id=...``: the presence of those you may see (members see their
    organisation, guests only themselves); the others are left out of the answer."""
    return await realtime.get_presence(p, db, user_id)


async def _refuse(ws: WebSocket, err: OverlegError) -> None:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + err.type,
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "instance": ws.url.path,
    }
    response = JSONResponse(body, status_code=err.status, media_type=MEDIA_TYPE)
    try:
        await ws.send_denial_response(response)
    except RuntimeError:  # a server without the denial-response extension: a bare 403
        await ws.close(1008, err.title)


def _last_event_id(ws: WebSocket) -> int | None:
    raw = ws.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        return -1  # not a position: the gateway answers with "resync"
    return int(raw)


@router.websocket("/events")
async def events(ws: WebSocket) -> None:
    """The event socket (see the module docstring)."""
    rt: Runtime = ws.app.state.runtime
    s = rt.settings
    gateway = rt.gateway
    if gateway is None:
        await _refuse(ws, ServiceUnavailable("Realtime events are not running on this node."))
        return
    ip = client_ip(ws.scope, gateway.trusted_proxies)
    user_agent = ws.headers.get("user-agent")
    cookie = ws.cookies.get(COOKIE)
    origin = ws.headers.get("origin")
    if not realtime.origin_allowed(
        origin, host=ws.headers.get("host"), public_base_url=s.public_base_url
    ):
        assert origin is not None
        if cookie:
            # a foreign page in a signed-in browser: the hijack attempt goes on record
            try:
                who = await realtime.socket_principal(
                    rt, cookie=cookie, ticket=None, ip=ip, user_agent=user_agent
                )
            except OverlegError:
                pass
            else:
                await realtime.audit_refused_origin(rt, who, origin)
        await _refuse(ws, realtime.ForeignOrigin(origin))
        return
    if "token" in ws.query_params or "access_token" in ws.query_params:
        await _refuse(ws, Unauthenticated("Tokens are never accepted in the URL; use a ticket."))
        return
    try:
        principal = await realtime.socket_principal(
            rt,
            cookie=cookie,
            ticket=ws.query_params.get("ticket"),
            ip=ip,
            user_agent=user_agent,
        )
    except OverlegError as e:
        await _refuse(ws, e)
        return
    await gateway.serve(ws, principal, _last_event_id(ws))
