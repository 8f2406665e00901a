"""Sign-in, the second factor, step-up, TOTP enrolment, recovery codes, passwords.

``sign_in`` and ``verify_mfa`` never raise for a wrong secret: they return an outcome and
leave the failure counters and the audit record in the caller's transaction, which must
COMMIT them; the transport turns the outcome into 401/429 afterwards. Otherwise a
rollback would erase exactly the evidence of an attack.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.chain import SYSTEM_TENANT
from overleg.audit.schemas import Outcome
from overleg.audit.service import record, with_audit
from overleg.identity.models import RecoveryCode, Tenant, User
from overleg.identity.schemas import roles_of
from overleg.kernel.clock import now
from overleg.kernel.db.session import rescope
from overleg.kernel.errors import Conflict, MfaRequired, ValidationFailed
from overleg.kernel.runtime import runtime_of
from overleg.policy.schemas import MfaPolicy
from overleg.policy.service import effective
from overleg.security.authn import recovery, throttle, totp
from overleg.security.authn.passwords import WeakPassword, check_password
from overleg.security.authn.schemas import TotpEnrolment
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize
from overleg.security.models import Passkey, UserSession
from overleg.security.principal import ADMIN_ROLES, Principal
from overleg.security.sessions import (
    ACTIVE,
    MFA_ENROL,
    MFA_PENDING,
    revoke_user_sessions,
    rotate_token,
    start_session,
)

FAMILIAR_FOR = timedelta(days=90)


@dataclass(frozen=True)
class AuthOutcome:
    """``status``: signed_in | mfa_required | mfa_enrolment_required | failed | throttled."""

    status: str
    token: str | None = None
    csrf_token: str | None = None
    retry_after: int = 0
    must_change_password: bool = False


def _limits(db: AsyncSession) -> throttle.Limits:
    s = runtime_of(db).settings
    return throttle.Limits(
        per_account_ip=s.throttle_account_ip_threshold,
        per_account=s.throttle_account_threshold,
        per_ip=s.throttle_ip_threshold,
        max_delay_seconds=s.throttle_max_delay_seconds,
    )


async def _find_user(db: AsyncSession, email: str, tenant: str | None) -> User | None:
    stmt = select(User).where(User.email == email.lower(), User.status == "active")
    if tenant:
        stmt = stmt.join(Tenant, Tenant.id == User.tenant_id).where(Tenant.slug == tenant)
    users = list((await db.scalars(stmt)).all())
    # A person may be a member at home and a guest elsewhere: without a tenant, home wins.
    users.sort(key=lambda u: u.kind != "member")
    return users[0] if users else None


async def _familiar(db: AsyncSession, user_id: uuid.UUID, ip: str | None) -> bool:
    if ip is None:
        return False
    found = await db.scalar(
        select(UserSession.id)
        .where(
            UserSession.user_id == user_id,
            UserSession.ip == ip,
            UserSession.state == ACTIVE,
            UserSession.created_at > now() - FAMILIAR_FOR,
        )
        .limit(1)
    )
    return found is not None


async def _has_passkey(db: AsyncSession, user_id: uuid.UUID) -> bool:
    found = await db.scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1))
    return found is not None


async def _has_second_factor(db: AsyncSession, user: User) -> bool:
    """An authenticator app or a passkey (overleg.security.authn.passkeys)."""
    return user.totp_enabled_at is not None or await _has_passkey(db, user.id)


async def mfa_required_for(db: AsyncSession, user: User) -> bool:
    policy = await effective(db, MfaPolicy, "mfa")
    if policy.require == "all":
        return True
    return policy.require == "admins" and bool(roles_of(user.kind, user.admin_roles) & ADMIN_ROLES)


async def sign_in(
    anon: Principal, db: AsyncSession, *, email: str, password: str, tenant: str | None
) -> AuthOutcome:
    """Check a password. ``db`` is unscoped; it is narrowed to the user's tenant once known.

    The look-ups and the (deliberately slow) password check run before ``db`` writes
    anything, in a read-only session: on SQLite a writing transaction holds the database's
    one write lock, and no one should wait a password hash for it.
    """
    limits = _limits(db)
    rt = runtime_of(db)
    hasher = rt.hasher
    ip = anon.ip or "unknown"
    async with rt.database.session(unscoped=True, readonly=True) as reader:
        found = await _find_user(reader, email, tenant)
        if found is None:
            return await _unknown_account(anon, db, email, password, reader)
        rescope_to = found.tenant_id
        familiar = await _familiar(reader, found.id, anon.ip)
        acctip = f"acctip:{found.id}:{ip}"
        keys = {acctip: limits.per_account_ip}
        if not familiar:
            keys |= {f"acct:{found.id}": limits.per_account, f"ip:{ip}": limits.per_ip}
        wait = await throttle.retry_after(reader, list(keys))
        stored_hash = found.password_hash
    # Not even checked while blocked: a blocked key gives no answer about the password.
    ok = not wait and stored_hash is not None and await hasher.verify_async(stored_hash, password)

    await rescope(db, rescope_to)
    user = await db.get(User, found.id)
    if user is None or user.status != "active":
        return await _unknown_account(anon, db, email, password, None)
    actor = _as_user(anon, user)
    if wait:
        await record(
            actor,
            db,
            "auth.sign_in",
            outcome=Outcome.FAILED,
            target_type="user",
            target_id=user.id,
            details={"reason": "throttled", "retry_after": wait},
        )
        return AuthOutcome("throttled", retry_after=wait)
    if not ok:
        await throttle.fail(db, keys, limits)
        await record(
            actor,
            db,
            "auth.sign_in",
            outcome=Outcome.FAILED,
            target_type="user",
            target_id=user.id,
            details={"reason": "wrong password", "familiar_ip": familiar},
        )
        return AuthOutcome("failed")
    assert user.password_hash is not None
    return await _signed_in(anon, db, user, actor, password, [acctip, f"acct:{user.id}"])


async def _unknown_account(
    anon: Principal, db: AsyncSession, email: str, password: str, reader: AsyncSession | None
) -> AuthOutcome:
    """No such active account: fail exactly like a wrong password would, in time and in
    throttling (a 429 that only real accounts earn would tell which exist)."""
    limits = _limits(db)
    ip = anon.ip or "unknown"
    ghost = "?" + hashlib.sha256(email.lower().encode()).hexdigest()[:32]
    unknown_keys = {
        f"acctip:{ghost}:{ip}": limits.per_account_ip,
        f"acct:{ghost}": limits.per_account,
        f"ip:{ip}": limits.per_ip,
    }
    wait = await throttle.retry_after(reader or db, list(unknown_keys))
    if not wait:
        await runtime_of(db).hasher.verify_dummy_async(password)
        await throttle.fail(db, unknown_keys, limits)
    await record(
        anon,
        db,
        "auth.sign_in",
        outcome=Outcome.FAILED,
        tenant_id=SYSTEM_TENANT,
        details={
            "email": email.lower()[:320],
            "reason": "unknown account" if not wait else "throttled",
        },
    )
    return AuthOutcome("throttled" if wait else "failed", retry_after=wait)


async def _signed_in(
    anon: Principal,
    db: AsyncSession,
    user: User,
    actor: Principal,
    password: str,
    clear_keys: list[str],
) -> AuthOutcome:
    """The password was right: clear the counters and start the session."""
    hasher = runtime_of(db).hasher
    assert user.password_hash is not None
    await throttle.clear(db, clear_keys)
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = await hasher.hash_async(password)
    if await _has_second_factor(db, user):
        state = MFA_PENDING
    elif await mfa_required_for(db, user):
        state = MFA_ENROL
    else:
        state = ACTIVE
    token, session = await start_session(
        db, user, state=state, ip=anon.ip, user_agent=anon.user_agent
    )
    await record(
        actor,
        db,
        "auth.sign_in",
        target_type="user",
        target_id=user.id,
        details={"session_id": str(session.id), "state": state},
    )
    status = {
        ACTIVE: "signed_in",
        MFA_PENDING: "mfa_required",
        MFA_ENROL: "mfa_enrolment_required",
    }[state]
    return AuthOutcome(
        status,
        token=token,
        csrf_token=session.csrf_token,
        must_change_password=user.must_change_password,
    )


def _as_user(anon: Principal, user: User) -> Principal:
    from dataclasses import replace

    from overleg.security.principal import PrincipalKind

    return replace(
        anon,
        kind=PrincipalKind.USER,
        tenant_id=user.tenant_id,
        user_id=user.id,
        label=user.email,
        roles=roles_of(user.kind, user.admin_roles),
    )


async def _user_and_session(principal: Principal, db: AsyncSession) -> tuple[User, UserSession]:
    assert principal.user_id is not None and principal.session_id is not None
    user = await db.get(User, principal.user_id)
    session = await db.get(UserSession, principal.session_id)
    assert user is not None and session is not None
    return user, session


def _totp_aad(user: User) -> bytes:
    return f"totp:{user.tenant_id}:{user.id}".encode()


async def _check_second_factor(
    principal: Principal, db: AsyncSession, user: User, code: str | None, recovery_code: str | None
) -> str | None:
    """Return which factor matched ("totp" | "recovery_code") or None. Marks it used."""
    if code and user.totp_secret_enc:
        keys = runtime_of(db).keys
        secret = (
            await keys.decrypt(db, user.tenant_id, user.totp_secret_enc, _totp_aad(user))
        ).decode()
        step = totp.verify(secret, code, last_used_step=user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            return "totp"
    if recovery_code:
        policy = await effective(db, MfaPolicy, "mfa")
        if not policy.allow_recovery_codes:
            return None
        rows = (
            await db.scalars(
                select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            )
        ).all()
        hit = recovery.matches(recovery_code, [r.code_hash for r in rows])
        if hit:
            row = next(r for r in rows if r.code_hash == hit)
            row.used_at = now()
            return "recovery_code"
    return None


async def verify_mfa(
    principal: Principal, db: AsyncSession, *, code: str | None, recovery_code: str | None
) -> AuthOutcome:
    """Complete a sign-in (session in ``mfa_pending``) with a second factor.

    On success the session gets a NEW token (the pre-MFA token stops working).
    """
    user, session = await _user_and_session(principal, db)
    if session.state != MFA_PENDING:
        raise Conflict("This session is not waiting for a second factor.")
    refused, factor = await _throttled_factor(principal, db, user, code, recovery_code, "auth.mfa")
    if refused is not None:
        return refused
    session.state, session.mfa_at = ACTIVE, now()
    session.amr = "pwd otp" if factor == "totp" else "pwd rc"
    token = rotate_token(session)
    await record(
        principal,
        db,
        "auth.mfa",
        target_type="user",
        target_id=user.id,
        details={"factor": factor, "session_id": str(session.id)},
    )
    return AuthOutcome(
        "signed_in",
        token=token,
        csrf_token=session.csrf_token,
        must_change_password=user.must_change_password,
    )


async def step_up(
    principal: Principal, db: AsyncSession, *, code: str | None, recovery_code: str | None
) -> AuthOutcome:
    """Refresh the session's MFA time (admin pages need a recent one)."""
    user, session = await _user_and_session(principal, db)
    if user.totp_enabled_at is None:
        if await _has_passkey(db, user.id):
            raise Conflict("Confirm with your passkey (POST /api/v1/auth/step-up/passkey).")
        raise Conflict("Set up an authenticator app first (POST /api/v1/me/mfa/totp).")
    result = await verify_mfa_for_step_up(principal, db, user, code, recovery_code)
    if result.status == "signed_in":
        session.mfa_at = now()
    return result


