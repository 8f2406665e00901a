"""Passkeys (WebAuthn, with py_webauthn): a user registers several, names and removes them,
and signs in with one: as the second factor after the password, to confirm a sensitive
change (step-up) or, where the tenant's MFA policy allows it, alone ("passwordless").

Contracts:
- User verification is REQUIRED in every ceremony (PIN or biometrics on the authenticator),
  so a passkey is possession plus knowledge/inherence: phishing-resistant multi-factor
  authentication on its own (:func:`phishing_resistant`).
- Challenges are 32 random bytes kept server side (``WebAuthnChallenge``), valid for
  :data:`CHALLENGE_TTL`, bound to the session that asked or, for a passwordless sign-in, to
  a random handle given with the options; a new one replaces the session's older one. A
  challenge is spent when presented, whatever the outcome.
- The signature counter must grow whenever the authenticator keeps one; a counter that
  does not (a cloned authenticator, or a replayed assertion) is refused and audited.
- The relying party is :func:`relying_party`: the configured public base URL, else the
  address the request came to.
- A ceremony that fails raises :class:`CeremonyRefused` AFTER recording the attempt and
  spending its challenge in ``db``: the caller must COMMIT and then raise ``.error``, or a
  rollback would erase the evidence (as ``service.sign_in`` does for passwords).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from overleg.audit.chain import SYSTEM_TENANT
from overleg.audit.schemas import Outcome
from overleg.audit.service import record, with_audit
from overleg.identity.models import Tenant, User
from overleg.identity.schemas import roles_of
from overleg.kernel.clock import now
from overleg.kernel.db.session import rescope
from overleg.kernel.errors import (
    Conflict,
    Forbidden,
    OverlegError,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)
from overleg.kernel.runtime import runtime_of
from overleg.policy.schemas import MfaPolicy
from overleg.policy.service import effective
from overleg.security.authn import throttle
from overleg.security.authn.passkey_schemas import (
    PasskeyCreated,
    PasskeyOptions,
    PasskeyPublic,
    PasskeySignInOptions,
)

# the sign-in service's own helpers: the same step-up rule and recovery codes for every factor
from overleg.security.authn.service import (
    AuthOutcome,
    _new_recovery_codes,
    _require_fresh_mfa,
    mfa_required_for,
)
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied
from overleg.security.models import Passkey, UserSession, WebAuthnChallenge
from overleg.security.principal import Principal, PrincipalKind
from overleg.security.sessions import ACTIVE, MFA_ENROL, MFA_PENDING, rotate_token, start_session
from overleg.settings import Settings

__all__ = [
    "CHALLENGE_TTL",
    "MAX_PASSKEYS",
    "PHISHING_RESISTANT_AMR",
    "CeremonyRefused",
    "RelyingParty",
    "Site",
    "begin_authentication",
    "begin_registration",
    "begin_sign_in",
    "configured_base_url",
    "finish_registration",
    "list_passkeys",
    "phishing_resistant",
    "relying_party",
    "remove_passkey",
    "rename_passkey",
    "sign_in",
    "step_up",
    "verify_mfa",
]

#: how long a challenge may be answered (the browser's own prompt times out sooner)
CHALLENGE_TTL = timedelta(minutes=5)
#: a hint to the browser, in milliseconds
_PROMPT_MS = 120_000
MAX_PASSKEYS = 20
RP_NAME = "Overleg"
#: RFC 8176 methods that prove possession of a key bound to the site: phishing-resistant
PHISHING_RESISTANT_AMR = frozenset({"hwk", "swk"})

_REGISTER, _SESSION, _SIGN_IN = "register", "session", "sign_in"
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class CeremonyRefused(Exception):
    """A ceremony failed; its record and spent challenge are in ``db``. Commit, then raise
    ``error``."""

    def __init__(self, error: OverlegError) -> None:
        super().__init__(error.detail)
        self.error = error


# --- the relying party -----------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """Where a request came from: its ``Origin`` header (None if absent), ``Host`` header and
    URL scheme. Browsers send ``Origin`` with every POST."""

    origin: str | None
    host: str | None
    scheme: str


@dataclass(frozen=True)
class RelyingParty:
    id: str  # a host name: credentials are scoped to it
    origin: str  # what the browser must report in clientDataJSON


def _normal_origin(url: str) -> str | None:
    """``scheme://host[:port]`` as browsers serialise an origin (default port left out)."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    default = 443 if parts.scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port and port != default else "")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def configured_base_url(settings: Settings) -> str | None:
    """The public base URL an operator set, or None. Settings fill in ``http://HOST:PORT``
    when none is given; that default, and any URL naming an IP address (which cannot be a
    relying party id), count as not set."""
    url = settings.public_base_url
    if not url or url == f"http://{settings.host}:{settings.port}":
        return None
    host = urlsplit(url).hostname
    return None if host is None or _is_ip(host) else url


