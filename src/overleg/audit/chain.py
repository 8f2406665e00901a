"""The hash chain: canonical form of a record, append, and verification.

Each tenant has its own chain (system events use ``SYSTEM_TENANT``). A record's hash is
SHA-256 over the canonical JSON of its fields (including ``seq`` and ``prev_hash``), so an
edit changes the hash, a deleted record leaves a gap in ``seq`` and a broken link, and a
reorder breaks the links. The chain head row stores the last seq and hash, so cutting
records off the end is noticed too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.models import AuditChainHead, AuditRecord
from overleg.audit.schemas import AuditEntry, VerifyResult
from overleg.kernel.clock import now
from overleg.kernel.ids import new_id

GENESIS = "0" * 64
SYSTEM_TENANT = uuid.UUID(int=0)
_FIELDS = (
    "id",
    "tenant_id",
    "seq",
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
    "prev_hash",
)


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


_UUID_FIELDS = ("id", "tenant_id", "actor_id")


def _digest(values: dict[str, Any]) -> str:
    # The hot path of every audited change: the field types are fixed by the model
    # (UUIDs in _UUID_FIELDS, one timestamp, JSON-ready details, strings and ints).
    body = {f: values[f] for f in _FIELDS}
    for f in _UUID_FIELDS:
        if body[f] is not None:
            body[f] = str(body[f])
    body["at"] = _iso_utc(body["at"])
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def record_hash(rec: AuditRecord) -> str:
    return _digest({f: getattr(rec, f) for f in _FIELDS})


async def ensure_head(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Create the chain head for a new tenant (in the tenant's creating transaction)."""
    if await db.get(AuditChainHead, tenant_id) is None:
        db.add(AuditChainHead(tenant_id=tenant_id, seq=0, last_hash=GENESIS))
        await db.flush()


_HEADS = "overleg.audit.locked_heads"


async def _locked_head(db: AsyncSession, tenant_id: uuid.UUID) -> AuditChainHead:
    """The tenant's chain head, locked for this transaction.

    The first append of a transaction reads it with FOR UPDATE; later appends in the same
    transaction reuse the object, so a batch costs one read and one head update, not one
    of each per record. Keyed by the transaction object: a new transaction locks again.
    """
    txn = db.sync_session.get_transaction()
    cache: dict[uuid.UUID, tuple[object, AuditChainHead]] = db.info.setdefault(_HEADS, {})
    hit = cache.get(tenant_id)
    if hit is not None and hit[0] is txn:
        return hit[1]
    head = (
        await db.execute(
            select(AuditChainHead).where(AuditChainHead.tenant_id == tenant_id).with_for_update()
        )
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead(tenant_id=tenant_id, seq=0, last_hash=GENESIS)
        db.add(head)
    cache[tenant_id] = (txn, head)
    return head


async def append(db: AsyncSession, entry: AuditEntry) -> AuditRecord:
    """Append ``entry`` to its tenant's chain inside the caller's transaction.

    The record and the head update are written at the next flush (at the latest, commit).
    """
    head = await _locked_head(db, entry.tenant_id)
    values = entry.__dict__.copy()  # the fields, shallow (details is replaced below)
    values.update(
        id=new_id(),
        seq=head.seq + 1,
        at=now(),
        prev_hash=head.last_hash,
        # what the JSON column gives back (UUIDs and times as strings): hash exactly that
        details=_json_ready(entry.details),
    )
    # hashed from the plain values: reading them back off the ORM object costs more
    rec = AuditRecord(**values, hash=_digest(values))
    head.seq = rec.seq
    head.last_hash = rec.hash
    db.add(rec)
    return rec


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
        if record_hash(rec) != rec.hash:
            return bad(rec, "record content does not match its hash (edited)")
        prev, expected_seq, checked, newest = rec.hash, expected_seq + 1, checked + 1, rec
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
