"""Engine and sessions. One ``Database`` per process, created by ``bootstrap``."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import overleg.kernel.db.tenancy  # noqa: F401  (registers the scoping listeners)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine. SQLite gets WAL, foreign keys and a busy timeout."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # The audit chain's trigger hashes in the database (migration 0002).
            dbapi_conn.create_function("overleg_sha256", 1, _sha256_hex, deterministic=True)
            # Take over transaction control from the driver (see _sqlite_begin).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Every transaction takes the write lock up front. SQLite has one writer anyway;
            # a deferred transaction that reads and then writes can fail with
            # SQLITE_BUSY_SNAPSHOT instead of waiting, which would break the audit chain's
            # read-head-then-append step under concurrency.
            readonly = conn.get_execution_options().get("overleg_readonly")
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _sha256_hex(text: str | None) -> str | None:
    """SQL ``overleg_sha256(text)``: hex SHA-256 of the UTF-8 text (NULL stays NULL)."""
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


class Database:
    """Hands out sessions that are scoped to a tenant or explicitly unscoped."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._factory = async_sessionmaker(engine, expire_on_commit=False)
        # Long reads (exports, verification) must not hold SQLite's write lock.
        self._readonly_factory = async_sessionmaker(
            engine.execution_options(overleg_readonly=True), expire_on_commit=False
        )
        #: copied into every session's ``info`` (the composition root puts the runtime here)
        self.session_info: dict[str, Any] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(
        self, *, tenant_id: uuid.UUID | None = None, unscoped: bool = False, readonly: bool = False
    ) -> AsyncSession:
        """A new session for one tenant or explicitly unscoped. ``readonly`` sessions take
        no write lock on SQLite (they may still write on PostgreSQL; don't)."""
        if (tenant_id is None) == (not unscoped):
            raise ValueError("give exactly one of tenant_id or unscoped=True")
        s = (self._readonly_factory if readonly else self._factory)()
        s.info.update(self.session_info)
        if tenant_id is not None:
            s.info["tenant_id"] = tenant_id
        else:
            s.info["unscoped"] = True
        return s

    @asynccontextmanager
    async def transaction(
        self, *, tenant_id: uuid.UUID | None = None, unscoped: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: commit on success, roll back on error."""
        async with self.session(tenant_id=tenant_id, unscoped=unscoped) as s, s.begin():
            yield s

    async def dispose(self) -> None:
        await self.engine.dispose()


async def rescope(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Narrow an unscoped session to one tenant once the tenant is known (sign-in).

    Pending rows are flushed first, under the scope they were added with.
    """
    await session.flush()
    session.info.pop("unscoped", None)
    session.info["tenant_id"] = tenant_id