def relying_party(settings: Settings, site: Site) -> RelyingParty:
    """The relying party for a request: the configured public base URL if there is one,
    else the origin of the request's ``Host``. A request whose ``Origin`` is neither is
    refused (Forbidden); so is an address that is an IP (ValidationFailed)."""
    configured = configured_base_url(settings)
    base = _normal_origin(configured or f"{site.scheme}://{site.host or ''}")
    if base is None:
        raise ValidationFailed("This request does not say which address it was sent to.")
    if site.origin is not None and _normal_origin(site.origin) != base:
        raise Forbidden(f"Passkeys work only on this server's own address ({base}).")
    host = urlsplit(base).hostname or ""
    if _is_ip(host):
        raise ValidationFailed(
            "Passkeys need this server to be reached by a name (such as localhost), not by "
            "an IP address."
        )
    return RelyingParty(id=host, origin=base)


def _rp(principal: Principal, db: AsyncSession, site: Site, action: str) -> RelyingParty:
    try:
        return relying_party(runtime_of(db).settings, site)
    except Forbidden as e:
        raise with_audit(
            e,
            principal,
            action,
            outcome=Outcome.DENIED,
            details={"reason": "foreign origin", "origin": (site.origin or "")[:200]},
        ) from None


def phishing_resistant(amr: tuple[str, ...] | list[str]) -> bool:
    """True if a session's authentication methods include a passkey."""
    return bool(PHISHING_RESISTANT_AMR & set(amr))


def _amr_key(pk: Passkey) -> str:
    # a synced passkey's key lives in software (a password manager), not in one device
    return "swk" if pk.backed_up else "hwk"


# --- challenges --------------------------------------------------------------------------------


async def _new_challenge(
    db: AsyncSession,
    rp: RelyingParty,
    purpose: str,
    *,
    session_id: uuid.UUID | None = None,
    handle_hash: str | None = None,
    user_handle: bytes | None = None,
) -> bytes:
    t = now()
    # expired challenges are useless: clear them whenever one is made (bounds the table)
    await db.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at <= t))
    if session_id is not None:  # one open ceremony of a kind per session
        await db.execute(
            delete(WebAuthnChallenge).where(
                WebAuthnChallenge.session_id == session_id, WebAuthnChallenge.purpose == purpose
            )
        )
    challenge = secrets.token_bytes(32)
    db.add(
        WebAuthnChallenge(
            purpose=purpose,
            challenge=challenge,
            session_id=session_id,
            handle_hash=handle_hash,
            user_handle=user_handle,
            rp_id=rp.id,
            origin=rp.origin,
            expires_at=t + CHALLENGE_TTL,
        )
    )
    await db.flush()
    return challenge


async def _take_challenge(
    db: AsyncSession,
    purpose: str,
    *,
    session_id: uuid.UUID | None = None,
    handle_hash: str | None = None,
) -> WebAuthnChallenge:
    """The open challenge, deleted (spent) in ``db``. Conflict if none or expired."""
    stmt = select(WebAuthnChallenge).where(WebAuthnChallenge.purpose == purpose)
    if session_id is not None:
        stmt = stmt.where(WebAuthnChallenge.session_id == session_id)
    else:
        stmt = stmt.where(WebAuthnChallenge.handle_hash == handle_hash)
    row = await db.scalar(stmt)
    if row is None:
        raise Conflict("No passkey request is open: start again.")
    await db.delete(row)
    await db.flush()
    if row.expires_at <= now():
        raise Conflict("The passkey request expired: start again.")
    return row


