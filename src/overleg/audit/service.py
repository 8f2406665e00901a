"""Audit use cases: record (inside the caller's transaction), search, export, verify."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit import chain
from overleg.audit.models import AuditRecord
from overleg.audit.schemas import (
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecordPublic,
    Outcome,
    VerifyResult,
)
from overleg.kernel.errors import OverlegError
from overleg.kernel.runtime import runtime_of

if TYPE_CHECKING:
    from overleg.kernel.db.session import Database
    from overleg.security.principal import Principal


def entry_for(
    principal: Principal,
    action: str,
    *,
    outcome: Outcome = Outcome.SUCCESS,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    tenant_id: uuid.UUID | None = None,
) -> AuditEntry:
    return AuditEntry(
        tenant_id=tenant_id or principal.tenant_id,
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        details=details or {},
        actor_type=principal.kind.value,
        actor_id=principal.user_id,
        actor_label=principal.label,
        ip=principal.ip,
        user_agent=principal.user_agent,
        request_id=principal.request_id,
    )


E = TypeVar("E", bound=OverlegError)


def with_audit(
    err: E,
    principal: Principal,
    action: str,
    *,
    outcome: Outcome = Outcome.FAILED,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> E:
    """Attach an audit record (``failed`` or ``denied``) to ``err``. Raise the result: the
    unit of work writes the record after the rollback, so the attempt stays on record."""
    err.audit = entry_for(
        principal,
        action,
        outcome=outcome,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    return err


async def record(
    principal: Principal,
    db: AsyncSession,
    action: str,
    *,
    outcome: Outcome = Outcome.SUCCESS,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Append an audit record in the caller's transaction (it commits with the change)."""
    await chain.append(
        db,
        entry_for(
            principal,
            action,
            outcome=outcome,
            target_type=target_type,
            target_id=target_id,
            details=details,
            tenant_id=tenant_id,
        ),
    )


async def record_entry(db: AsyncSession, entry: AuditEntry) -> None:
    await chain.append(db, entry)


def _filtered(tenant_id: uuid.UUID, q: AuditQuery) -> Select[AuditRecord]:
    stmt = select(AuditRecord).where(AuditRecord.tenant_id == tenant_id)
    if q.actor:
        conds = [AuditRecord.actor_label == q.actor]
        with contextlib.suppress(ValueError):
            conds.append(AuditRecord.actor_id == uuid.UUID(q.actor))
        stmt = stmt.where(or_(*conds))
    if q.action:
        if q.action.endswith("."):
            stmt = stmt.where(AuditRecord.action.startswith(q.action, autoescape=True))
        else:
            stmt = stmt.where(AuditRecord.action == q.action)
    if q.target:
        stmt = stmt.where(AuditRecord.target_id == q.target)
    if q.outcome:
        stmt = stmt.where(AuditRecord.outcome == q.outcome.value)
    if q.since:
        stmt = stmt.where(AuditRecord.at >= q.since)
    if q.until:
        stmt = stmt.where(AuditRecord.at < q.until)
    if q.after_seq is not None:
        stmt = stmt.where(AuditRecord.seq > q.after_seq)
    return stmt.order_by(AuditRecord.seq)


async def search(principal: Principal, db: AsyncSession, q: AuditQuery) -> AuditPage:
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize

    authorize(principal, Action.AUDIT_READ)
    rows = (await db.scalars(_filtered(principal.tenant_id, q).limit(q.limit + 1))).all()
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    await record(
        principal, db, "audit.search", details=q.model_dump(mode="json", exclude_none=True)
    )
    return AuditPage(
        records=[AuditRecordPublic.model_validate(r) for r in rows],
        next_after_seq=rows[-1].seq if more and rows else None,
    )


async def start_export(principal: Principal, db: AsyncSession, q: AuditQuery) -> None:
    """Authorize and audit an export; the lines come from ``export_stream`` afterwards."""
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize

    authorize(principal, Action.AUDIT_EXPORT)
    await record(
        principal, db, "audit.export", details=q.model_dump(mode="json", exclude_none=True)
    )


async def export_stream(
    database: Database, tenant_id: uuid.UUID, q: AuditQuery
) -> AsyncIterator[bytes]:
    """JSON Lines of the matching records, read in batches of 1000 in a session of its own
    (a streamed response outlives the request's transaction). Call ``start_export`` first."""
    after = q.after_seq or 0
    async with database.session(tenant_id=tenant_id, readonly=True) as db:
        while True:
            page = q.model_copy(update={"after_seq": after})
            rows = (await db.scalars(_filtered(tenant_id, page).limit(1000))).all()
            if not rows:
                return
            for r in rows:
                line = AuditRecordPublic.model_validate(r).model_dump(mode="json")
                yield json.dumps(line, ensure_ascii=False).encode() + b"\n"
            after = rows[-1].seq
            db.expunge_all()


async def verify(principal: Principal, db: AsyncSession) -> VerifyResult:
    from overleg.security.authz.actions import Action
    from overleg.security.authz.enforce import authorize

    authorize(principal, Action.AUDIT_VERIFY)
    # Walk the chain in a read-only session of its own: on SQLite the request's session
    # holds the write lock from its first statement, and a long walk must not block writers.
    database = runtime_of(db).database
    async with database.session(tenant_id=principal.tenant_id, readonly=True) as reader:
        result = await chain.verify(reader, principal.tenant_id)
    await record(principal, db, "audit.verify", details=result.model_dump(mode="json"))
    return result
