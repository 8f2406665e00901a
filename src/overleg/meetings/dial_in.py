"""Dial-in: phone callers put into meetings by a dial-in gateway (a PSTN/SIP bridge the
organisation runs), and the admin-managed credentials of those gateways.

A gateway authenticates with ``olg_`` + 256 random bits (shown once, stored as SHA-256)
and asks for a caller to be put into the meeting whose conference id and PIN the caller
typed. The caller then acts in the meeting with their own participant credential
(``overleg.meetings.credentials``), which the result carries for the gateway.

The gateway principal (``PrincipalKind.GATEWAY``) can do nothing but this: the PDP denies
every action to anything that is not a user, operator or system principal, and the
meeting code sees no meeting for it. The only route that accepts a gateway token is
``POST /api/v1/dial-in/calls``, and the only service that takes the principal is
``call_in``.

PIN guessing is throttled per conference id and per gateway (``overleg.security.authn.
throttle``): past ``CONFERENCE_THRESHOLD`` (resp. ``GATEWAY_THRESHOLD``) failures each
further one blocks for 1, 2, 4, ... seconds, up to ``MAX_DELAY_SECONDS``. A wrong PIN and
an unknown conference id get the same answer and count alike. The caller's number is
never stored or audited, only its masked form (``rules.mask_phone``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.schemas import Outcome
from overleg.audit.service import record, with_audit
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, Forbidden, TooManyAttempts, Unauthenticated
from overleg.kernel.runtime import runtime_of
from overleg.meetings import rules
from overleg.meetings.models import DialInGateway, Meeting
from overleg.meetings.room import Knock, enter, require_live
from overleg.meetings.rules import ParticipantType
from overleg.meetings.schemas import (
    DialInGatewayCreate,
    DialInGatewayCreated,
    DialInGatewayPublic,
    DialInJoin,
    JoinResult,
)
from overleg.meetings.secrets import pin_matches
from overleg.security.authn import throttle
from overleg.security.authn.tokens import hash_token, new_token
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied, refuse
from overleg.security.principal import Principal, PrincipalKind

PREFIX = "olg_"
AUTH_METHOD = "dial_in_gateway"
#: failures on one conference id before delays start (a 6-digit PIN: 10^6 to guess)
CONFERENCE_THRESHOLD = 5
#: failures through one gateway, over all conference ids, before delays start
GATEWAY_THRESHOLD = 20
MAX_DELAY_SECONDS = 15 * 60
#: one answer for an unknown conference id and a wrong PIN: it must not tell which
WRONG = "The conference id or PIN is wrong."
ACTION = "meeting.dial_in"
#: ``throttle.fail`` takes the thresholds per key; of the limits it uses the delay cap only
_LIMITS = throttle.Limits(
    per_account_ip=CONFERENCE_THRESHOLD,
    per_account=GATEWAY_THRESHOLD,
    per_ip=GATEWAY_THRESHOLD,
    max_delay_seconds=MAX_DELAY_SECONDS,
)


# --- gateway credentials (admin) ------------------------------------------------------------


def _public(g: DialInGateway) -> DialInGatewayPublic:
    return DialInGatewayPublic(
        id=g.id,
        name=g.name,
        created_at=g.created_at,
        created_by=g.created_by,
        revoked_at=g.revoked_at,
    )


async def create_gateway(
    principal: Principal, db: AsyncSession, data: DialInGatewayCreate
) -> DialInGatewayCreated:
    """A new gateway credential for the caller's tenant (admin, fresh second factor).
    The token is in the answer only; 409 if a live gateway has this name already."""
    authorize(principal, Action.DIAL_IN_MANAGE)
    name = " ".join(data.name.split())
    taken = await db.scalar(
        select(DialInGateway.id).where(
            DialInGateway.name == name, DialInGateway.revoked_at.is_(None)
        )
    )
    if taken is not None:
        # the name is how audit records tell gateways apart: keep live ones distinct
        raise Conflict(f"A dial-in gateway named {name!r} exists already.")
    token = PREFIX + new_token()
    g = DialInGateway(
        tenant_id=principal.tenant_id,
        name=name,
        token_hash=hash_token(token),
        created_by=principal.label,
    )
    db.add(g)
    await db.flush()
    await record(
        principal,
        db,
        "dial_in.gateway_create",
        target_type="dial_in_gateway",
        target_id=g.id,
        details={"name": name},
    )
    return DialInGatewayCreated(gateway=_public(g), token=token)


async def list_gateways(principal: Principal, db: AsyncSession) -> list[DialInGatewayPublic]:
    """The tenant's gateways, revoked ones included, oldest first (admin)."""
    authorize(principal, Action.DIAL_IN_MANAGE)
    rows = await db.scalars(
        select(DialInGateway).order_by(DialInGateway.created_at, DialInGateway.id)
    )
    return [_public(g) for g in rows]