def _hash_handle(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def _options(opts: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(options_to_json(opts))
    return out


# --- the account's passkeys ------------------------------------------------------------------


def _public(pk: Passkey) -> PasskeyPublic:
    return PasskeyPublic(
        id=pk.id,
        name=pk.name,
        created_at=pk.created_at,
        last_used_at=pk.last_used_at,
        backed_up=pk.backed_up,
        aaguid=pk.aaguid,
    )


async def _passkeys_of(db: AsyncSession, user_id: uuid.UUID) -> list[Passkey]:
    rows = await db.scalars(
        select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
    )
    return list(rows.all())


async def _me(principal: Principal, db: AsyncSession) -> tuple[User, UserSession]:
    assert principal.user_id is not None and principal.session_id is not None
    user = await db.get(User, principal.user_id)
    session = await db.get(UserSession, principal.session_id)
    assert user is not None and session is not None
    return user, session


async def list_passkeys(principal: Principal, db: AsyncSession) -> list[PasskeyPublic]:
    authorize(principal, Action.SELF_MFA)
    assert principal.user_id is not None
    return [_public(pk) for pk in await _passkeys_of(db, principal.user_id)]


async def begin_registration(principal: Principal, db: AsyncSession, site: Site) -> PasskeyOptions:
    """Options for ``navigator.credentials.create``: a discoverable credential, user
    verification required, none of the user's passkeys again. Needs a recent second factor
    if the user has one (as for the authenticator app)."""
    authorize(principal, Action.SELF_MFA)
    user, session = await _me(principal, db)
    await _require_fresh_mfa(principal, db, user, "passkey.register_begin")
    rp = _rp(principal, db, site, "passkey.register_begin")
    mine = await _passkeys_of(db, user.id)
    if len(mine) >= MAX_PASSKEYS:
        raise Conflict(f"You have {MAX_PASSKEYS} passkeys, the most an account may have.")
    handle = mine[0].user_handle if mine else secrets.token_bytes(32)
    challenge = await _new_challenge(db, rp, _REGISTER, session_id=session.id, user_handle=handle)
    opts = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_name=user.email,
        user_id=handle,
        user_display_name=user.display_name,
        challenge=challenge,
        timeout=_PROMPT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(pk) for pk in mine if pk.rp_id == rp.id],
    )
    await record(
        principal,
        db,
        "passkey.register_begin",
        target_type="user",
        target_id=user.id,
        details={"rp_id": rp.id},
    )
    return PasskeyOptions(options=_options(opts))


def _descriptor(pk: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in pk.transports.split(",") if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=pk.credential_id, transports=transports or None)


async def finish_registration(
    principal: Principal, db: AsyncSession, *, name: str, credential: dict[str, Any]
) -> PasskeyCreated:
    """Verify the authenticator's answer and keep the passkey. The account's first second
    factor comes with recovery codes; a session that had to enrol one is signed in."""
    authorize(principal, Action.SELF_MFA)
    user, session = await _me(principal, db)
    await _require_fresh_mfa(principal, db, user, "passkey.register")
    row = await _take_challenge(db, _REGISTER, session_id=session.id)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=row.challenge,
            expected_rp_id=row.rp_id,
            expected_origin=row.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as e:
        await record(
            principal,
            db,
            "passkey.register",
            outcome=Outcome.FAILED,
            target_type="user",
            target_id=user.id,
            details={"reason": str(e)[:300]},
        )
        raise CeremonyRefused(
            ValidationFailed(
                f"Your passkey could not be checked ({e}). Try again.",
                extra={"field": "credential"},
            )
        ) from None
    if await _credential_known(db, verified.credential_id):
        raise Conflict("This passkey is already registered.")
    mine = await _passkeys_of(db, user.id)
    first_factor = user.totp_enabled_at is None and not mine
    transports = (credential.get("response") or {}).get("transports") or []
    pk = Passkey(
        tenant_id=user.tenant_id,
        user_id=user.id,
        name=name,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        user_handle=row.user_handle or secrets.token_bytes(32),
        rp_id=row.rp_id,
        aaguid=verified.aaguid,
        transports=",".join(t for t in transports if t in _TRANSPORTS)[:200],
        backed_up=verified.credential_backed_up,
    )
    db.add(pk)
    await db.flush()
    codes = await _new_recovery_codes(db, user) if first_factor else None
    if session.state == MFA_ENROL:  # the factor the policy asked for: signed in now
        session.state, session.mfa_at, session.amr = ACTIVE, now(), f"pwd {_amr_key(pk)}"
    await record(
        principal,
        db,
        "passkey.register",
        target_type="passkey",
        target_id=pk.id,
        details={
            "name": name,
            "aaguid": pk.aaguid,
            "backed_up": pk.backed_up,
            "rp_id": pk.rp_id,
            "recovery_codes_issued": codes is not None,
        },
    )
    return PasskeyCreated(passkey=_public(pk), recovery_codes=codes)


