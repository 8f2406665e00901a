"""Realtime use cases: socket tickets, presence, the purge job, and who may open a socket.

Routers call these; the socket itself is run by ``overleg.realtime.gateway.Gateway``.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.chain import append
from overleg.audit.schemas import Outcome
from overleg.audit.service import entry_for, record, with_audit
from overleg.kernel.clock import now
from overleg.kernel.errors import Forbidden, OverlegError, ValidationFailed
from overleg.kernel.events import outbox
from overleg.kernel.events.broker import PRESENCE, Envelope
from overleg.kernel.runtime import Runtime, runtime_of
from overleg.realtime import auth, presence
from overleg.realtime.models import UserPresence
from overleg.realtime.protocol import data_json
from overleg.realtime.schemas import PresencePublic, PresenceUpdate, PurgeResult, TicketIssued
from overleg.security.principal import Principal, PrincipalKind

#: at most this many ids per GET /api/v1/presence
MAX_PRESENCE_QUERY = 200


# -- tickets -------------------------------------------------------------------------------


async def issue_ticket(principal: Principal, db: AsyncSession) -> TicketIssued:
    """A single-use ticket that opens the event socket once within 60 s, on any node, for
    the caller's session, or for the caller's place in a meeting when the caller is a
    meeting participant (``PrincipalKind.PARTICIPANT``; ``db`` scoped to the meeting's
    tenant). Audited as ``events.ticket``."""
    if principal.kind is PrincipalKind.PARTICIPANT:
        # imported here: realtime must not need meetings to load
        from overleg.meetings import credentials

        token, expires = await credentials.issue_socket_ticket(db, principal)
        await record(
            principal,
            db,
            "events.ticket",
            target_type="participant",
            target_id=credentials.participant_id_of(principal),
            details={"expires_in": credentials.TICKET_SECONDS},
        )
        return TicketIssued(ticket=token, expires_at=expires, expires_in=credentials.TICKET_SECONDS)
    token, expires = await auth.issue_ticket(principal, db)
    return TicketIssued(ticket=token, expires_at=expires, expires_in=auth.TICKET_SECONDS)


# -- who opens a socket ------------------------------------------------------------------------


async def socket_principal(
    rt: Runtime,
    *,
    cookie: str | None,
    ticket: str | None,
    ip: str | None,
    user_agent: str | None,
) -> Principal:
    """The principal of a socket handshake: from ``ticket`` if given (a meeting
    participant's ticket, else a user's), else the session cookie. Raises Unauthenticated
    (no, ended or not fully signed-in session; unknown, used or expired ticket; a
    participant no longer in the meeting) or Forbidden (password change pending). Runs
    its own transaction, which commits also when refusing: the ticket is used up, an idle
    session is revoked."""
    from overleg.kernel.errors import Unauthenticated

    request_id = secrets.token_hex(8)
    refused: OverlegError | None = None
    principal: Principal | None = None
    async with rt.database.session(unscoped=True) as db, db.begin():
        try:
            if ticket:
                # imported here: realtime must not need meetings to load
                from overleg.meetings.credentials import redeem_socket_ticket

                principal = await redeem_socket_ticket(
                    db, ticket, ip=ip, user_agent=user_agent, request_id=request_id
                )
                if principal is None:  # not a participant's ticket: a user's, or none
                    principal = await auth.principal_from_ticket(
                        db, ticket, ip=ip, user_agent=user_agent, request_id=request_id
                    )
            elif cookie:
                principal = await auth.principal_from_cookie(
                    db, cookie, ip=ip, user_agent=user_agent, request_id=request_id
                )
            else:
                refused = Unauthenticated(
                    "Sign in first (session cookie), or open the socket with a ticket "
                    "from POST /api/v1/events/ticket."
                )
        except OverlegError as e:
            refused = e
    if refused is not None:
        raise refused
    assert principal is not None
    return principal


class ForeignOrigin(Forbidden):
    """A browser page of another site tried to open the socket."""

    type = "forbidden-origin"
    title = "Origin not allowed"

    def __init__(self, origin: str) -> None:
        super().__init__(f"Event sockets opened from {origin[:100]} are not allowed.")


def _endpoint(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or Host, with the scheme's default port."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    return scheme, host.lower(), port or (443 if scheme == "https" else 80)


def origin_allowed(origin: str | None, *, host: str | None, public_base_url: str | None) -> bool:
    """Cross-site WebSocket hijacking guard. Browsers always send ``Origin`` with a socket
    handshake and a page cannot forge it; it must be the public base URL's origin or the
    origin of the ``Host`` the socket was opened on. Without ``Origin`` the client is not
    a browser (no other site's page can be behind it): allowed."""
    if origin is None:
        return True
    o = urlsplit(origin.strip())
    if o.scheme not in ("http", "https") or not o.netloc:
        return False  # includes "null" (sandboxed frames, file: pages)
    mine = _endpoint(o.scheme, o.netloc)
    if mine is None:
        return False
    if public_base_url:
        p = urlsplit(public_base_url)
        if p.scheme in ("http", "https") and _endpoint(p.scheme, p.netloc) == mine:
            return True
    return bool(host) and _endpoint(o.scheme, host or "") == mine


async def audit_refused_origin(rt: Runtime, principal: Principal, origin: str) -> None:
    """Record a socket refused for its origin (what a cross-site hijack looks like)."""
    async with rt.database.transaction(tenant_id=principal.tenant_id) as db:
        await append(
            db,
            entry_for(
                principal,
                "events.connect",
                outcome=Outcome.DENIED,
                target_type="origin",
                target_id=origin[:100],
                details={"reason": "origin is neither the public base URL nor the host"},
            ),
        )


# -- presence ------------------------------------------------------------------------------


def _me(principal: Principal, action: str) -> uuid.UUID:
    if principal.kind is not PrincipalKind.USER or principal.user_id is None:
        raise with_audit(
            Forbidden("Only a signed-in user has a presence."),
            principal,
            action,
            outcome=Outcome.DENIED,
            details={"reason": "not a user"},
        )
    return principal.user_id


async def _online(db: AsyncSession, tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    gateway = runtime_of(db).gateway
    if gateway is None:
        return set()  # this process serves no sockets (CLI, job): nobody is online here
    found: set[uuid.UUID] = await gateway.presence.online(tenant_id, ids)
    return found


async def set_presence(
    principal: Principal, db: AsyncSession, data: PresenceUpdate
) -> PresencePublic:
    """Store the caller's chosen availability (audited as ``presence.set``). After the
    commit, the caller's own sockets get a ``presence`` event (with an id) and, if the
    caller is online, everyone following them who may see them gets the new state."""
    user_id = _me(principal, "presence.set")
    row = await db.get(UserPresence, user_id)
    before = row.availability if row else presence.DEFAULT
    if row is None:
        db.add(
            UserPresence(
                tenant_id=principal.tenant_id,
                user_id=user_id,
                availability=data.availability,
                updated_at=now(),
            )
        )
    else:
        row.availability, row.updated_at = data.availability, now()
    await record(
        principal,
        db,
        "presence.set",
        target_type="user",
        target_id=user_id,
        details={"before": before, "after": data.availability},
    )
    online = user_id in await _online(db, principal.tenant_id, [user_id])
    state = presence.effective(data.availability, online)
    mine = PresencePublic(user_id=user_id, availability=state, chosen=data.availability)
    await outbox.emit(
        db,
        tenant_id=principal.tenant_id,
        type="presence",
        payload=mine.model_dump(mode="json"),
        recipients=[user_id],
    )
    if online:
        others = data_json({"user_id": user_id, "availability": state})
        outbox.publish_after_commit(
            db, [Envelope(PRESENCE, principal.tenant_id, "presence", others, subject=user_id)]
        )
    return mine


async def get_presence(
    principal: Principal, db: AsyncSession, user_ids: list[uuid.UUID]
) -> list[PresencePublic]:
    """The presence of those of ``user_ids`` the caller may see (members: their
    organisation; guests: themselves), in the order asked; the others are left out, as if
    they did not exist."""
    me = _me(principal, "presence.read")
    if len(user_ids) > MAX_PRESENCE_QUERY:
        raise ValidationFailed(f"Ask for at most {MAX_PRESENCE_QUERY} users at a time.")
    ids = await presence.visible(principal, db, user_ids)
    chosen = await presence.chosen(db, ids)
    online = await _online(db, principal.tenant_id, ids)
    return [
        PresencePublic(
            user_id=u,
            availability=presence.effective(chosen.get(u), u in online),
            chosen=chosen.get(u, presence.DEFAULT) if u == me else None,
        )
        for u in ids
    ]


# -- the purge job ---------------------------------------------------------------------------


async def purge_expired(principal: Principal, db: AsyncSession) -> PurgeResult:
    """Delete outbox events older than ``OVERLEG_EVENTS_RETENTION_SECONDS`` and expired
    socket tickets, in every organisation (an unscoped session; a job's or operator's
    principal). Audited as ``events.purge`` in the system chain. Idempotent."""
    if principal.kind not in (PrincipalKind.SYSTEM, PrincipalKind.OPERATOR):
        raise with_audit(
            Forbidden("Only a job or an operator purges the event outbox."),
            principal,
            "events.purge",
            outcome=Outcome.DENIED,
        )
    settings = runtime_of(db).settings
    t = now()
    events = await outbox.purge(db, before=t - timedelta(seconds=settings.events_retention_seconds))
    # imported here: realtime does not depend on meetings at import time
    from overleg.meetings.credentials import purge_socket_tickets

    tickets = await auth.purge_tickets(db, before=t) + await purge_socket_tickets(db, before=t)
    await record(
        principal,
        db,
        "events.purge",
        target_type="outbox",
        details={
            "events": events,
            "tickets": tickets,
            "retention_seconds": settings.events_retention_seconds,
        },
    )
    return PurgeResult(events=events, tickets=tickets)
