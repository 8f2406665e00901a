"""Start-up refusals: a wrong master key, a database schema that is behind, a missing
keyring. Each must stop the process with a ConfigurationError that says what to do, and
change nothing on disk."""

from __future__ import annotations

import asyncio
import base64
import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from overleg.bootstrap import alembic_config, build_runtime, check_schema, schema_status
from overleg.kernel.crypto.errors import WrongMasterKey
from overleg.kernel.errors import ConfigurationError
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.settings import Settings
from tests.conftest import MASTER_KEY

OTHER_KEY = base64.b64encode(b"o" * 32).decode()


def settings(data_dir: Path, database_url: str | None = None, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url or f"sqlite+aiosqlite:///{data_dir.parent / 'o.db'}",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "master_key": MASTER_KEY,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


async def test_a_wrong_master_key_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rt = build_runtime(settings(data), create=True)
    rt.keys.provider.create_kek("t-existing-v1")
    await rt.database.dispose()
    before = _tree(data)
    assert "keyring.json" in before

    for create in (False, True):
        with pytest.raises(WrongMasterKey) as caught:
            build_runtime(settings(data, master_key=OTHER_KEY), create=create)
        assert isinstance(caught.value, ConfigurationError)
        message = str(caught.value)
        assert "master key does not open the keyring" in message
        assert str(data / "keyring.json") in message
        assert OTHER_KEY not in message and MASTER_KEY not in message
        assert _tree(data) == before

    # the same through a master key file instead of the environment
    key_file = tmp_path / "other.key"
    key_file.write_text(OTHER_KEY + "\n")
    key_file.chmod(0o600)
    with pytest.raises(WrongMasterKey):
        build_runtime(settings(data, master_key=None, master_key_file=key_file))
    assert _tree(data) == before

    # the right key still opens everything
    rt = build_runtime(settings(data))
    assert rt.keys.provider.has_kek("t-existing-v1")
    await rt.database.dispose()


async def test_a_missing_keyring_is_refused_without_create(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for extra in ({}, {"master_key": None}):
        with pytest.raises(ConfigurationError) as caught:
            build_runtime(settings(data, **extra))
        assert "overleg init" in str(caught.value)
        assert not (data / "keyring.json").exists()
        assert not (data / "master.key").exists()
    # with create (what `overleg init` does) it is made
    rt = build_runtime(settings(data, master_key=None), create=True)
    await rt.database.dispose()
    assert (data / "keyring.json").exists() and (data / "master.key").exists()


async def _refuses(rt: Runtime, revision: str, way_out: str = "overleg db upgrade") -> None:
    """check_schema and the app's lifespan both refuse, naming the way out."""
    with pytest.raises(ConfigurationError) as caught:
        await check_schema(rt.database)
    message = str(caught.value)
    assert way_out in message and f"at revision {revision}" in message
    app = create_app(rt)
    with pytest.raises(ConfigurationError, match=way_out):
        async with app.router.lifespan_context(app):
            pytest.fail("the app started on a database whose schema is behind")
    await rt.database.dispose()


async def test_a_database_schema_behind_is_refused(tmp_path: Path, sqlite_template: Path) -> None:
    data = tmp_path / "data"
    # a new, empty database
    rt = build_runtime(settings(data, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"), create=True)
    await _refuses(rt, "none")

    # a migrated database, downgraded to the start
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    shutil.copy(sqlite_template, tmp_path / "migrated.db")
    rt = build_runtime(settings(data, url))
    await check_schema(rt.database)
    current, head = await schema_status(rt.database)
    assert current == head is not None
    await rt.database.dispose()
    # alembic's env runs its own event loop: not on this one
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    rt = build_runtime(settings(data, url))
    await _refuses(rt, "none")

    # and a revision this version does not know: a newer Overleg upgraded the database
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    rt = build_runtime(settings(data, url))
    async with rt.database.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    await _refuses(rt, "f00dfeed", way_out="upgraded by a newer version")


async def test_the_app_starts_on_a_current_schema(rt: Runtime) -> None:
    await check_schema(rt.database)
    app = create_app(rt)
    async with app.router.lifespan_context(app):
        assert app.state.runtime is rt
