"""The hash chain: canonical form of a record, append, and verification.

Each tenant has its own chain (system events use ``SYSTEM_TENANT``). A record carries
``body_hash``, SHA-256 over the canonical JSON of the event, and ``hash``, SHA-256 over
``prev_hash:seq:body_hash``. An edit changes the body hash, a deleted record leaves a gap
in ``seq`` and a broken link, a reorder breaks the links. The chain head row stores the
last seq and hash, so cutting records off the end is noticed too.

The application computes the body hash; the database does the linking. Appends are
``INSERT``s into the view ``audit_appends``, whose trigger (migration 0002) locks the
tenant's head, assigns ``seq`` and ``prev_hash``, computes ``hash``, inserts the record and
moves the head. Appends of concurrent transactions are serialised by the head's row lock
(SQLite: the write lock). Like ORM objects, appends wait in the session until its next
flush, ORM statement or commit, and then go out in one statement however many there are;
so an append costs what a plain insert costs.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from overleg.audit.models import AuditChainHead, AuditRecord, audit_appends
from overleg.audit.schemas import AuditEntry, VerifyResult
from overleg.kernel.clock import now
from overleg.kernel.db.tenancy import TenantScopeError
from overleg.kernel.ids import new_id

GENESIS = "0" * 64
SYSTEM_TENANT = uuid.UUID(int=0)
# What body_hash covers: everything but the chain position.
_BODY_FIELDS = (
    "id",
    "tenant_id",
    "at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "details",
)
# What a record's hash covered before revision 0002 (records without body_hash).
_LEGACY_FIELDS = (*_BODY_FIELDS[:2], "seq", *_BODY_FIELDS[2:], "prev_hash")
_UUID_FIELDS = ("id", "tenant_id", "actor_id")


def _iso_utc(at: datetime) -> str:
    # in UTC, as the database gives it back (a frozen test clock may be in any zone)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _json_ready(value: Any) -> Any:
    """What the JSON column gives back for ``value``: JSON types, anything else as str."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return str(value)


def _canonical_sha256(values: dict[str, Any], fields: tuple[str, ...]) -> str:
    # The hot path of every audited change: the field types are fixed by the model
    # (UUIDs in _UUID_FIELDS, one timestamp, JSON-ready details, strings and ints).
    body = {f: values[f] for f in fields}
    for f in _UUID_FIELDS:
        if body[f] is not None:
            body[f] = str(body[f])
    body["at"] = _iso_utc(body["at"])
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def body_hash(rec: AuditRecord) -> str:
    """SHA-256 over the canonical JSON of the record's event (not its chain position)."""
    return _canonical_sha256({f: getattr(rec, f) for f in _BODY_FIELDS}, _BODY_FIELDS)


def link_hash(prev_hash: str, seq: int, body: str) -> str:
    """The record hash the database computes: SHA-256 of ``prev_hash:seq:body_hash``."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{body}".encode()).hexdigest()


def record_hash(rec: AuditRecord) -> str:
    """The hash ``rec`` must carry, recomputed from its content and chain position."""
    if rec.body_hash is None:  # written before revision 0002
        return _canonical_sha256({f: getattr(rec, f) for f in _LEGACY_FIELDS}, _LEGACY_FIELDS)
    return link_hash(rec.prev_hash, rec.seq, body_hash(rec))


def _tampered(rec: AuditRecord) -> bool:
    if rec.body_hash is not None and rec.body_hash != body_hash(rec):
        return True
    return record_hash(rec) != rec.hash


async def ensure_head(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Create the chain head for a new tenant (in the tenant's creating transaction)."""
    if await db.get(AuditChainHead, tenant_id) is None:
        db.add(AuditChainHead(tenant_id=tenant_id, seq=0, last_hash=GENESIS))
        await db.flush()