async def revoke_gateway(principal: Principal, db: AsyncSession, gateway_id: uuid.UUID) -> None:
    """Revoke a gateway credential (admin): it stops working at once. Revoking a revoked
    gateway changes nothing; one of another tenant is "not found" (audited)."""
    authorize(principal, Action.DIAL_IN_MANAGE)
    g = await db.get(DialInGateway, gateway_id)
    if g is None or g.tenant_id != principal.tenant_id:
        raise not_found_denied(
            principal, "dial_in.gateway_revoke", "dial_in_gateway", str(gateway_id)
        )
    if g.revoked_at is not None:
        return
    g.revoked_at = now()
    await record(
        principal,
        db,
        "dial_in.gateway_revoke",
        target_type="dial_in_gateway",
        target_id=g.id,
        details={"name": g.name},
    )


# --- the gateway calling in -----------------------------------------------------------------


async def gateway_principal(
    db_unscoped: AsyncSession,
    token: str,
    *,
    ip: str | None,
    user_agent: str | None,
    request_id: str | None,
) -> Principal:
    """The principal of the live gateway with ``token`` (``db_unscoped`` unscoped), for
    ``call_in`` only (see the module docstring). Unauthenticated when the token is
    unknown or revoked."""
    g: DialInGateway | None = None
    if token.startswith(PREFIX):
        g = await db_unscoped.scalar(
            select(DialInGateway).where(
                DialInGateway.token_hash == hash_token(token),
                DialInGateway.revoked_at.is_(None),
            )
        )
    if g is None:
        raise Unauthenticated("This dial-in gateway credential is unknown or was revoked.")
    return Principal(
        kind=PrincipalKind.GATEWAY,
        tenant_id=g.tenant_id,
        label=f"dial-in-gateway:{g.name}"[:320],
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
        auth_method=AUTH_METHOD,
        extra={"gateway_id": str(g.id)},
    )


def _gateway_id(principal: Principal) -> uuid.UUID:
    raw = principal.extra.get("gateway_id")
    if (
        principal.kind is not PrincipalKind.GATEWAY
        or principal.auth_method != AUTH_METHOD
        or not raw
        or "participant_id" in principal.extra
    ):
        raise refuse(principal, ACTION, "only a dial-in gateway puts callers into meetings")
    return uuid.UUID(raw)


def _caller(gateway: Principal, gateway_id: uuid.UUID, masked: str) -> Principal:
    """The caller as an actor: a participant-like principal under the masked number (the
    label ``credentials.principal_for`` gives callers), never the full number."""
    return Principal(
        kind=PrincipalKind.PARTICIPANT,
        tenant_id=gateway.tenant_id,
        label=f"dial-in:{masked}"[:320],
        ip=gateway.ip,
        user_agent=gateway.user_agent,
        request_id=gateway.request_id,
        auth_method="dial_in",
        extra={"gateway_id": str(gateway_id)},
    )


