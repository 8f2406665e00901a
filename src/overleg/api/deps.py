"""Request dependencies: the principal from the session (or, on meeting routes, from a
meeting participant credential), and the unit of work.

The unit of work opens ONE transaction scoped to the principal's tenant around the route,
commits before the response is sent, and on error rolls back and then writes the denial's
audit record (if the error carries one) in a transaction of its own.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.chain import append
from overleg.audit.schemas import Outcome
from overleg.audit.service import entry_for
from overleg.kernel.errors import Forbidden, MfaRequired, OverlegError, Unauthenticated
from overleg.kernel.runtime import Runtime
from overleg.meetings import credentials
from overleg.security.principal import Principal, anonymous
from overleg.security.sessions import ACTIVE, MFA_ENROL, authenticate

COOKIE = "overleg_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def anonymous_principal(request: Request) -> Principal:
    return anonymous(
        request.state.client_ip,
        request.headers.get("user-agent"),
        request.state.request_id,
    )


def request_token(request: Request) -> tuple[str, str] | None:
    """(token, "bearer" | "cookie") that the request carries, or None."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), "bearer"
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return cookie, "cookie"
    return None


async def session_principal(request: Request) -> Principal:
    """The principal of any live session, whatever its sign-in step."""
    found = request_token(request)
    if found is None:
        raise Unauthenticated("Sign in first (POST /api/v1/auth/sign-in).")
    token, method = found
    rt = runtime(request)
    ended: Unauthenticated | None = None
    async with rt.database.session(unscoped=True) as db, db.begin():
        try:
            principal, s = await authenticate(
                db,
                token,
                ip=request.state.client_ip,
                user_agent=request.headers.get("user-agent"),
                request_id=request.state.request_id,
                auth_method=method,
            )
            csrf = s.csrf_token
        except Unauthenticated as e:
            # authenticate() revoked an idle/expired session: commit that before answering
            # (raising inside the transaction block would roll the revocation back).
            ended = e
    if ended is not None:
        raise ended
    if method == "cookie" and request.method not in SAFE_METHODS:
        given = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(given.encode(), csrf.encode()):
            # A forged cross-site request looks exactly like this: keep a record of it.
            async with rt.database.transaction(tenant_id=principal.tenant_id) as audit_db:
                await append(
                    audit_db,
                    entry_for(
                        principal,
                        "auth.csrf",
                        outcome=Outcome.DENIED,
                        target_type="route",
                        target_id=f"{request.method} {request.url.path}"[:100],
                        details={"reason": "missing" if not given else "wrong"},
                    ),
                )
            raise Forbidden(
                "Missing or wrong X-CSRF-Token header for a cookie session.",
                extra={"type_hint": "csrf"},
            )
    request.state.principal = principal
    request.state.csrf_token = csrf
    return principal


def _state(p: Principal) -> str:
    return p.extra.get("session_state", ACTIVE)


async def enrolling_principal(
    p: Annotated[Principal, Depends(session_principal)],
) -> Principal:
    """A session that is signed in, or that must enrol a second factor before anything else."""
    if _state(p) not in (ACTIVE, MFA_ENROL):
        raise MfaRequired("Give your second factor first (POST /api/v1/auth/mfa).")
    return p


async def current_principal(
    p: Annotated[Principal, Depends(session_principal)],
) -> Principal:
    """A fully signed-in session (second factor given where required, password not expired)."""
    state = _state(p)
    if state == MFA_ENROL:
        raise MfaRequired(
            "Your organisation requires a second factor: set up an "
            "authenticator app (POST /api/v1/me/mfa/totp).",
            extra={"next": "enrol"},
        )
    if state != ACTIVE:
        raise MfaRequired(
            "Give your second factor first (POST /api/v1/auth/mfa).", extra={"next": "verify"}
        )
    if p.extra.get("must_change_password") == "True":
        raise Forbidden(
            "Change your password first (POST /api/v1/me/password).",
            extra={"next": "change_password"},
        )
    return p


async def meeting_principal(request: Request) -> Principal:
    """For meeting routes: a meeting participant (``Authorization: Bearer olp_...``, see
    ``overleg.meetings.credentials``; a ``PrincipalKind.PARTICIPANT`` of the meeting's
    tenant, ``user_id`` None) or else exactly what ``current_principal`` accepts. Raises
    Unauthenticated for an unknown credential or a participant no longer in the meeting."""
    found = request_token(request)
    if found is None or found[1] != "bearer" or not credentials.is_credential(found[0]):
        return await current_principal(await session_principal(request))
    rt = runtime(request)
    # a bearer credential is not sent by browsers on their own: no CSRF check needed
    async with rt.database.session(unscoped=True) as db, db.begin():
        principal = await credentials.authenticate(
            db,
            found[0],
            ip=request.state.client_ip,
            user_agent=request.headers.get("user-agent"),
            request_id=request.state.request_id,
        )
    request.state.principal = principal
    return principal


@asynccontextmanager
async def unit_of_work(request: Request, principal: Principal) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to ``principal.tenant_id`` (see the module docstring)."""
    rt = runtime(request)
    session = rt.database.session(tenant_id=principal.tenant_id)
    try:
        async with session.begin():
            yield session
    except OverlegError as e:
        if e.audit is not None:
            async with rt.database.transaction(tenant_id=e.audit.tenant_id) as audit_db:
                await append(audit_db, e.audit)
        raise
    finally:
        await session.close()


async def db_current(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request, principal) as s:
        yield s


async def db_enrolling(
    request: Request, principal: Annotated[Principal, Depends(enrolling_principal)]
) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request, principal) as s:
        yield s


async def db_session_any(
    request: Request, principal: Annotated[Principal, Depends(session_principal)]
) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request, principal) as s:
        yield s


async def db_meeting(
    request: Request, principal: Annotated[Principal, Depends(meeting_principal)]
) -> AsyncIterator[AsyncSession]:
    """The unit of work of a meeting route, scoped to the principal's tenant (for a
    participant: the meeting's)."""
    async with unit_of_work(request, principal) as s:
        yield s


async def db_anonymous(request: Request) -> AsyncIterator[AsyncSession]:
    """Unscoped transaction for sign-in (the tenant is found from the e-mail address)."""
    rt = runtime(request)
    async with rt.database.session(unscoped=True) as s, s.begin():
        yield s


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
EnrollingPrincipal = Annotated[Principal, Depends(enrolling_principal)]
AnyPrincipal = Annotated[Principal, Depends(session_principal)]
AnonPrincipal = Annotated[Principal, Depends(anonymous_principal)]
#: a fully signed-in user or a meeting participant (meeting routes only)
MeetingPrincipal = Annotated[Principal, Depends(meeting_principal)]
Db = Annotated[AsyncSession, Depends(db_current, scope="function")]
DbEnrolling = Annotated[AsyncSession, Depends(db_enrolling, scope="function")]
DbAny = Annotated[AsyncSession, Depends(db_session_any, scope="function")]
DbAnon = Annotated[AsyncSession, Depends(db_anonymous, scope="function")]
DbMeeting = Annotated[AsyncSession, Depends(db_meeting, scope="function")]
