"""The transactional outbox: events are stored in the caller's transaction and delivered
only after it commits.

``emit`` queues an event in the session; nothing is written yet. When the outermost
transaction commits, a ``before_commit`` hook

1. flushes the session (ORM rows, and with them the audit appends, go out first),
2. per tenant, upserts the tenant's ``outbox_heads`` row, adding the number of queued
   events; that takes the row's lock and hands out the next numbers,
3. inserts the events with those numbers.

The head's row lock is held until COMMIT. So within a tenant, events commit in the
order of their numbers: whoever sees event N committed knows 1..N-1 are committed too,
and "everything after my last id" is a correct catch-up query on PostgreSQL, where with
a plain sequence a smaller number can commit after a bigger one. A rollback takes its
numbers back with it (the next commit reuses them), so a tenant's numbers have no gaps;
a client never saw a rolled-back number, because nothing is published before commit.

Why a lock per tenant and not "relay only below the lowest uncommitted id": that needs
the set of in-flight transactions (PostgreSQL's ``pg_snapshot_xmin``, nothing on SQLite)
and a relay that holds events back until the oldest open transaction ends, which adds
latency to every event. The lock costs one statement per emitting commit and serialises
a tenant's emitting commits for the length of one INSERT and the COMMIT, as the audit
chain's head already does for audited ones. It is taken last, after the flush, and the
transaction takes no other lock after it, so it cannot deadlock with the audit head or
with row locks.

After the commit (``after_commit``) the events go to the runtime's broker, which hands
them to the local gateway and to the other nodes. On rollback they are forgotten.
Savepoints: events emitted inside a savepoint that rolls back are forgotten with it.

Events are kept for ``OVERLEG_EVENTS_RETENTION_SECONDS`` and removed by ``purge``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.dml import Insert

from overleg.kernel.clock import now
from overleg.kernel.db.tenancy import TenantScopeError
from overleg.kernel.events.broker import EVENT, Envelope
from overleg.kernel.events.models import OutboxEvent, OutboxHead

log = structlog.get_logger("overleg.events")

_PENDING = "overleg.outbox.pending"  # [(transaction, Envelope without seq)]
_WRITTEN = "overleg.outbox.written"  # [Envelope] to publish after the commit
_TYPE = re.compile(r"^[a-z][a-z_]*(\.[a-z_]+)?$")
MAX_TYPE_LENGTH = 40


def _json(payload: dict[str, Any]) -> str:
    # UUIDs and datetimes as strings: what services naturally hand over
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


def recipients_text(recipients: Iterable[uuid.UUID]) -> str:
    """The stored form of a recipient list (see ``OutboxEvent.recipients``)."""
    return " " + " ".join(r.hex for r in recipients) + " "


def parse_recipients(text: str) -> tuple[uuid.UUID, ...]:
    return tuple(uuid.UUID(hex=h) for h in text.split())


def _current_transaction(session: Session) -> SessionTransaction:
    tx = session.get_nested_transaction() or session.get_transaction()
    assert tx is not None
    return tx


def _check_scope(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    # The rows are written by Core statements, which the session's flush guard does not see.
    scope = db.info.get("tenant_id")
    if scope is None and not db.info.get("unscoped"):
        raise TenantScopeError("event emitted from a session without scope")
    if scope is not None and scope != tenant_id:
        raise TenantScopeError("event for another tenant refused")


async def emit(
    db: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    type: str,
    payload: dict[str, Any],
    recipients: Iterable[uuid.UUID],
) -> None:
    """Queue event ``type`` with JSON-ready ``payload`` for ``recipients`` (user ids).

    Stored when the caller's transaction commits and delivered after that, to the
    recipients' connections on every node; forgotten if it rolls back. The payload is
    serialised now (later changes to the dict do not count); UUIDs and datetimes become
    strings. An event without recipients is not stored. Raises ValueError for a type
    that is not a dotted lower-case name, and TenantScopeError for another tenant.

    Payloads carry ids and kinds, not content: the outbox is stored in clear for the
    retention time, while content is encrypted with the tenant's key and fetched through
    the API, which authorizes every read again.
    """
    if len(type) > MAX_TYPE_LENGTH or not _TYPE.match(type):
        raise ValueError(f"bad event type {type!r}")
    _check_scope(db, tenant_id)
    to = tuple(dict.fromkeys(recipients))  # once each, in the caller's order
    if not to:
        return
    env = Envelope(kind=EVENT, tenant_id=tenant_id, type=type, data=_json(payload), recipients=to)
    session = db.sync_session
    if not session.in_transaction():
        # no I/O yet; it gives the event a transaction whose end discards it if unwritten
        session.begin()
    session.info.setdefault(_PENDING, []).append((_current_transaction(session), env))


def publish_after_commit(db: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Publish ephemeral ``envelopes`` (not stored) once the caller's transaction commits;
    drop them if it rolls back."""
    session = db.sync_session
    if not session.in_transaction():
        session.begin()
    tx = _current_transaction(session)
    session.info.setdefault(_PENDING, []).extend((tx, env) for env in envelopes)