async def _check_secret(
    gateway: Principal, check: AsyncSession, data: DialInJoin, masked: str, gateway_id: uuid.UUID
) -> tuple[uuid.UUID | None, int]:
    """(the meeting's id, 0) for a right conference id and PIN; (None, seconds to wait)
    when throttled; (None, 0) when wrong. Counts and audits failures in ``check``."""
    conf_key = f"dialin:conf:{gateway.tenant_id}:{data.conference_id}"
    gw_key = f"dialin:gw:{gateway_id}"
    details = {
        "conference_id": data.conference_id,
        "caller": masked,
        "gateway_id": str(gateway_id),
    }
    wait = await throttle.retry_after(check, [conf_key, gw_key])
    if wait:
        # not even checked while blocked: a blocked key answers nothing about the PIN
        await record(
            gateway,
            check,
            ACTION,
            outcome=Outcome.DENIED,
            details={**details, "reason": "throttled", "retry_after": wait},
        )
        return None, wait
    m: Meeting | None = await check.scalar(
        select(Meeting).where(Meeting.conference_id == data.conference_id)
    )
    if m is None or not await pin_matches(check, m, data.pin):
        thresholds = {conf_key: CONFERENCE_THRESHOLD, gw_key: GATEWAY_THRESHOLD}
        await throttle.fail(check, thresholds, _LIMITS)
        await record(
            gateway,
            check,
            ACTION,
            outcome=Outcome.DENIED,
            target_type="meeting" if m else None,
            target_id=m.id if m else None,
            details={**details, "reason": "unknown conference id" if m is None else "wrong PIN"},
        )
        return None, 0
    await throttle.clear(check, [conf_key])
    return m.id, 0


async def call_in(gateway: Principal, db: AsyncSession, data: DialInJoin) -> JoinResult:
    """Put a phone caller into the meeting of ``data.conference_id`` in the gateway's
    tenant (``db`` scoped to it), or its lobby, by ``dial_in_bypass`` (``room.enter``).

    The conference id and PIN are checked first, in a transaction of their own that
    commits the failure count and the audit record even though the request then fails;
    so ``db`` must not have run a statement yet (on SQLite it would hold the write lock).
    429 (with ``retry_after``) while throttled; 403 with one message for an unknown
    conference id and a wrong PIN; 409 (audited) for a cancelled or ended meeting, only
    once the PIN was right. The result carries the caller's participant credential.
    """
    gateway_id = _gateway_id(gateway)
    masked = rules.mask_phone(data.caller_number)
    async with runtime_of(db).database.transaction(tenant_id=gateway.tenant_id) as check:
        meeting_id, wait = await _check_secret(gateway, check, data, masked, gateway_id)
    # the failure is committed: these errors carry no audit record of their own
    if wait:
        raise TooManyAttempts(
            f"Too many wrong attempts. Try again in {wait} seconds.", retry_after=wait
        )
    if meeting_id is None:
        raise Forbidden(WRONG)
    m = await db.get(Meeting, meeting_id)
    if m is None:  # deleted since the check a moment ago: as if it never was
        raise Forbidden(WRONG)
    caller = _caller(gateway, gateway_id, masked)
    try:
        require_live(m)
    except Conflict as e:
        raise with_audit(
            e,
            caller,
            ACTION,
            outcome=Outcome.DENIED,
            target_type="meeting",
            target_id=m.id,
            details={"reason": f"meeting {m.status}", "gateway_id": str(gateway_id)},
        ) from None
    knock = Knock(
        type=ParticipantType.DIAL_IN,
        display_name=masked,
        phone_masked=masked,
        how="dial_in",
    )
    result = await enter(caller, db, m, knock)
    # which gateway vouched for this caller (the join record names the caller only)
    await record(
        gateway,
        db,
        ACTION,
        target_type="meeting",
        target_id=m.id,
        details={
            "participant_id": str(result.me.id),
            "caller": masked,
            "gateway_id": str(gateway_id),
            "state": result.me.state,
        },
    )
    return result


__all__ = [
    "CONFERENCE_THRESHOLD",
    "GATEWAY_THRESHOLD",
    "MAX_DELAY_SECONDS",
    "PREFIX",
    "WRONG",
    "call_in",
    "create_gateway",
    "gateway_principal",
    "list_gateways",
    "revoke_gateway",
]
