"""Passkeys: the account's own (list, add, rename, remove) and signing in with one (second
factor, step-up, and passwordless where the organisation allows it)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from overleg.api.deps import (
    AnonPrincipal,
    AnyPrincipal,
    CurrentPrincipal,
    Db,
    DbAnon,
    DbAny,
    DbEnrolling,
    EnrollingPrincipal,
)

# the same answer (and session cookie) as the password sign-in
from overleg.api.v1.auth import _answer
from overleg.security.authn import passkeys
from overleg.security.authn.passkey_schemas import (
    PasskeyAssertion,
    PasskeyCreate,
    PasskeyCreated,
    PasskeyOptions,
    PasskeyPublic,
    PasskeyRename,
    PasskeySignIn,
    PasskeySignInOptions,
)
from overleg.security.authn.schemas import SignInResponse

router = APIRouter(prefix="/api/v1", tags=["passkeys"])

_NOT_VERIFIED = "That passkey could not be verified."


def _site(request: Request) -> passkeys.Site:
    return passkeys.Site(
        origin=request.headers.get("origin"),
        host=request.headers.get("host"),
        scheme=request.url.scheme,
    )


# --- the account's passkeys ------------------------------------------------------------------


@router.get("/me/passkeys", response_model=list[PasskeyPublic], summary="My passkeys")
async def list_passkeys(p: CurrentPrincipal, db: Db) -> list[PasskeyPublic]:
    return await passkeys.list_passkeys(p, db)


@router.post("/me/passkeys/options", response_model=PasskeyOptions, summary="Start adding one")
async def registration_options(
    request: Request, p: EnrollingPrincipal, db: DbEnrolling
) -> PasskeyOptions:
    """Options for `navigator.credentials.create` (user verification required). A session
    that must enrol a second factor may add a passkey instead of an authenticator app."""
    return await passkeys.begin_registration(p, db, _site(request))


@router.post(
    "/me/passkeys", response_model=PasskeyCreated, status_code=201, summary="Add a passkey"
)
async def add_passkey(
    body: PasskeyCreate, p: EnrollingPrincipal, db: DbEnrolling
) -> PasskeyCreated:
    """Finishes what `POST /me/passkeys/options` started. The account's first second factor
    comes with recovery codes, shown only this once."""
    try:
        return await passkeys.finish_registration(p, db, name=body.name, credential=body.credential)
    except passkeys.CeremonyRefused as refused:
        await db.commit()  # the attempt's record and its spent challenge stay
        raise refused.error from None


@router.patch("/me/passkeys/{passkey_id}", response_model=PasskeyPublic, summary="Rename")
async def rename_passkey(
    passkey_id: uuid.UUID, body: PasskeyRename, p: CurrentPrincipal, db: Db
) -> PasskeyPublic:
    return await passkeys.rename_passkey(p, db, passkey_id, body.name)


@router.delete("/me/passkeys/{passkey_id}", status_code=204, summary="Remove a passkey")
async def remove_passkey(passkey_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    """Needs a recent second factor; the last factor cannot go where the organisation
    requires one."""
    await passkeys.remove_passkey(p, db, passkey_id)


# --- signing in --------------------------------------------------------------------------------


@router.post(
    "/auth/passkey/options", response_model=PasskeyOptions, summary="Challenge for my passkeys"
)
async def authentication_options(request: Request, p: AnyPrincipal, db: DbAny) -> PasskeyOptions:
    """Options for `navigator.credentials.get` with the caller's passkeys: for the second
    step of a sign-in (`POST /auth/mfa/passkey`) or a step-up (`POST /auth/step-up/passkey`)."""
    return await passkeys.begin_authentication(p, db, _site(request))


@router.post("/auth/mfa/passkey", response_model=SignInResponse, summary="Second step: passkey")
async def verify_mfa(
    body: PasskeyAssertion, request: Request, response: Response, p: AnyPrincipal, db: DbAny
) -> SignInResponse:
    """Completes a password sign-in. The session gets a new token; the old one stops working."""
    try:
        out = await passkeys.verify_mfa(p, db, credential=body.credential)
    except passkeys.CeremonyRefused as refused:
        await db.commit()
        raise refused.error from None
    await db.commit()
    return _answer(request, response, out, _NOT_VERIFIED)


@router.post("/auth/step-up/passkey", status_code=204, summary="Confirm with a passkey")
async def step_up(body: PasskeyAssertion, p: AnyPrincipal, db: DbAny) -> None:
    try:
        await passkeys.step_up(p, db, credential=body.credential)
    except passkeys.CeremonyRefused as refused:
        await db.commit()
        raise refused.error from None


@router.post(
    "/auth/passkey/sign-in/options",
    response_model=PasskeySignInOptions,
    summary="Start a passwordless sign-in",
)
async def sign_in_options(
    request: Request, anon: AnonPrincipal, db: DbAnon
) -> PasskeySignInOptions:
    """Options for `navigator.credentials.get` (any passkey of this server) and the
    `ceremony` to send back. Whether a passkey alone is enough is the organisation's
    choice (MFA policy `passwordless_passkeys`), decided when the passkey is presented."""
    return await passkeys.begin_sign_in(anon, db, _site(request))


@router.post(
    "/auth/passkey/sign-in", response_model=SignInResponse, summary="Sign in with a passkey"
)
async def sign_in(
    body: PasskeySignIn, request: Request, response: Response, anon: AnonPrincipal, db: DbAnon
) -> SignInResponse:
    try:
        out = await passkeys.sign_in(anon, db, ceremony=body.ceremony, credential=body.credential)
    except passkeys.CeremonyRefused as refused:
        await db.commit()  # failure counters and the record stay
        raise refused.error from None
    await db.commit()
    return _answer(request, response, out, _NOT_VERIFIED)