async def _throttled_factor(
    principal: Principal,
    db: AsyncSession,
    user: User,
    code: str | None,
    recovery_code: str | None,
    action: str,
) -> tuple[AuthOutcome | None, str | None]:
    """Check a second factor under the per-user throttle, auditing refusals as ``action``.

    Returns (the refusal to answer with, None) or (None, the factor that matched).
    """
    limits = _limits(db)
    key = f"mfa:{user.id}"
    wait = await throttle.retry_after(db, [key])
    factor = None
    if not wait:
        factor = await _check_second_factor(principal, db, user, code, recovery_code)
    if factor is None:
        if not wait:
            await throttle.fail(db, {key: limits.per_account_ip}, limits)
        await record(
            principal,
            db,
            action,
            outcome=Outcome.FAILED,
            target_type="user",
            target_id=user.id,
            details={"reason": "throttled" if wait else "wrong code"},
        )
        return AuthOutcome("throttled" if wait else "failed", retry_after=wait), None
    await throttle.clear(db, [key])
    return None, factor


async def verify_mfa_for_step_up(
    principal: Principal, db: AsyncSession, user: User, code: str | None, recovery_code: str | None
) -> AuthOutcome:
    refused, _ = await _throttled_factor(principal, db, user, code, recovery_code, "auth.step_up")
    if refused is not None:
        return refused
    # recorded here, where the code is spent, so that every caller leaves a record
    await record(principal, db, "auth.step_up", target_type="user", target_id=user.id)
    return AuthOutcome("signed_in")


