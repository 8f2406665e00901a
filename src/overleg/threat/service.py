"""Admin alerts: things an administrator must look at (a recording whose conversion
failed, an infected upload, an anomaly), in one queue per organisation, as in the alert
queues of Microsoft 365's Defender and Purview portals.

Jobs and services raise alerts (``raise_alert``, no HTTP route: nobody raises one by
hand); admins who may read alerts (``Action.ALERT_READ``: global, security and compliance
admins) list and open them; those who may manage them (``Action.ALERT_MANAGE``: global
and security admins) resolve them with a note. Every step is audited: ``alert.raise`` by
the system principal, ``alert.resolve`` by the admin.

Events (``alert.raised``, ``alert.resolved``) go to the organisation's active accounts
whose roles grant ``ALERT_READ``, so that an open alert queue updates at once. They carry
the alert's id, kind and severity only; the rest is read over the API, which authorizes
(and asks for a fresh second factor) every time.

Alerts hold ids and reasons, never content: callers must not put message text, file names
or meeting subjects in the title or the details either.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, get_args

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity.models import User
from overleg.identity.schemas import roles_of
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict
from overleg.kernel.events.outbox import emit
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied
from overleg.security.authz.roles import permitted
from overleg.security.principal import Principal, system
from overleg.threat.models import Alert
from overleg.threat.schemas import (
    MAX_LIMIT,
    AlertPublic,
    AlertResolve,
    AlertStatus,
    Severity,
)

#: the job name in the system principal that raises alerts ("system:alerts" in the audit log)
JOB = "alerts"
MAX_KIND = 60
MAX_TITLE = 200
_KIND = re.compile(r"^[a-z][a-z_]*(\.[a-z_]+)*$")
_SEVERITIES = frozenset(get_args(Severity))


def _public(a: Alert) -> AlertPublic:
    return AlertPublic.model_validate(a)


def _json_ready(details: dict[str, Any] | None) -> dict[str, Any]:
    # ids arrive as UUIDs, times as datetimes: store them as the strings the API shows
    out: dict[str, Any] = json.loads(json.dumps(details or {}, default=str))
    return out


async def _readers(db: AsyncSession, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """The active accounts of the organisation whose roles grant ALERT_READ.

    The roles are decided by ``roles.permitted`` (not by listing role names here), so a
    role that gains or loses ALERT_READ changes who hears of alerts. Guests hold no admin
    roles; only members are looked at."""
    rows = await db.execute(
        select(User.id, User.kind, User.admin_roles).where(
            User.tenant_id == tenant_id, User.status == "active", User.kind == "member"
        )
    )
    return [
        user_id
        for user_id, kind, admin_roles in rows
        if admin_roles and Action.ALERT_READ in permitted(roles_of(kind, admin_roles))
    ]


async def _announce(db: AsyncSession, a: Alert, type: str) -> None:
    """Queue ``alert.<type>`` for the alert readers in the caller's transaction."""
    await emit(
        db,
        tenant_id=a.tenant_id,
        type=f"alert.{type}",
        payload={"alert_id": a.id, "kind": a.kind, "severity": a.severity, "status": a.status},
        recipients=await _readers(db, a.tenant_id),
    )


