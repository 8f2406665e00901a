"""Dial-in gateways put phone callers into meetings.

Not a user session: the gateway sends its own credential (``Authorization: Bearer
olg_...``, made by an admin under /api/admin/dial-in/gateways). This is the only route
that accepts one; everywhere else it is an unknown token (401).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from overleg.api.deps import runtime, unit_of_work
from overleg.kernel.errors import Unauthenticated
from overleg.meetings import dial_in
from overleg.meetings.schemas import DialInJoin, JoinResult
from overleg.security.principal import Principal

router = APIRouter(prefix="/api/v1/dial-in", tags=["dial-in"])


async def gateway_principal(request: Request) -> Principal:
    """The dial-in gateway behind the bearer token; 401 when there is none, or it is
    unknown or revoked. Checked before the body is looked at."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise Unauthenticated(
            "Send the dial-in gateway credential as 'Authorization: Bearer olg_...'."
        )
    # a bearer token is not sent by browsers on their own: no CSRF check needed
    async with runtime(request).database.session(unscoped=True, readonly=True) as db:
        principal = await dial_in.gateway_principal(
            db,
            auth[7:].strip(),
            ip=request.state.client_ip,
            user_agent=request.headers.get("user-agent"),
            request_id=request.state.request_id,
        )
    request.state.principal = principal
    return principal


GatewayPrincipal = Annotated[Principal, Depends(gateway_principal)]


@router.post(
    "/calls",
    response_model=JoinResult,
    summary="Put a phone caller into a meeting",
    responses={
        401: {"description": "unknown or revoked gateway credential"},
        403: {"description": "the conference id or PIN is wrong (one answer for both)"},
        409: {"description": "the meeting was cancelled or has ended"},
        429: {"description": "too many wrong PINs: try again after retry_after seconds"},
    },
)
async def call(body: DialInJoin, request: Request, gateway: GatewayPrincipal) -> JoinResult:
    """The caller goes into the meeting or its lobby by the meeting's `dial_in_bypass`
    (`me.state`: `in` or `lobby`; with `admit_on_start` they are let in when the meeting
    starts). `token` is the caller's participant credential: the gateway uses it for the
    event socket (through a ticket) and to leave when the caller hangs up. The caller is
    shown, and recorded, by a masked number only."""
    # The unit of work of user routes, scoped to the gateway's tenant: it commits, or
    # rolls back and then writes the refusal's audit record.
    async with unit_of_work(request, gateway) as db:
        return await dial_in.call_in(gateway, db, body)