# --- TOTP enrolment and recovery codes ------------------------------------------------


async def _require_fresh_mfa(
    principal: Principal, db: AsyncSession, user: User, action: str
) -> None:
    """Changing existing factors needs a recent second factor (if the user has one)."""
    if not await _has_second_factor(db, user):
        return
    minutes = runtime_of(db).settings.step_up_minutes
    if principal.mfa_at is None or now() - principal.mfa_at > timedelta(minutes=minutes):
        # a refused attempt like any other: the unit of work records it after the rollback
        raise with_audit(
            MfaRequired("Verify your second factor again (POST /api/v1/auth/step-up)."),
            principal,
            action,
            outcome=Outcome.DENIED,
            target_type="user",
            target_id=user.id,
            details={"reason": f"needs a second factor in the last {minutes} minutes"},
        )


async def begin_totp(principal: Principal, db: AsyncSession) -> TotpEnrolment:
    authorize(principal, Action.SELF_MFA)
    user, _ = await _user_and_session(principal, db)
    await _require_fresh_mfa(principal, db, user, "mfa.totp_begin")
    secret = totp.new_secret()
    tenant = await db.get(Tenant, user.tenant_id)
    issuer = f"Overleg ({tenant.name})" if tenant else "Overleg"
    uri = totp.provisioning_uri(secret, user.email, issuer)
    keys = runtime_of(db).keys
    user.totp_pending_enc = await keys.encrypt(db, user.tenant_id, secret.encode(), _totp_aad(user))
    await record(principal, db, "mfa.totp_begin", target_type="user", target_id=user.id)
    return TotpEnrolment(
        secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri), qr_png=totp.qr_png_data_uri(uri)
    )


