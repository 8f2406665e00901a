"""Who is at the other end of an event socket, and whether their session still holds.

A socket authenticates once, at the handshake, with the session cookie or a ticket. A
ticket (``issue_ticket``) is for clients that cannot send the cookie with the handshake:
random, single use, valid ``TICKET_SECONDS``, bound to the issuing session, stored as its
SHA-256 in the database so that any node can redeem it. Redeeming is one conditional
UPDATE, so two nodes can never both accept the same ticket.

Afterwards the gateway asks ``ended_sessions`` before it delivers anything, so a session
that was signed out, revoked, expired or went idle, or whose account or organisation was
disabled, loses its socket at the next event at the latest. The rules are those of
``overleg.security.sessions.authenticate``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Uuid, any_, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity.models import Tenant, User
from overleg.identity.schemas import roles_of
from overleg.kernel.clock import now
from overleg.kernel.errors import Forbidden, Unauthenticated
from overleg.kernel.runtime import runtime_of
from overleg.realtime.models import SocketTicket
from overleg.security.authn.tokens import hash_token, new_token
from overleg.security.models import UserSession
from overleg.security.principal import Principal, PrincipalKind
from overleg.security.sessions import ACTIVE, authenticate

TICKET_SECONDS = 60
#: session ids per query (SQLite allows 32766 parameters)
CHUNK = 5000
_ENDED = "Your session has ended. Sign in again."


def require_signed_in(principal: Principal) -> None:
    """A socket needs a session that completed sign-in (second factor, password change)."""
    if principal.extra.get("session_state", ACTIVE) != ACTIVE:
        raise Unauthenticated("Finish signing in (second factor) before opening the socket.")
    if principal.extra.get("must_change_password") == "True":
        raise Forbidden("Change your password first (POST /api/v1/me/password).")


async def issue_ticket(principal: Principal, db: AsyncSession) -> tuple[str, datetime]:
    """A new ticket for the caller's session and when it expires. Shown once."""
    if principal.kind is not PrincipalKind.USER or principal.session_id is None:
        raise Forbidden("Only a signed-in user's session can get a socket ticket.")
    assert principal.user_id is not None
    token = new_token()
    expires = now() + timedelta(seconds=TICKET_SECONDS)
    db.add(
        SocketTicket(
            tenant_id=principal.tenant_id,
            token_hash=hash_token(token),
            user_id=principal.user_id,
            session_id=principal.session_id,
            expires_at=expires,
        )
    )
    await record(
        principal,
        db,
        "events.ticket",
        target_type="session",
        target_id=principal.session_id,
        details={"expires_in": TICKET_SECONDS},
    )
    return token, expires


async def principal_from_cookie(
    db: AsyncSession, token: str, *, ip: str | None, user_agent: str | None, request_id: str
) -> Principal:
    """The session cookie's principal. ``db`` is unscoped and in a transaction; an idle or
    expired session is revoked on sight (commit that even when this raises)."""
    principal, _ = await authenticate(
        db, token, ip=ip, user_agent=user_agent, request_id=request_id, auth_method="cookie"
    )
    require_signed_in(principal)
    return principal


async def principal_from_ticket(
    db: AsyncSession, ticket: str, *, ip: str | None, user_agent: str | None, request_id: str
) -> Principal:
    """Redeem ``ticket`` (unscoped ``db``, in a transaction) and return its session's
    principal. Unknown, used and expired tickets are all "Unauthenticated"."""
    t = now()
    found = (
        await db.execute(
            update(SocketTicket)
            .where(
                SocketTicket.token_hash == hash_token(ticket),
                SocketTicket.used_at.is_(None),
                SocketTicket.expires_at > t,
            )
            .values(used_at=t)
            .returning(SocketTicket.session_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if found is None:
        raise Unauthenticated("This ticket is unknown, used or expired. Get a new one.")
    principal = await _session_principal(
        db, found[0], ip=ip, user_agent=user_agent, request_id=request_id
    )
    require_signed_in(principal)
    return principal


async def _session_principal(
    db: AsyncSession,
    session_id: uuid.UUID,
    *,
    ip: str | None,
    user_agent: str | None,
    request_id: str,
) -> Principal:
    settings = runtime_of(db).settings
    t = now()
    s = await db.get(UserSession, session_id)
    if (
        s is None
        or s.revoked_at is not None
        or t >= s.expires_at
        or t - s.last_seen_at > timedelta(minutes=settings.session_idle_minutes)
    ):
        raise Unauthenticated(_ENDED)
    user = await db.get(User, s.user_id)
    tenant = await db.get(Tenant, s.tenant_id)
    if user is None or user.status != "active" or tenant is None or tenant.status != "active":
        raise Unauthenticated("This account cannot sign in.")
    return Principal(
        kind=PrincipalKind.USER,
        tenant_id=user.tenant_id,
        label=user.email,
        user_id=user.id,
        roles=roles_of(user.kind, user.admin_roles),
        session_id=s.id,
        mfa_at=s.mfa_at,
        amr=tuple(s.amr.split()),
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
        auth_method="ticket",
        extra={"session_state": s.state, "must_change_password": str(user.must_change_password)},
    )


async def ended_sessions(
    db: AsyncSession, session_ids: Iterable[uuid.UUID], *, strict: bool = False
) -> set[uuid.UUID]:
    """Which of ``session_ids`` may no longer receive events: revoked, expired, idle or not
    fully signed in, or whose account or organisation is not active. One query that
    returns only those (usually none), so checking a thousand sessions before every
    event stays cheap. ``strict`` also counts sessions whose row is gone (deleted with
    their account) as ended, at the price of a second query.

    Give it an unscoped session: the ids are unique anyway, and on PostgreSQL a tenant
    condition next to a long id list makes the planner test every row of the tenant
    against the whole list.
    """
    wanted = list(set(session_ids))
    if len(wanted) > CHUNK:
        ended: set[uuid.UUID] = set()
        for i in range(0, len(wanted), CHUNK):
            ended |= await ended_sessions(db, wanted[i : i + CHUNK], strict=strict)
        return ended
    if not wanted:
        return set()
    settings = runtime_of(db).settings
    t = now()
    if db.get_bind().dialect.name == "postgresql":
        among = UserSession.id == any_(literal(wanted, ARRAY(Uuid())))  # one array parameter
    else:
        among = UserSession.id.in_(wanted)
    rows = await db.scalars(
        select(UserSession.id)
        .join(User, User.id == UserSession.user_id)
        .join(Tenant, Tenant.id == UserSession.tenant_id)
        .where(
            among,
            or_(
                UserSession.revoked_at.is_not(None),
                UserSession.expires_at <= t,
                UserSession.last_seen_at <= t - timedelta(minutes=settings.session_idle_minutes),
                UserSession.state != ACTIVE,
                User.status != "active",
                Tenant.status != "active",
            ),
        )
    )
    ended = set(rows)
    if strict:
        found = set(await db.scalars(select(UserSession.id).where(among)))
        ended |= set(wanted) - found
    return ended


async def purge_tickets(db: AsyncSession, *, before: datetime) -> int:
    """Delete tickets that expired before ``before`` (unscoped ``db``)."""
    result = await db.execute(
        delete(SocketTicket)
        .where(SocketTicket.expires_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
