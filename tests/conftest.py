"""Fixtures shared by every suite.

Every test that uses ``rt`` (and so ``world``, ``client``, ...) runs once on SQLite and once
on PostgreSQL: the backend is a fixture parameter, not a copy of the test.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import hypothesis
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from overleg.bootstrap import alembic_config, build_runtime
from overleg.kernel import clock
from overleg.kernel.db.session import make_engine
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.migrations.models import metadata
from overleg.settings import Settings
from tests.fixtures.services import PG_URL, databases, missing
from tests.fixtures.world import World, build_world

# No per-example deadlines: a loaded 2-core CI machine would turn slowness into failures
# (speed is measured by the benchmarks). Derandomised in CI so that a run is repeatable.
hypothesis.settings.register_profile(
    "overleg", deadline=None, derandomize=os.environ.get("CI") == "true", print_blob=True
)
hypothesis.settings.load_profile("overleg")

T = TypeVar("T")
MASTER_KEY = base64.b64encode(b"k" * 32).decode()


def _upgrade(conn: Connection) -> None:
    cfg = alembic_config(str(conn.engine.url))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "overleg.db"
    command.upgrade(alembic_config(f"sqlite+aiosqlite:///{path}"), "head")
    return path


def _in_thread(coro: Coroutine[object, object, T]) -> T:
    """Run a coroutine from sync fixture code, even while the test loop is running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _create_database(admin_url: str, name: str) -> str:
    """Create a database of our own on the test server (concurrent runs never collide),
    migrate it and return its URL."""
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()
    return url


async def _drop_database(admin_url: str, name: str) -> None:
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def postgres_ready() -> Iterator[str]:
    """A fresh, migrated database on the PostgreSQL server at OVERLEG_TEST_PG_URL."""
    name = f"overleg_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        url = _in_thread(_create_database(PG_URL, name))
    except (OSError, ConnectionError) as e:
        missing(f"PostgreSQL at {PG_URL} ({e})")
    yield url
    _in_thread(_drop_database(PG_URL, name))


@pytest.fixture(params=databases())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        path = tmp_path / "overleg.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    return str(request.getfixturevalue("postgres_ready"))


async def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


def test_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    """Settings for a test: cheap argon2, a fixed master key, everything under data_dir."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "master_key": MASTER_KEY,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        # tests run the recording jobs themselves, when they want them
        "recordings_process_interval_seconds": 0,
        "recordings_expiry_interval_seconds": 0,
        "files_scan_interval_seconds": 0,
        # small parts, so that multi-part uploads stay small in tests
        "files_part_bytes": 128 * 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its runtime."""
    return {}


@pytest.fixture
async def rt(
    database_url: str, tmp_path: Path, settings_overrides: dict[str, object]
) -> AsyncIterator[Runtime]:
    if database_url.startswith("postgresql"):
        await _truncate_all(database_url)
    runtime = build_runtime(
        test_settings(tmp_path / "data", database_url, **settings_overrides), create=True
    )
    yield runtime
    await runtime.database.dispose()


@pytest.fixture
async def world(rt: Runtime) -> World:
    return await build_world(rt)


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt, check_schema=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(autouse=True)
def _unfreeze_clock() -> Iterator[None]:
    yield
    clock.freeze(None)