async def activate_totp(principal: Principal, db: AsyncSession, code: str) -> list[str]:
    """Verify one code against the pending secret, switch TOTP on, return recovery codes.

    A session that was waiting for enrolment becomes fully signed in.
    """
    authorize(principal, Action.SELF_MFA)
    user, session = await _user_and_session(principal, db)
    if user.totp_pending_enc is None:
        raise Conflict("Start the enrolment first (POST /api/v1/me/mfa/totp).")
    keys = runtime_of(db).keys
    secret = (
        await keys.decrypt(db, user.tenant_id, user.totp_pending_enc, _totp_aad(user))
    ).decode()
    step = totp.verify(secret, code, last_used_step=None)
    if step is None:
        err = ValidationFailed(
            "That code is not right. Check the time on your phone and try the newest code.",
            extra={"field": "code"},
        )
        raise with_audit(err, principal, "mfa.totp_activate", target_type="user", target_id=user.id)
    user.totp_secret_enc, user.totp_pending_enc = user.totp_pending_enc, None
    user.totp_enabled_at, user.totp_last_step = now(), step
    codes = await _new_recovery_codes(db, user)
    session.state, session.mfa_at, session.amr = ACTIVE, now(), "pwd otp"
    await record(principal, db, "mfa.totp_activate", target_type="user", target_id=user.id)
    return codes