def _check_scope(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    # The insert is a Core statement, which the session's flush guard does not see.
    scope = db.info.get("tenant_id")
    if scope is None and not db.info.get("unscoped"):
        raise TenantScopeError("tenant-owned row written from a session without scope")
    if scope is not None and scope != tenant_id:
        raise TenantScopeError("write to a row of another tenant refused")


_PENDING = "overleg.audit.pending"


async def append(db: AsyncSession, entry: AuditEntry) -> uuid.UUID:
    """Append ``entry`` to its tenant's chain inside the caller's transaction; its id.

    The record is written at the session's next flush, ORM statement or commit (in the
    order of the appends) and commits or rolls back with the caller's transaction.
    """
    _check_scope(db, entry.tenant_id)
    values = entry.__dict__.copy()  # the fields, shallow (details is replaced below)
    values.update(
        id=new_id(),
        at=now(),
        # what the JSON column gives back (UUIDs and times as strings): hash exactly that
        details=_json_ready(entry.details),
    )
    values["body_hash"] = _canonical_sha256(values, _BODY_FIELDS)
    if not db.sync_session.in_transaction():
        # no I/O yet; it gives the append a transaction whose end discards it if unwritten
        db.sync_session.begin()
    db.info.setdefault(_PENDING, []).append(values)
    return values["id"]  # type: ignore[no-any-return]


def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.connection().execute(insert(audit_appends), pending)


@event.listens_for(Session, "before_commit")
def _on_commit(session: Session) -> None:
    _write_pending(session)


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    _write_pending(session)


@event.listens_for(Session, "do_orm_execute")
def _on_statement(state: ORMExecuteState) -> None:
    # like autoflush: a query in the same transaction sees the records appended before it
    _write_pending(state.session)


@event.listens_for(Session, "after_transaction_end")
def _on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed unwritten: they go with it
        session.info.pop(_PENDING, None)


async def _records(db: AsyncSession, tenant_id: uuid.UUID, upto: int) -> AsyncIterator[AuditRecord]:
    last = 0
    while True:
        batch = (
            await db.scalars(
                select(AuditRecord)
                .where(
                    AuditRecord.tenant_id == tenant_id,
                    AuditRecord.seq > last,
                    AuditRecord.seq <= upto,
                )
                .order_by(AuditRecord.seq)
                .limit(1000)
            )
        ).all()
        if not batch:
            return
        for rec in batch:
            yield rec
        last = batch[-1].seq
        db.expunge_all()


async def _head(db: AsyncSession, tenant_id: uuid.UUID) -> tuple[int, str]:
    head = await db.scalar(
        select(AuditChainHead)
        .where(AuditChainHead.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
    return (head.seq, head.last_hash) if head else (0, GENESIS)


async def verify(db: AsyncSession, tenant_id: uuid.UUID) -> VerifyResult:
    """Walk the chain and name the first record that breaks it.

    The chain is checked up to the head as it was when the walk began: appends that
    commit meanwhile are not an error, also where every statement sees the newest commits
    (PostgreSQL's READ COMMITTED). Give it a session of its own: it expunges loaded
    records as it goes to bound memory.
    """
    head_seq, head_hash = await _head(db, tenant_id)
    expected_seq, prev, checked = 1, GENESIS, 0
    newest: AuditRecord | None = None
    linked = False  # seen a record of the current scheme: no legacy record may follow

    def bad(rec: AuditRecord | None, reason: str) -> VerifyResult:
        return VerifyResult(
            tenant_id=tenant_id,
            ok=False,
            checked=checked,
            first_bad_seq=rec.seq if rec else expected_seq,
            first_bad_id=rec.id if rec else None,
            reason=reason,
        )

    async for rec in _records(db, tenant_id, head_seq):
        if rec.seq != expected_seq:
            return bad(rec, f"record {expected_seq} is missing (found {rec.seq} next)")
        if rec.prev_hash != prev:
            return bad(rec, "link to the previous record is broken (reordered or replaced)")
        if _tampered(rec) or (rec.body_hash is None and linked):
            return bad(rec, "record content does not match its hash (edited)")
        prev, expected_seq, checked, newest = rec.hash, expected_seq + 1, checked + 1, rec
        linked = linked or rec.body_hash is not None
    if head_seq != checked:
        return bad(None, f"chain head says {head_seq} records, found {checked} (records removed)")
    if head_hash != prev:
        checked = max(checked - 1, 0)
        return bad(newest, "the newest record is not the one the chain head names (replaced)")
    # Records past that head are fine if a head committed since covers them. Read the head
    # AFTER the records: every append commits its record and the head together.
    beyond = await db.scalar(
        select(func.max(AuditRecord.seq)).where(
            AuditRecord.tenant_id == tenant_id, AuditRecord.seq > head_seq
        )
    )
    if beyond is not None:
        covered, _ = await _head(db, tenant_id)
        if beyond > covered:
            stray = await db.scalar(
                select(AuditRecord)
                .where(AuditRecord.tenant_id == tenant_id, AuditRecord.seq > covered)
                .order_by(AuditRecord.seq)
                .limit(1)
            )
            expected_seq = covered + 1
            return bad(stray, "record is not covered by the chain head (added outside the log)")
    return VerifyResult(tenant_id=tenant_id, ok=True, checked=checked)
