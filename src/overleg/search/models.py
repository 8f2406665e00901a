"""Search rows. Private to ``overleg.search`` and the migrations.

None of these rows holds a plaintext word: terms are keyed hashes (see ``blind``), the
search key is sealed with the tenant's data key.

Message, container and author ids in the two big tables are stored as 16 raw bytes on
SQLite (``CompactUuid``) instead of the 32-character text ``Uuid`` uses there: the postings
table has a row per distinct word per message, and its size is the index's cost.
``tenant_id`` keeps the project's ``Uuid`` type, because the session-level tenant filter
(``kernel.db.tenancy``) binds its value as that type for every tenant-owned table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary, String, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from overleg.kernel.clock import now
from overleg.kernel.db.base import Base, TenantScoped


class CompactUuid(TypeDecorator[uuid.UUID]):
    """A UUID: native ``uuid`` on PostgreSQL, 16 raw bytes (a BLOB) on SQLite."""

    impl = Uuid
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(LargeBinary(16))
        return dialect.type_descriptor(Uuid())

    def process_bind_param(self, value: uuid.UUID | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return value.bytes

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None or dialect.name != "sqlite":
            return value  # type: ignore[no-any-return]
        return uuid.UUID(bytes=bytes(value))


class SearchKey(TenantScoped, Base):
    """A tenant's search key, sealed with the tenant's data key (AAD: :func:`key_aad`).

    One row per tenant (the primary key makes lazy creation race-safe)."""

    __tablename__ = "search_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)


def key_aad(tenant_id: uuid.UUID) -> bytes:
    """Associated data binding a sealed search key to its tenant."""
    return b"search-key:" + tenant_id.bytes


class IndexedMessage(TenantScoped, Base):
    """The filterable facts of one indexed document, and the terms it was indexed under.

    ``kind`` is what the document is: ``message``, or ``file`` (a file's id is kept in
    ``message_id``; ids are unique UUIDv7s across both).

    ``created_us`` is the message's creation time in microseconds since the Unix epoch
    (UTC): an integer sorts and compares the same on both engines. ``terms`` is the
    concatenation of the message's 16-byte blinded terms, so that re-indexing and removal
    find its postings by primary key (no second index on the postings table).
    """

    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_recent", "tenant_id", "created_us", "message_id"),
        Index("ix_search_documents_container", "tenant_id", "container_id", "created_us"),
        Index("ix_search_documents_author", "tenant_id", "author_id", "created_us"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(CompactUuid, primary_key=True)
    container_type: Mapped[str] = mapped_column(String(10))
    container_id: Mapped[uuid.UUID] = mapped_column(CompactUuid)
    author_id: Mapped[uuid.UUID | None] = mapped_column(CompactUuid)
    created_us: Mapped[int] = mapped_column(BigInteger)
    has_attachment: Mapped[bool]
    terms: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(8), server_default="message")


class Posting(TenantScoped, Base):
    """One blinded term of one message, with the term's positions in the message.

    The primary key ``(tenant_id, term, created_us, message_id)`` is the whole index: a
    term's postings are one range, newest message last, and a probe "does message m have
    term t" is one key lookup. On SQLite the table is ``WITHOUT ROWID`` (clustered on the
    key), so that range is contiguous on disk.
    """

    __tablename__ = "search_postings"
    __table_args__ = {"sqlite_with_rowid": False}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    term: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    created_us: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[uuid.UUID] = mapped_column(CompactUuid, primary_key=True)
    positions: Mapped[bytes] = mapped_column(LargeBinary)
