"""Sessions: start, authenticate a token, list, revoke.

A session token is random; only its SHA-256 is stored, so a database dump holds no usable
token. Sessions expire after an idle time and an absolute lifetime (settings).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.identity.models import Tenant, User
from overleg.identity.schemas import roles_of
from overleg.kernel.clock import now
from overleg.kernel.errors import Unauthenticated
from overleg.kernel.runtime import runtime_of
from overleg.security.authn.tokens import hash_token, new_csrf_token, new_token
from overleg.security.models import UserSession
from overleg.security.principal import Principal, PrincipalKind

ACTIVE = "active"
MFA_PENDING = "mfa_pending"  # password accepted, second factor not yet given
MFA_ENROL = "mfa_enrol"  # policy requires MFA and the user has none yet
_TOUCH_EVERY = timedelta(seconds=60)  # don't write last_seen_at on every request


class SessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    state: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    mfa_at: datetime | None
    ip: str | None
    user_agent: str | None
    current: bool = False


async def start_session(
    db: AsyncSession,
    user: User,
    *,
    state: str,
    ip: str | None,
    user_agent: str | None,
    mfa_at: datetime | None = None,
) -> tuple[str, UserSession]:
    """Create a session for ``user`` and return (token, row). The token is shown once."""
    settings = runtime_of(db).settings
    token = new_token()
    t = now()
    s = UserSession(
        tenant_id=user.tenant_id,
        user_id=user.id,
        token_hash=hash_token(token),
        csrf_token=new_csrf_token(),
        state=state,
        mfa_at=mfa_at,
        last_seen_at=t,
        expires_at=t + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
    )
    db.add(s)
    await db.flush()
    return token, s


def rotate_token(s: UserSession) -> str:
    """Give a session a new token (after the second factor), so a token seen before MFA
    is worthless afterwards."""
    token = new_token()
    s.token_hash = hash_token(token)
    s.csrf_token = new_csrf_token()
    return token


async def authenticate(
    db: AsyncSession,
    token: str,
    *,
    ip: str | None,
    user_agent: str | None,
    request_id: str | None,
    auth_method: str,
) -> tuple[Principal, UserSession]:
    """Resolve a token to a principal. ``db`` is unscoped (the tenant is not known yet).

    Raises Unauthenticated for unknown, revoked, expired or idle sessions and for users
    or tenants that are no longer active; idle and expired sessions are revoked on sight.
    """
    settings = runtime_of(db).settings
    s = await db.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
    if s is None or s.revoked_at is not None:
        raise Unauthenticated("Your session has ended. Sign in again.")
    t = now()
    if t >= s.expires_at:
        s.revoked_at, s.revoked_reason = t, "expired"
        raise Unauthenticated("Your session has expired. Sign in again.")
    if t - s.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        s.revoked_at, s.revoked_reason = t, "idle"
        raise Unauthenticated("Your session ended after a period of inactivity. Sign in again.")
    user = await db.get(User, s.user_id)
    tenant = await db.get(Tenant, s.tenant_id)
    if user is None or user.status != "active" or tenant is None or tenant.status != "active":
        s.revoked_at, s.revoked_reason = t, "account not active"
        raise Unauthenticated("This account cannot sign in.")
    if t - s.last_seen_at > _TOUCH_EVERY:
        s.last_seen_at = t
    principal = Principal(
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
        auth_method=auth_method,
        extra={"session_state": s.state, "must_change_password": str(user.must_change_password)},
    )
    return principal, s


async def revoke_user_sessions(
    db: AsyncSession, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
) -> int:
    """Revoke every live session of a user (except ``keep``); returns how many."""
    stmt = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now(), revoked_reason=reason)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    result = await db.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def live_sessions(db: AsyncSession, user_id: uuid.UUID) -> list[UserSession]:
    t = now()
    rows = await db.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > t,
        )
        .order_by(UserSession.created_at.desc())
    )
    return list(rows.all())


# --- use cases: a user's own sessions, and admins' view of anyone's -----------------------


def _public(s: UserSession, principal: Principal) -> SessionPublic:
    pub = SessionPublic.model_validate(s)
    pub.current = s.id == principal.session_id
    return pub


async def my_sessions(principal: Principal, db: AsyncSession) -> list[SessionPublic]:
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize

    authorize(principal, Action.SELF_SESSIONS)
    assert principal.user_id is not None
    return [_public(s, principal) for s in await live_sessions(db, principal.user_id)]


async def revoke_my_session(principal: Principal, db: AsyncSession, session_id: uuid.UUID) -> None:
    from overleg.audit.service import record
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize, not_found_denied

    authorize(principal, Action.SELF_SESSIONS)
    s = await db.get(UserSession, session_id)
    if s is None or s.user_id != principal.user_id:
        raise not_found_denied(principal, "session.revoke", "session", str(session_id))
    if s.revoked_at is None:
        s.revoked_at, s.revoked_reason = now(), "revoked by user"
    await record(principal, db, "session.revoke", target_type="session", target_id=s.id)


async def revoke_other_sessions(principal: Principal, db: AsyncSession) -> int:
    from overleg.audit.service import record
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize

    authorize(principal, Action.SELF_SESSIONS)
    assert principal.user_id is not None
    n = await revoke_user_sessions(
        db, principal.user_id, reason="signed out elsewhere", keep=principal.session_id
    )
    await record(
        principal,
        db,
        "session.revoke_others",
        target_type="user",
        target_id=principal.user_id,
        details={"revoked": n},
    )
    return n


async def user_sessions(
    principal: Principal, db: AsyncSession, user_id: uuid.UUID
) -> list[SessionPublic]:
    from overleg.identity.access import access_user
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize
    from overleg.security.authz.pdp import Resource

    authorize(principal, Action.SESSION_READ_ANY)  # before loading: no existence oracle
    user = await access_user(principal, db, user_id)
    authorize(
        principal,
        Action.SESSION_READ_ANY,
        Resource("user", str(user.id), target_roles=roles_of(user.kind, user.admin_roles)),
    )
    return [_public(s, principal) for s in await live_sessions(db, user.id)]


async def admin_revoke_session(
    principal: Principal, db: AsyncSession, session_id: uuid.UUID
) -> None:
    from overleg.audit.service import record
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize, not_found_denied
    from overleg.security.authz.pdp import Resource

    authorize(principal, Action.SESSION_REVOKE_ANY)  # before loading: no existence oracle
    s = await db.get(UserSession, session_id)
    if s is None:
        raise not_found_denied(principal, "session.revoke_any", "session", str(session_id))
    user = await db.get(User, s.user_id)
    assert user is not None
    authorize(
        principal,
        Action.SESSION_REVOKE_ANY,
        Resource("session", str(s.id), target_roles=roles_of(user.kind, user.admin_roles)),
    )
    if s.revoked_at is None:
        s.revoked_at, s.revoked_reason = now(), f"revoked by {principal.label}"
    await record(
        principal,
        db,
        "session.revoke_any",
        target_type="session",
        target_id=s.id,
        details={"user_id": str(user.id)},
    )