async def _credential_known(db: AsyncSession, credential_id: bytes) -> bool:
    """Registered anywhere on the server (credential ids are unique across tenants)."""
    rt = runtime_of(db)
    async with rt.database.session(unscoped=True, readonly=True) as reader:
        found = await reader.scalar(
            select(Passkey.id).where(Passkey.credential_id == credential_id).limit(1)
        )
    return found is not None


async def _own_passkey(
    principal: Principal, db: AsyncSession, passkey_id: uuid.UUID, action: str
) -> Passkey:
    pk = await db.get(Passkey, passkey_id)
    if pk is None or pk.user_id != principal.user_id:
        raise not_found_denied(principal, action, "passkey", str(passkey_id))
    return pk


async def rename_passkey(
    principal: Principal, db: AsyncSession, passkey_id: uuid.UUID, name: str
) -> PasskeyPublic:
    authorize(principal, Action.SELF_MFA)
    pk = await _own_passkey(principal, db, passkey_id, "passkey.rename")
    before, pk.name = pk.name, name
    await record(
        principal,
        db,
        "passkey.rename",
        target_type="passkey",
        target_id=pk.id,
        details={"before": before, "after": name},
    )
    return _public(pk)


async def remove_passkey(principal: Principal, db: AsyncSession, passkey_id: uuid.UUID) -> None:
    """Remove one of the caller's passkeys. Needs a recent second factor; refused (409) if
    the tenant requires a second factor and this is the caller's last one."""
    authorize(principal, Action.SELF_MFA)
    pk = await _own_passkey(principal, db, passkey_id, "passkey.remove")
    user, _ = await _me(principal, db)
    await _require_fresh_mfa(principal, db, user, "passkey.remove")
    others = await db.scalar(
        select(func.count()).where(Passkey.user_id == user.id, Passkey.id != pk.id)
    )
    if not others and user.totp_enabled_at is None and await mfa_required_for(db, user):
        raise Conflict(
            "Your organisation requires a second factor and this is your last one: add "
            "another passkey or an authenticator app first."
        )
    await db.delete(pk)
    await record(
        principal,
        db,
        "passkey.remove",
        target_type="passkey",
        target_id=pk.id,
        details={"name": pk.name},
    )


# --- signing in with a passkey ---------------------------------------------------------------


class _Failed(Exception):
    """Why an assertion was not accepted (internal to this module)."""

    def __init__(
        self, reason: str, *, cloned: bool = False, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason, self.cloned, self.details = reason, cloned, details or {}


def _parse(credential: dict[str, Any]) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError) as e:
        raise _Failed(f"malformed credential: {e}") from None


def _check_assertion(row: WebAuthnChallenge, parsed: AuthenticationCredential, pk: Passkey) -> None:
    """Verify the signature, user verification and the counter; update the passkey."""
    if pk.rp_id != row.rp_id:
        raise _Failed(f"passkey registered for {pk.rp_id}, not {row.rp_id}")
    try:
        # the counter is compared below, after the signature proves the value authentic
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=row.challenge,
            expected_rp_id=row.rp_id,
            expected_origin=row.origin,
            credential_public_key=pk.public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as e:
        raise _Failed(str(e)[:300]) from None
    new = verified.new_sign_count
    if (new or pk.sign_count) and new <= pk.sign_count:
        raise _Failed(
            "signature counter did not increase (a cloned authenticator or a replay)",
            cloned=True,
            details={"stored_count": pk.sign_count, "presented_count": new},
        )
    pk.sign_count, pk.last_used_at = new, now()
    pk.backed_up = verified.credential_backed_up


def _refusal(failure: _Failed) -> Unauthenticated:
    if failure.cloned:
        return Unauthenticated(
            "This passkey was refused: its use counter went backwards, which can mean it "
            "was copied. Use another way to sign in and tell your administrator."
        )
    return Unauthenticated("That passkey could not be verified. Try again.")


def _limits(db: AsyncSession) -> throttle.Limits:
    s = runtime_of(db).settings
    return throttle.Limits(
        per_account_ip=s.throttle_account_ip_threshold,
        per_account=s.throttle_account_threshold,
        per_ip=s.throttle_ip_threshold,
        max_delay_seconds=s.throttle_max_delay_seconds,
    )