# -- the commit hooks --------------------------------------------------------------------


def _upsert_head(session: Session, tenant_id: uuid.UUID, n: int) -> Insert:
    dialect = session.get_bind().dialect.name
    ins: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = ins(OutboxHead).values(tenant_id=tenant_id, last_seq=n)
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[OutboxHead.tenant_id],
        set_={"last_seq": OutboxHead.last_seq + n},
    ).returning(OutboxHead.last_seq)


def write_pending(session: Session) -> None:
    """Number and insert the queued events (the ``before_commit`` hook's work)."""
    pending: list[tuple[SessionTransaction, Envelope]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    envelopes = [env for _, env in pending]
    # ORM rows first, so that no row lock is taken after the head's (see module docstring).
    session.flush()
    events: dict[uuid.UUID, list[Envelope]] = {}
    for env in envelopes:
        if env.kind == EVENT:
            events.setdefault(env.tenant_id, []).append(env)
    written: list[Envelope] = []
    at = now()
    for tenant_id in sorted(events):  # a fixed order across tenants: no deadlock
        batch = events[tenant_id]
        # Session.execute (not the connection): it writes pending audit appends first.
        last = session.execute(_upsert_head(session, tenant_id, len(batch))).scalar_one()
        first = last - len(batch) + 1
        numbered = [
            Envelope(
                kind=EVENT,
                tenant_id=tenant_id,
                type=env.type,
                data=env.data,
                seq=first + i,
                recipients=env.recipients,
            )
            for i, env in enumerate(batch)
        ]
        session.execute(
            insert(OutboxEvent),
            [
                {
                    "tenant_id": tenant_id,
                    "seq": e.seq,
                    "type": e.type,
                    "data": e.data,
                    "recipients": recipients_text(e.recipients),
                    "created_at": at,
                }
                for e in numbered
            ],
        )
        written.extend(numbered)
    ephemeral = [env for env in envelopes if env.kind != EVENT]
    session.info[_WRITTEN] = written + ephemeral


def _publish_written(session: Session) -> None:
    written: list[Envelope] = session.info.pop(_WRITTEN, [])
    if not written:
        return
    rt = session.info.get("runtime")
    broker = getattr(rt, "broker", None)
    if broker is None:
        return  # a session not opened by a runtime: the events wait in the outbox
    try:
        broker.publish(written)
    except Exception:
        # Committed: failing now would only confuse the caller. The gateways' poll of the
        # outbox delivers them.
        log.exception("outbox_publish_failed", events=len(written))


def _forget(session: Session, rolled_back: SessionTransaction) -> None:
    pending: list[tuple[SessionTransaction, Envelope]] | None = session.info.get(_PENDING)
    if rolled_back.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_WRITTEN, None)
        return
    if not pending:
        return

    def inside(tx: SessionTransaction | None) -> bool:
        while tx is not None:
            if tx is rolled_back:
                return True
            tx = tx.parent
        return False

    session.info[_PENDING] = [(tx, env) for tx, env in pending if not inside(tx)]


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint is released; the outermost commit writes the events
    write_pending(session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    _publish_written(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    _forget(session, previous)


@event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # closed without commit: whatever is left goes with it
        session.info.pop(_PENDING, None)
        session.info.pop(_WRITTEN, None)


# -- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Missed:
    """What a client missed since its last id, as far as the outbox can tell."""

    head: int
    #: the events addressed to the user, oldest first (empty if ``resync``)
    events: list[Envelope]
    #: None, or why the client must reload instead: "expired", "too_many", "unknown_position"
    resync: str | None = None


def _envelope(row: OutboxEvent) -> Envelope:
    return Envelope(
        kind=EVENT,
        tenant_id=row.tenant_id,
        type=row.type,
        data=row.data,
        seq=row.seq,
        recipients=parse_recipients(row.recipients),
    )


async def heads(db: AsyncSession, tenant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The last committed event number of each tenant (0 for a tenant without events)."""
    wanted = list(tenant_ids)
    if not wanted:
        return {}
    rows = await db.execute(
        select(OutboxHead.tenant_id, OutboxHead.last_seq).where(OutboxHead.tenant_id.in_(wanted))
    )
    found: dict[uuid.UUID, int] = {t: s for t, s in rows}
    return {t: found.get(t, 0) for t in wanted}


async def read(db: AsyncSession, tenant_id: uuid.UUID, *, after: int, limit: int) -> list[Envelope]:
    """The tenant's events numbered above ``after``, oldest first, at most ``limit``."""
    rows = await db.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.tenant_id == tenant_id, OutboxEvent.seq > after)
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    return [_envelope(r) for r in rows]


async def missed(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    after: int,
    not_before: datetime,
    limit: int,
) -> Missed:
    """The events for ``user_id`` numbered above ``after``, up to the tenant's head.

    ``resync`` is set instead when the client cannot catch up event by event: some event
    after ``after`` is older than ``not_before`` or already purged ("expired"), more than
    ``limit`` are addressed to it ("too_many"), or ``after`` is not a position of this
    tenant's stream ("unknown_position"). Numbers have no gaps, so event ``after + 1``
    tells whether anything was purged.
    """
    head = (await heads(db, [tenant_id]))[tenant_id]
    if after < 0 or after > head:
        return Missed(head, [], "unknown_position")
    if after == head:
        return Missed(head, [])
    first = await db.scalar(
        select(OutboxEvent.created_at).where(
            OutboxEvent.tenant_id == tenant_id, OutboxEvent.seq == after + 1
        )
    )
    if first is None or first < not_before:
        return Missed(head, [], "expired")
    rows = await db.scalars(
        select(OutboxEvent)
        .where(
            OutboxEvent.tenant_id == tenant_id,
            OutboxEvent.seq > after,
            OutboxEvent.seq <= head,
            OutboxEvent.recipients.like(f"% {user_id.hex} %"),
        )
        .order_by(OutboxEvent.seq)
        .limit(limit + 1)
    )
    found = [_envelope(r) for r in rows]
    if len(found) > limit:
        return Missed(head, [], "too_many")
    return Missed(head, found)


async def purge(db: AsyncSession, *, before: datetime) -> int:
    """Delete the events created before ``before``; returns how many. Needs an unscoped
    session (it spans tenants). Idempotent: several nodes may run it at once."""
    if not db.info.get("unscoped"):
        raise TenantScopeError("purging the outbox spans tenants: use an unscoped session")
    result = await db.execute(
        delete(OutboxEvent)
        .where(OutboxEvent.created_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def count(db: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many of the tenant's events are stored (for tests and metrics)."""
    return int(
        await db.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.tenant_id == tenant_id)
        )
        or 0
    )
