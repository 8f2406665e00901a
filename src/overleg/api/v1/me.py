"""The signed-in user's own account: profile, sessions, second factors, password."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from overleg.api.deps import (
    AnyPrincipal,
    CurrentPrincipal,
    Db,
    DbAny,
    DbEnrolling,
    EnrollingPrincipal,
)
from overleg.identity import service as identity
from overleg.identity.schemas import DirectoryUser
from overleg.security import sessions
from overleg.security.authn import service as authn
from overleg.security.authn.schemas import (
    Me,
    PasswordChange,
    RecoveryCodes,
    TotpActivate,
    TotpEnrolment,
)
from overleg.security.sessions import SessionPublic

router = APIRouter(prefix="/api/v1", tags=["me"])


@router.get("/me", response_model=Me)
async def me(request: Request, p: AnyPrincipal, db: DbAny) -> Me:
    assert p.user_id is not None
    u = await identity.self_profile(p, db)
    return Me(
        id=str(u.id),
        tenant_id=str(u.tenant_id),
        email=u.email,
        display_name=u.display_name,
        kind=u.kind,
        admin_roles=u.admin_roles,
        mfa_enabled=u.mfa_enabled,
        session_state=p.extra.get("session_state", ""),
        must_change_password=p.extra.get("must_change_password") == "True",
        csrf_token=getattr(request.state, "csrf_token", None),
    )


@router.get("/me/sessions", response_model=list[SessionPublic])
async def my_sessions(p: CurrentPrincipal, db: Db) -> list[SessionPublic]:
    return await sessions.my_sessions(p, db)


@router.delete("/me/sessions/{session_id}", status_code=204)
async def revoke_session(session_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await sessions.revoke_my_session(p, db, session_id)


@router.post("/me/sessions/revoke-others", summary="Sign out every other session")
async def revoke_others(p: CurrentPrincipal, db: Db) -> dict[str, int]:
    return {"revoked": await sessions.revoke_other_sessions(p, db)}


@router.post("/me/mfa/totp", response_model=TotpEnrolment, summary="Start authenticator set-up")
async def begin_totp(p: EnrollingPrincipal, db: DbEnrolling) -> TotpEnrolment:
    """Returns a new secret with its QR code. Nothing changes until a code is confirmed."""
    return await authn.begin_totp(p, db)


@router.post("/me/mfa/totp/activate", response_model=RecoveryCodes)
async def activate_totp(
    body: TotpActivate, p: EnrollingPrincipal, db: DbEnrolling
) -> RecoveryCodes:
    """Confirm one code from the app; returns recovery codes, shown only this once."""
    return RecoveryCodes(codes=await authn.activate_totp(p, db, body.code))


@router.delete("/me/mfa/totp", status_code=204)
async def remove_totp(p: CurrentPrincipal, db: Db) -> None:
    await authn.remove_totp(p, db)


@router.post("/me/mfa/recovery-codes", response_model=RecoveryCodes)
async def new_recovery_codes(p: CurrentPrincipal, db: Db) -> RecoveryCodes:
    return RecoveryCodes(codes=await authn.regenerate_recovery_codes(p, db))


@router.post("/me/password", summary="Change my password")
async def change_password(
    body: PasswordChange, p: EnrollingPrincipal, db: DbEnrolling
) -> dict[str, int]:
    """Other sessions are signed out."""
    n = await authn.change_password(p, db, current=body.current_password, new=body.new_password)
    return {"sessions_revoked": n}


@router.get("/directory", response_model=list[DirectoryUser], tags=["directory"])
async def directory(p: CurrentPrincipal, db: Db) -> list[DirectoryUser]:
    return await identity.directory(p, db)
