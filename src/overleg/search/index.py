"""Writing the blind index: (re)index messages and files, remove them. In the caller's
transaction.

The caller (messaging) indexes a message when it is sent and again when it is edited, and
removes it when it is deleted or purged, in the same transaction as the change itself;
files do the same with ``kind="file"`` documents (``files.scan`` indexes a version that
is scanned clean; deleting, purging and quarantining remove it).
Re-indexing replaces the message's postings and document row completely, so a word that an
edit took out no longer finds the message.

Rows are written with bulk INSERT statements (one per table per call, executemany), so
indexing many messages at once (:func:`index_messages`: a backfill, the benchmark) costs
a few statements per batch rather than per message.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Table, delete, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from overleg.search.blind import TERM_BYTES, blind_term, encode_positions
from overleg.search.keys import check_scope, search_key
from overleg.search.models import IndexedMessage, Posting
from overleg.search.schemas import SearchDocument
from overleg.search.text import term_positions

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
T = TypeVar("T")
_DOCUMENTS = cast(Table, IndexedMessage.__table__)
_POSTINGS = cast(Table, Posting.__table__)
_IN_CHUNK = 500  # ids per IN (...) list
_INSERT_CHUNK = 5_000  # rows per executemany


def to_micros(at: datetime) -> int:
    """An aware datetime as microseconds since the Unix epoch (the stored sort key)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given; use overleg.kernel.clock.now()")
    return (at - EPOCH) // _MICROSECOND


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


async def index_message(db: AsyncSession, doc: SearchDocument, text: str) -> None:
    """(Re)index one message: replaces its postings. In the caller's transaction."""
    await index_messages(db, [(doc, text)])


