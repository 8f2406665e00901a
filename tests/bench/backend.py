"""The database a benchmark runs on, and the runtime built over it.

SQLite (default): a fresh file in a temporary directory. PostgreSQL (``--postgres``): a
schema of our own (``bench_<pid>``) in the test database, created and dropped here; the
``public`` schema that the test suite uses is never touched. Every connection of the
runtime's engine gets ``search_path`` set to that schema when it is opened.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from overleg.bootstrap import alembic_config, build_runtime
from overleg.kernel.db.session import make_engine
from overleg.kernel.runtime import Runtime
from overleg.settings import Settings

PG_URL = os.environ.get("OVERLEG_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    detail: str
    schema: str | None = None


def prepare_sqlite(directory: Path) -> Backend:
    """A migrated SQLite file. Call before the event loop runs (Alembic starts its own)."""
    url = f"sqlite+aiosqlite:///{directory / 'overleg.db'}"
    command.upgrade(alembic_config(url), "head")
    return Backend(
        "sqlite",
        url,
        f"SQLite {sqlite3.sqlite_version}, file in a temporary directory "
        "(WAL, synchronous=NORMAL, as the product sets it)",
    )


def _upgrade(conn: Connection) -> None:
    cfg = alembic_config(str(conn.engine.url))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _quoted(schema: str) -> str:
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"unexpected schema name {schema!r}")
    return f'"{schema}"'


async def prepare_postgres(url: str = PG_URL) -> Backend:
    """Create ``bench_<pid>`` and migrate it. Raises OSError if the server is not there."""
    schema = f"bench_{os.getpid()}"
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            version = await conn.scalar(text("SHOW server_version"))
            sync = await conn.scalar(text("SHOW synchronous_commit"))
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {_quoted(schema)} CASCADE"))
            await conn.execute(text(f"CREATE SCHEMA {_quoted(schema)}"))
            # Session-level: applies to the rest of this connection's life, which ends
            # with engine.dispose() below, so it never leaks into a pooled connection.
            await conn.execute(text(f"SET search_path TO {_quoted(schema)}"))
            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()
    return Backend(
        "postgresql",
        url,
        f"PostgreSQL {version} on 127.0.0.1 (synchronous_commit={sync}), schema {schema}",
        schema,
    )


async def drop_postgres(backend: Backend) -> None:
    assert backend.schema is not None
    engine = make_engine(backend.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {_quoted(backend.schema)} CASCADE"))
    finally:
        await engine.dispose()


def production_argon2() -> dict[str, int]:
    """The argon2 settings' DEFAULTS, passed explicitly so OVERLEG_* variables in the
    environment cannot change what is measured."""
    fields = Settings.model_fields
    return {
        name: int(fields[name].default)
        for name in ("argon2_time_cost", "argon2_memory_kib", "argon2_parallelism")
    }


def make_runtime(backend: Backend, data_dir: Path) -> Runtime:
    master_key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(
        data_dir=data_dir,
        database_url=backend.url,
        master_key=SecretStr(master_key),
        **production_argon2(),  # type: ignore[arg-type]
    )
    rt = build_runtime(settings, create=True)
    if backend.schema is not None:
        _pin_search_path(rt, backend.schema)
    return rt


def _pin_search_path(rt: Runtime, schema: str) -> None:
    """Every new connection of the runtime's engine works in ``schema`` only."""

    @event.listens_for(rt.database.engine.sync_engine, "connect", insert=True)
    def _search_path(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cur = dbapi_conn.cursor()
        cur.execute(f"SET SESSION search_path TO {_quoted(schema)}")
        cur.close()
        dbapi_conn.autocommit = autocommit


def run_on(
    postgres: bool,
    prefix: str,
    body: Callable[[Backend, Path], Coroutine[Any, Any, str]],
) -> str:
    """Run ``body(backend, data_dir)`` on a fresh SQLite file or PostgreSQL schema in a
    scratch folder, and drop the schema afterwards; for a benchmark's ``main``."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        directory = Path(tmp)
        if postgres:

            async def on_postgres() -> str:
                backend = await prepare_postgres()
                try:
                    return await body(backend, directory / "data")
                finally:
                    await drop_postgres(backend)

            return asyncio.run(on_postgres())
        backend = prepare_sqlite(directory)  # Alembic runs its own loop: before ours
        return asyncio.run(body(backend, directory / "data"))