async def raise_alert(
    db: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: str,
    severity: Severity,
    title: str,
    details: dict[str, Any] | None = None,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
) -> uuid.UUID:
    """Raise an alert for ``tenant_id`` in the caller's transaction (``db`` scoped to that
    tenant); its id. For jobs and services, not over HTTP: no authorization.

    De-duplicated: while an alert of the same ``kind`` about the same target (type and id)
    is open, raising it again returns that alert's id and adds nothing (no record, no
    event). Once it is resolved, the next one is a new alert. Two transactions raising the
    same alert at the same moment may both add one (nothing in the schema forbids it);
    the second is resolved like any other.

    Audited as ``alert.raise`` by the system principal of the tenant; the alert readers
    get an ``alert.raised`` event after commit. ``title`` is cut to its 200 characters.
    Raises ValueError for a ``kind`` that is not a dotted lower-case name of at most 60
    characters or an unknown ``severity`` (programming errors).
    """
    if len(kind) > MAX_KIND or not _KIND.match(kind):
        raise ValueError(f"bad alert kind {kind!r}")
    if severity not in _SEVERITIES:
        raise ValueError(f"bad alert severity {severity!r}")
    target = None if target_id is None else str(target_id)
    # the session is scoped to the tenant; the filter says so for a reader (and holds if a
    # caller hands in an unscoped session)
    same = select(Alert.id).where(
        Alert.tenant_id == tenant_id,
        Alert.status == "open",
        Alert.kind == kind,
        Alert.target_type.is_(None) if target_type is None else Alert.target_type == target_type,
        Alert.target_id.is_(None) if target is None else Alert.target_id == target,
    )
    existing = await db.scalar(same.order_by(Alert.created_at, Alert.id).limit(1))
    if existing is not None:
        return existing
    a = Alert(
        tenant_id=tenant_id,
        kind=kind,
        severity=severity,
        title=" ".join(title.split())[:MAX_TITLE],
        details=_json_ready(details),
        target_type=target_type,
        target_id=target,
        status="open",
    )
    db.add(a)
    await db.flush()
    await record(
        system(tenant_id, job=JOB),
        db,
        "alert.raise",
        target_type="alert",
        target_id=a.id,
        details={
            "kind": kind,
            "severity": severity,
            "about_type": target_type,
            "about_id": target,
        },
    )
    await _announce(db, a, "raised")
    return a.id


async def list_alerts(
    principal: Principal,
    db: AsyncSession,
    *,
    status: AlertStatus | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[AlertPublic]:
    """The organisation's alerts, newest first, at most ``limit`` (1..1000); only those
    with ``status`` and of ``kind`` (exact) when given. Needs ALERT_READ."""
    authorize(principal, Action.ALERT_READ)
    stmt = select(Alert)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    limit = max(1, min(limit, MAX_LIMIT))
    rows = await db.scalars(stmt.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit))
    return [_public(a) for a in rows]


async def _access_alert(
    principal: Principal, db: AsyncSession, alert_id: uuid.UUID, action: str
) -> Alert:
    """The alert, if it exists in the caller's organisation ("not found" otherwise,
    audited as a denial: the same answer for another organisation's)."""
    a = await db.get(Alert, alert_id)
    if a is None or a.tenant_id != principal.tenant_id:
        raise not_found_denied(principal, action, "alert", str(alert_id))
    return a


async def get_alert(principal: Principal, db: AsyncSession, alert_id: uuid.UUID) -> AlertPublic:
    """One alert of the organisation. Needs ALERT_READ (checked before anything is
    loaded: 403 without it); 404 for a missing alert or another organisation's."""
    authorize(principal, Action.ALERT_READ)
    return _public(await _access_alert(principal, db, alert_id, Action.ALERT_READ.value))


async def resolve_alert(
    principal: Principal, db: AsyncSession, alert_id: uuid.UUID, body: AlertResolve
) -> AlertPublic:
    """Resolve an open alert with a note (audited ``alert.resolve``; the alert readers get
    an ``alert.resolved`` event). Needs ALERT_MANAGE (403 without it, before anything is
    loaded); 404 as in ``get_alert``; 409 if it is resolved already, also when another
    admin resolved it a moment before (the update is conditional on "open")."""
    authorize(principal, Action.ALERT_MANAGE)
    a = await _access_alert(principal, db, alert_id, "alert.resolve")
    at = now()
    done = await db.execute(
        update(Alert)
        .where(Alert.id == a.id, Alert.status == "open")
        .values(
            status="resolved",
            resolved_by=principal.label,
            resolved_at=at,
            resolution=body.resolution,
        )
        .execution_options(synchronize_session=False)
    )
    await db.refresh(a)
    if not done.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"This alert was resolved already, by {a.resolved_by} at {a.resolved_at}.")
    await record(
        principal,
        db,
        "alert.resolve",
        target_type="alert",
        target_id=a.id,
        details={"kind": a.kind, "resolution": body.resolution},
    )
    await _announce(db, a, "resolved")
    return _public(a)


__all__ = [
    "AlertPublic",
    "AlertResolve",
    "get_alert",
    "list_alerts",
    "raise_alert",
    "resolve_alert",
]