async def begin_authentication(
    principal: Principal, db: AsyncSession, site: Site
) -> PasskeyOptions:
    """Options for ``navigator.credentials.get`` with the caller's passkeys, for the second
    factor of a sign-in (session ``mfa_pending``) or a step-up. Conflict without passkeys."""
    user, session = await _me(principal, db)
    rp = _rp(principal, db, site, "auth.passkey_challenge")
    mine = [pk for pk in await _passkeys_of(db, user.id) if pk.rp_id == rp.id]
    if not mine:
        raise Conflict("You have no passkey for this address. Use your authenticator app.")
    challenge = await _new_challenge(db, rp, _SESSION, session_id=session.id)
    opts = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=_PROMPT_MS,
        allow_credentials=[_descriptor(pk) for pk in mine],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    await record(
        principal,
        db,
        "auth.passkey_challenge",
        target_type="session",
        target_id=session.id,
        details={"rp_id": rp.id, "state": session.state},
    )
    return PasskeyOptions(options=_options(opts))


async def _session_assertion(
    principal: Principal, db: AsyncSession, credential: dict[str, Any], action: str
) -> tuple[User, UserSession, Passkey]:
    """Check an assertion against the session's open challenge and the caller's passkeys,
    under the per-user second-factor throttle. Raises CeremonyRefused (recorded)."""
    user, session = await _me(principal, db)
    key = f"mfa:{user.id}"
    wait = await throttle.retry_after(db, [key])
    if wait:
        await record(
            principal,
            db,
            action,
            outcome=Outcome.FAILED,
            target_type="user",
            target_id=user.id,
            details={"reason": "throttled", "factor": "passkey"},
        )
        raise CeremonyRefused(TooManyAttempts(f"Try again in {wait} seconds.", retry_after=wait))
    row = await _take_challenge(db, _SESSION, session_id=session.id)
    pk: Passkey | None = None
    try:
        parsed = _parse(credential)
        pk = await db.scalar(
            select(Passkey).where(
                Passkey.user_id == user.id, Passkey.credential_id == parsed.raw_id
            )
        )
        if pk is None:
            raise _Failed("not one of the user's passkeys")
        _check_assertion(row, parsed, pk)
    except _Failed as failure:
        limits = _limits(db)
        await throttle.fail(db, {key: limits.per_account_ip}, limits)
        await record(
            principal,
            db,
            action,
            outcome=Outcome.DENIED if failure.cloned else Outcome.FAILED,
            target_type="passkey" if pk is not None else "user",
            target_id=pk.id if pk is not None else user.id,
            details={"reason": failure.reason, "factor": "passkey", **failure.details},
        )
        raise CeremonyRefused(_refusal(failure)) from None
    await throttle.clear(db, [key])
    return user, session, pk


async def verify_mfa(
    principal: Principal, db: AsyncSession, *, credential: dict[str, Any]
) -> AuthOutcome:
    """Complete a password sign-in (session ``mfa_pending``) with a passkey. The session
    gets a new token, as with an authenticator code."""
    _, session = await _me(principal, db)
    if session.state != MFA_PENDING:
        raise Conflict("This session is not waiting for a second factor.")
    user, session, pk = await _session_assertion(principal, db, credential, "auth.mfa")
    session.state, session.mfa_at = ACTIVE, now()
    session.amr = f"pwd {_amr_key(pk)}"
    token = rotate_token(session)
    await record(
        principal,
        db,
        "auth.mfa",
        target_type="user",
        target_id=user.id,
        details={"factor": "passkey", "passkey_id": str(pk.id), "session_id": str(session.id)},
    )
    return AuthOutcome(
        "signed_in",
        token=token,
        csrf_token=session.csrf_token,
        must_change_password=user.must_change_password,
    )


async def step_up(principal: Principal, db: AsyncSession, *, credential: dict[str, Any]) -> None:
    """Confirm the second factor again with a passkey (admin pages, factor changes)."""
    user, session, pk = await _session_assertion(principal, db, credential, "auth.step_up")
    session.mfa_at = now()
    await record(
        principal,
        db,
        "auth.step_up",
        target_type="user",
        target_id=user.id,
        details={"factor": "passkey", "passkey_id": str(pk.id)},
    )


# --- passwordless ------------------------------------------------------------------------------


async def begin_sign_in(anon: Principal, db: AsyncSession, site: Site) -> PasskeySignInOptions:
    """Options for a passwordless sign-in (any of the server's discoverable passkeys) and
    the handle that names this pending sign-in. ``db`` is unscoped.

    Not audited: handing out a challenge changes nobody's data, and the sign-in it may lead
    to is recorded whatever its outcome (and an anonymous caller could flood the log).
    """
    rp = relying_party(runtime_of(db).settings, site)
    ceremony = secrets.token_urlsafe(32)
    challenge = await _new_challenge(db, rp, _SIGN_IN, handle_hash=_hash_handle(ceremony))
    opts = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=_PROMPT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return PasskeySignInOptions(options=_options(opts), ceremony=ceremony)