async def _new_recovery_codes(db: AsyncSession, user: User) -> list[str]:
    for old in (
        await db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ).all():
        await db.delete(old)
    codes = recovery.generate_codes()
    for c in codes:
        db.add(
            RecoveryCode(tenant_id=user.tenant_id, user_id=user.id, code_hash=recovery.hash_code(c))
        )
    await db.flush()
    return codes


async def regenerate_recovery_codes(principal: Principal, db: AsyncSession) -> list[str]:
    authorize(principal, Action.SELF_MFA)
    user, _ = await _user_and_session(principal, db)
    if not await _has_second_factor(db, user):
        raise Conflict("Recovery codes come with a second factor; set one up first.")
    await _require_fresh_mfa(principal, db, user, "mfa.recovery_codes")
    codes = await _new_recovery_codes(db, user)
    await record(principal, db, "mfa.recovery_codes", target_type="user", target_id=user.id)
    return codes


async def remove_totp(principal: Principal, db: AsyncSession) -> None:
    authorize(principal, Action.SELF_MFA)
    user, _ = await _user_and_session(principal, db)
    await _require_fresh_mfa(principal, db, user, "mfa.totp_remove")
    # a passkey is a second factor too: the app may go if one is left
    if await mfa_required_for(db, user) and not await _has_passkey(db, user.id):
        raise Conflict("Your organisation requires a second factor; it cannot be removed.")
    user.totp_secret_enc = user.totp_pending_enc = None
    user.totp_enabled_at = user.totp_last_step = None
    for old in (
        await db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ).all():
        await db.delete(old)
    await record(principal, db, "mfa.totp_remove", target_type="user", target_id=user.id)


# --- passwords and sign-out -------------------------------------------------------------


async def change_password(principal: Principal, db: AsyncSession, *, current: str, new: str) -> int:
    """Change the caller's password; other sessions are revoked. Returns how many."""
    authorize(principal, Action.SELF_PASSWORD)
    user, session = await _user_and_session(principal, db)
    hasher = runtime_of(db).hasher
    if user.password_hash is None or not await hasher.verify_async(user.password_hash, current):
        err = ValidationFailed(
            "The current password is not right.", extra={"field": "current_password"}
        )
        raise with_audit(
            err, principal, "user.password_change", target_type="user", target_id=user.id
        )
    tenant = await db.get(Tenant, user.tenant_id)
    try:
        check_password(
            new,
            context=[user.email.split("@")[0], user.display_name, tenant.name if tenant else ""],
        )
    except WeakPassword as e:
        raise ValidationFailed(str(e), extra={"field": "new_password"}) from e
    if await hasher.verify_async(user.password_hash, new):
        raise ValidationFailed(
            "Choose a password different from the current one.", extra={"field": "new_password"}
        )
    user.password_hash = await hasher.hash_async(new)
    user.password_changed_at, user.must_change_password = now(), False
    revoked = await revoke_user_sessions(db, user.id, reason="password changed", keep=session.id)
    await record(
        principal,
        db,
        "user.password_change",
        target_type="user",
        target_id=user.id,
        details={"sessions_revoked": revoked},
    )
    return revoked


async def sign_out(principal: Principal, db: AsyncSession) -> None:
    _, session = await _user_and_session(principal, db)
    session.revoked_at, session.revoked_reason = now(), "signed out"
    await record(principal, db, "auth.sign_out", target_type="session", target_id=session.id)