async def remove_message(db: AsyncSession, tenant_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """Drop a message's postings (deleted or purged)."""
    check_scope(db, tenant_id)
    await _remove(db, tenant_id, [message_id])


async def move_document(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    container_type: str,
    container_id: uuid.UUID,
) -> None:
    """A document moved to another container (a file to another channel): its terms stay,
    its container changes. Nothing happens if it is not indexed."""
    check_scope(db, tenant_id)
    await db.execute(
        update(IndexedMessage)
        .where(IndexedMessage.tenant_id == tenant_id, IndexedMessage.message_id == message_id)
        .values(container_type=container_type, container_id=container_id)
        .execution_options(synchronize_session=False)
    )


async def index_messages(
    db: AsyncSession, items: Iterable[tuple[SearchDocument, str]], *, new: bool = False
) -> None:
    """(Re)index many messages, of any tenants, with bulk statements. A message given twice
    is indexed with its last text.

    ``new=True``: the caller vouches that none of the messages was indexed before (a first
    backfill), so their old rows are not looked for. If one was, the insert fails on the
    primary key and nothing of the batch is written.
    """
    by_tenant: dict[uuid.UUID, dict[uuid.UUID, tuple[SearchDocument, str]]] = defaultdict(dict)
    for doc, text in items:
        by_tenant[doc.tenant_id][doc.message_id] = (doc, text)
    for tenant_id, docs in by_tenant.items():
        check_scope(db, tenant_id)
        key = await search_key(db, tenant_id, create=True)
        assert key is not None
        if not new:
            await _remove(db, tenant_id, list(docs))
        conn = await db.connection()
        bind = _Binder(conn.dialect)
        tenant = bind.uuid(_DOCUMENTS.c.tenant_id, tenant_id)
        blinded: dict[str, bytes] = {}  # a batch repeats its common words many times
        documents: list[tuple[Any, ...]] = []
        postings: list[tuple[Any, ...]] = []
        for doc, text in docs.values():
            created_us = to_micros(doc.created_at)
            message = bind.uuid(_POSTINGS.c.message_id, doc.message_id)
            terms: list[bytes] = []
            for term, positions in term_positions(text).items():
                h = blinded.get(term)
                if h is None:
                    h = blinded[term] = blind_term(key, term)
                terms.append(h)
                postings.append((h, created_us, tenant, message, encode_positions(positions)))
            terms.sort()
            documents.append(
                (
                    tenant,
                    message,
                    doc.container_type,
                    bind.uuid(_DOCUMENTS.c.container_id, doc.container_id),
                    bind.uuid(_DOCUMENTS.c.author_id, doc.author_id),
                    created_us,
                    doc.has_attachment,
                    b"".join(terms),
                    doc.kind,
                )
            )
        # Key order makes the B-tree inserts local (fewer page splits, warmer pages).
        postings.sort()
        await bind.insert_many(conn, _DOCUMENTS, _DOCUMENT_COLUMNS, documents)
        await bind.insert_many(conn, _POSTINGS, _POSTING_COLUMNS, postings)


_DOCUMENT_COLUMNS = (
    "tenant_id",
    "message_id",
    "container_type",
    "container_id",
    "author_id",
    "created_us",
    "has_attachment",
    "terms",
    "kind",
)
_POSTING_COLUMNS = ("term", "created_us", "tenant_id", "message_id", "positions")


class _Binder:
    """Bulk inserts straight through the driver's ``executemany``.

    SQLAlchemy's per-row parameter processing costs more than the database's insert
    itself for these narrow rows, and here almost every value is either raw (bytes, int,
    bool, str) or repeats (the tenant, a message's id on each of its postings). So the
    id columns are converted once per value with the column type's own bind processor,
    and the rows go to ``exec_driver_sql`` as tuples.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._procs: dict[type, Any] = {}

    def uuid(self, column: ColumnElement[Any], value: uuid.UUID | None) -> Any:
        if value is None:
            return None
        key = type(column.type)
        if key not in self._procs:
            self._procs[key] = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        proc = self._procs[key]
        return proc(value) if proc is not None else value

    def _placeholders(self, n: int) -> str:
        style = self.dialect.paramstyle
        if style == "qmark":
            marks = ["?"] * n
        elif style == "numeric_dollar":
            marks = [f"${i}" for i in range(1, n + 1)]
        elif style == "numeric":
            marks = [f":{i}" for i in range(1, n + 1)]
        elif style in ("format", "pyformat"):
            marks = ["%s"] * n
        else:  # pragma: no cover - every dialect we run on is above
            raise RuntimeError(f"unsupported paramstyle {style!r}")
        return ", ".join(marks)

    async def insert_many(
        self,
        conn: AsyncConnection,
        table: Table,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
    ) -> None:
        if not rows:
            return
        preparer = self.dialect.identifier_preparer
        # Only our own table and column names, quoted by the dialect; values are bound.
        sql = (
            f"INSERT INTO {preparer.format_table(table)} "  # noqa: S608
            f"({', '.join(preparer.quote(c) for c in columns)}) "
            f"VALUES ({self._placeholders(len(columns))})"
        )
        for chunk in _chunks(rows, _INSERT_CHUNK):
            await conn.exec_driver_sql(sql, list(chunk))


async def _remove(db: AsyncSession, tenant_id: uuid.UUID, message_ids: list[uuid.UUID]) -> None:
    """Delete the postings and document rows of those messages that are indexed."""
    for ids in _chunks(message_ids, _IN_CHUNK):
        found = (
            await db.execute(
                select(
                    IndexedMessage.message_id, IndexedMessage.created_us, IndexedMessage.terms
                ).where(IndexedMessage.tenant_id == tenant_id, IndexedMessage.message_id.in_(ids))
            )
        ).all()
        for message_id, created_us, packed in found:
            terms = [packed[i : i + TERM_BYTES] for i in range(0, len(packed), TERM_BYTES)]
            for some in _chunks(terms, _IN_CHUNK):
                await db.execute(
                    delete(Posting)
                    .where(
                        Posting.tenant_id == tenant_id,
                        Posting.term.in_(some),
                        Posting.created_us == created_us,
                        Posting.message_id == message_id,
                    )
                    .execution_options(synchronize_session=False)
                )
        if found:
            await db.execute(
                delete(IndexedMessage)
                .where(
                    IndexedMessage.tenant_id == tenant_id,
                    IndexedMessage.message_id.in_([row[0] for row in found]),
                )
                .execution_options(synchronize_session=False)
            )


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