def _as_user(anon: Principal, user: User) -> Principal:
    return replace(
        anon,
        kind=PrincipalKind.USER,
        tenant_id=user.tenant_id,
        user_id=user.id,
        label=user.email,
        roles=roles_of(user.kind, user.admin_roles),
    )


async def sign_in(
    anon: Principal, db: AsyncSession, *, ceremony: str, credential: dict[str, Any]
) -> AuthOutcome:
    """Sign in with a passkey alone, if the passkey's tenant allows it (MfaPolicy
    ``passwordless_passkeys``). ``db`` is unscoped; it is narrowed to the passkey's tenant
    once known. Failures count against the caller's address, like wrong passwords."""
    limits = _limits(db)
    ip_key = f"ip:{anon.ip or 'unknown'}"

    async def refuse_anonymously(reason: str, error: OverlegError) -> CeremonyRefused:
        await record(
            anon,
            db,
            "auth.sign_in",
            outcome=Outcome.FAILED,
            tenant_id=SYSTEM_TENANT,
            details={"method": "passkey", "reason": reason},
        )
        return CeremonyRefused(error)

    wait = await throttle.retry_after(db, [ip_key])
    if wait:
        raise await refuse_anonymously(
            "throttled",
            TooManyAttempts(
                f"Too many failed attempts. Try again in {wait} seconds.", retry_after=wait
            ),
        )
    row = await _take_challenge(db, _SIGN_IN, handle_hash=_hash_handle(ceremony))
    unknown = Unauthenticated("That passkey is not known here.")
    try:
        parsed = _parse(credential)
    except _Failed as failure:
        await throttle.fail(db, {ip_key: limits.per_ip}, limits)
        raise await refuse_anonymously(failure.reason, unknown) from None
    pk = await db.scalar(select(Passkey).where(Passkey.credential_id == parsed.raw_id))
    user = await db.get(User, pk.user_id) if pk is not None else None
    tenant = await db.get(Tenant, user.tenant_id) if user is not None else None
    if pk is None or user is None or tenant is None:
        await throttle.fail(db, {ip_key: limits.per_ip}, limits)
        raise await refuse_anonymously("unknown passkey", unknown)
    await rescope(db, user.tenant_id)
    actor = _as_user(anon, user)

    async def refuse(reason: str, error: OverlegError, **details: Any) -> CeremonyRefused:
        await record(
            actor,
            db,
            "auth.sign_in",
            outcome=Outcome.DENIED if isinstance(error, Forbidden) else Outcome.FAILED,
            target_type="user",
            target_id=user.id,
            details={"method": "passkey", "passkey_id": str(pk.id), "reason": reason, **details},
        )
        return CeremonyRefused(error)

    if user.status != "active" or tenant.status != "active":
        await throttle.fail(db, {ip_key: limits.per_ip}, limits)
        raise await refuse("account not active", unknown)
    try:
        if parsed.response.user_handle is not None and not secrets.compare_digest(
            parsed.response.user_handle, pk.user_handle
        ):
            raise _Failed("user handle does not match the passkey")
        _check_assertion(row, parsed, pk)
    except _Failed as failure:
        await throttle.fail(db, {ip_key: limits.per_ip}, limits)
        raise await refuse(failure.reason, _refusal(failure), **failure.details) from None
    policy = await effective(db, MfaPolicy, "mfa")
    if not policy.passwordless_passkeys:
        # the passkey was genuine (its counter is kept): only the policy says no
        raise await refuse(
            "passwordless sign-in is off for the organisation",
            Forbidden(
                "Your organisation does not allow signing in with a passkey alone. Sign in "
                "with your password; your passkey then works as the second step."
            ),
        )
    token, session = await start_session(
        db, user, state=ACTIVE, ip=anon.ip, user_agent=anon.user_agent, mfa_at=now()
    )
    session.amr = f"{_amr_key(pk)} mfa"
    await record(
        actor,
        db,
        "auth.sign_in",
        target_type="user",
        target_id=user.id,
        details={
            "method": "passkey",
            "passkey_id": str(pk.id),
            "session_id": str(session.id),
            "state": ACTIVE,
        },
    )
    return AuthOutcome(
        "signed_in",
        token=token,
        csrf_token=session.csrf_token,
        must_change_password=user.must_change_password,
    )
