"""Sign-in, second factor, step-up, sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from overleg.api.deps import COOKIE, AnonPrincipal, AnyPrincipal, DbAnon, DbAny, runtime
from overleg.kernel.errors import TooManyAttempts, Unauthenticated, ValidationFailed
from overleg.security.authn import service
from overleg.security.authn.schemas import MfaVerifyRequest, SignInRequest, SignInResponse
from overleg.security.authn.service import AuthOutcome

router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


def _set_cookie(request: Request, response: Response, token: str) -> None:
    settings = runtime(request).settings
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        secure=bool(settings.cookie_secure),
        samesite="strict",
        max_age=settings.session_absolute_hours * 3600,
        path="/",
    )


def _answer(request: Request, response: Response, out: AuthOutcome, failed: str) -> SignInResponse:
    if out.status == "throttled":
        raise TooManyAttempts(
            f"Too many failed attempts. Try again in {out.retry_after} seconds.",
            retry_after=out.retry_after,
        )
    if out.status == "failed" or out.token is None or out.csrf_token is None:
        raise Unauthenticated(failed)
    _set_cookie(request, response, out.token)
    return SignInResponse(
        status=out.status,
        token=out.token,
        csrf_token=out.csrf_token,
        must_change_password=out.must_change_password,
    )


@router.post("/sign-in", response_model=SignInResponse, summary="Sign in with a password")
async def sign_in(
    body: SignInRequest, request: Request, response: Response, anon: AnonPrincipal, db: DbAnon
) -> SignInResponse:
    """Returns a session token. If the account has a second factor the session waits for it
    (`mfa_required`: POST /api/v1/auth/mfa); if policy requires one and none is set up,
    the session may only enrol one (`mfa_enrolment_required`)."""
    out = await service.sign_in(
        anon, db, email=body.email, password=body.password, tenant=body.tenant
    )
    await db.commit()  # keep failure counters and audit even though we answer with an error
    return _answer(request, response, out, "The e-mail address or password is not right.")


@router.post("/mfa", response_model=SignInResponse, summary="Give the second factor")
async def verify_mfa(
    body: MfaVerifyRequest, request: Request, response: Response, p: AnyPrincipal, db: DbAny
) -> SignInResponse:
    """Completes the sign-in. The session gets a new token; the old one stops working."""
    if not body.code and not body.recovery_code:
        raise ValidationFailed("Give a code or a recovery code.", extra={"field": "code"})
    out = await service.verify_mfa(p, db, code=body.code, recovery_code=body.recovery_code)
    await db.commit()
    return _answer(request, response, out, "That code is not right.")


@router.post("/step-up", status_code=204, summary="Confirm the second factor again")
async def step_up(body: MfaVerifyRequest, p: AnyPrincipal, db: DbAny) -> None:
    """Admin actions need a second factor given in the last few minutes."""
    out = await service.step_up(p, db, code=body.code, recovery_code=body.recovery_code)
    await db.commit()
    if out.status == "throttled":
        raise TooManyAttempts(
            f"Try again in {out.retry_after} seconds.", retry_after=out.retry_after
        )
    if out.status != "signed_in":
        raise Unauthenticated("That code is not right.")


@router.post("/sign-out", status_code=204, summary="End this session")
async def sign_out(response: Response, p: AnyPrincipal, db: DbAny) -> None:
    await service.sign_out(p, db)
    response.delete_cookie(COOKIE, path="/")
