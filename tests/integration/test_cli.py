"""The ``overleg`` CLI, run in-process with ``CliRunner`` against a real data directory.

The CLI builds its own runtime from ``OVERLEG_*`` variables, exactly as on a server. It
calls ``asyncio.run``, so every invocation runs in a worker thread: the test's event loop
(session-scoped) must neither be in the way nor be touched.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import shutil
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import Result
from sqlalchemy import update
from typer.testing import CliRunner

from overleg.audit.models import AuditRecord
from overleg.cli.app import app
from tests.conftest import MASTER_KEY
from tests.fixtures.world import World

#: the shape of identity.service.one_time_password()
ONE_TIME_PASSWORD = re.compile(r"\b[a-z2-9]{5}(?:-[a-z2-9]{5}){3}\b")
ARGON2 = {
    "OVERLEG_ARGON2_MEMORY_KIB": "8",
    "OVERLEG_ARGON2_TIME_COST": "1",
    "OVERLEG_ARGON2_PARALLELISM": "1",
}
#: variables of the developer's shell that would change what the CLI does
_SHELL = ("MASTER_KEY", "MASTER_KEY_FILE", "KEYRING_FILE", "KEY_PROVIDER", "HOST", "PORT")
UNSET: dict[str, str | None] = {f"OVERLEG_{k}": None for k in _SHELL}


def env_for(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str | None]:
    url = database_url or f"sqlite+aiosqlite:///{data_dir / 'overleg.db'}"
    return {
        **UNSET,
        **ARGON2,
        "OVERLEG_DATA_DIR": str(data_dir),
        "OVERLEG_DATABASE_URL": url,
        **extra,
    }


def invoke(env: dict[str, str | None], *args: str) -> Result:
    """Run ``overleg ARGS`` in a worker thread (the CLI runs its own event loop)."""
    runner = CliRunner()
    # The CLI configures logging for the whole process, to the stderr the runner captures
    # and closes afterwards: give the tests theirs back after every run, whoever called.
    saved, root = structlog.get_config(), logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(runner.invoke, app, list(args), env=env).result()
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture(autouse=True)
def _no_toml_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also read ./overleg.toml: run where there is none.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data directory after a first ``overleg init`` (made once), and init's output."""
    data = tmp_path_factory.mktemp("cli-template") / "data"
    result = invoke(env_for(data), "init")
    assert result.exit_code == 0, result.output
    return data, result.stdout


@pytest.fixture
def data_dir(initialised: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the initialised data directory."""
    copy = tmp_path / "data"
    shutil.copytree(initialised[0], copy)
    return copy


def ok(env: dict[str, str | None], *args: str) -> str:
    result = invoke(env, *args)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def one_line_error(env: dict[str, str | None], *args: str) -> str:
    """Run a command that must fail with exactly one ``error: ...`` line on stderr."""
    result = invoke(env, *args)
    assert result.exit_code != 0, (args, result.output)
    assert isinstance(result.exception, SystemExit), (args, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
    assert "Traceback" not in result.output
    return lines[0]


def export_lines(env: dict[str, str | None], tenant: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ok(env, "audit", "export", "-t", tenant).splitlines()]


def test_help_lists_every_command() -> None:
    result = invoke({**UNSET}, "--help")
    assert result.exit_code == 0
    for command in ("init", "serve", "db", "tenant", "user", "audit", "keys", "teams"):
        assert re.search(rf"^\W*{command}\b", result.stdout, re.MULTILINE), command
    # no arguments: the help as well, not a traceback
    assert "Usage" in invoke({**UNSET}, "user").output


def test_init_prints_a_one_time_password_only_the_first_time(
    initialised: tuple[Path, str], data_dir: Path
) -> None:
    first = initialised[1]
    assert "admin@demo.example" in first
    assert len(ONE_TIME_PASSWORD.findall(first)) == 1
    # the keys were made, the master key file is private
    assert (data_dir / "keyring.json").is_file()
    assert (data_dir / "master.key").stat().st_mode & 0o077 == 0

    second = ok(env_for(data_dir), "init")
    assert "admin@demo.example" in second
    assert "password" not in second.lower()
    assert not ONE_TIME_PASSWORD.search(second)
    assert "demo" in ok(env_for(data_dir), "tenant", "list")
    users = ok(env_for(data_dir), "user", "list", "-t", "demo")
    assert users.count("\n") == 1 and "admin@demo.example" in users and "global_admin" in users
    assert "database: " in ok(env_for(data_dir), "db", "status")


def test_operator_commands_work_and_are_audited(data_dir: Path) -> None:
    env = env_for(data_dir)
    assert "created acme" in ok(
        env, "tenant", "create", "Acme Corp", "--slug", "acme", "--domain", "acme.example"
    )
    tenants = ok(env, "tenant", "list")
    assert re.search(r"^demo\t", tenants, re.MULTILINE)
    assert re.search(r"^acme\t.*\tactive\tAcme Corp$", tenants, re.MULTILINE)

    out = ok(env, "user", "create", "bob@acme.example", "--name", "Bob", "-t", "acme")
    assert "created bob@acme.example" in out and ONE_TIME_PASSWORD.search(out)
    ok(
        env,
        "user",
        "create",
        "Carol@Acme.example",
        "--name",
        "Carol",
        "-t",
        "acme",
        "--role",
        "user_admin",
    )
    users = ok(env, "user", "list", "-t", "acme").splitlines()
    assert [u.split("\t")[:4] for u in users] == [
        ["bob@acme.example", "member", "active", "-"],
        ["carol@acme.example", "member", "active", "user_admin"],
    ]
    assert "bob@acme.example is disabled" in ok(
        env, "user", "disable", "bob@acme.example", "-t", "acme"
    )
    assert "\tdisabled\t" in ok(env, "user", "list", "-t", "acme").splitlines()[0]
    assert "removed" in ok(env, "user", "reset-mfa", "carol@acme.example", "-t", "acme")
    # demo's users are not acme's
    assert "bob@" not in ok(env, "user", "list", "-t", "demo")

    rotated = ok(env, "keys", "rotate", "-t", "acme")
    assert re.match(r"acme: now t-[0-9a-f]{32}-v2, 1 data keys re-wrapped, .* v2$", rotated)
    assert {line.split(":")[0] for line in ok(env, "keys", "rotate").splitlines()} == {
        "demo",
        "acme",
    }

    # every change above is on acme's chain, by the operator
    records = export_lines(env, "acme")
    actions = [r["action"] for r in records]
    for action in (
        "tenant.create",
        "domain.add",
        "user.create",
        "user.disable",
        "user.reset_mfa",
        "keys.rotate",
    ):
        assert action in actions, action
    assert actions.count("keys.rotate") == 2
    assert {r["actor_type"] for r in records} == {"operator"}
    assert all(r["actor_label"].startswith("operator:") and r["actor_id"] is None for r in records)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))

    # search: tab-separated lines, filtered; and it is audited itself
    found = ok(env, "audit", "search", "-t", "acme", "--action", "user.").splitlines()
    assert [line.split("\t")[3] for line in found] == [a for a in actions if a.startswith("user.")]
    assert all(line.split("\t")[2].startswith("operator:") for line in found)
    assert export_lines(env, "acme")[-2]["action"] == "audit.search"  # then the export's own

    # export to a file
    target = data_dir.parent / "acme.jsonl"
    assert "records written" in ok(env, "audit", "export", "-t", "acme", "-o", str(target))
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert lines and lines[-1]["action"] == "audit.export"

    out = ok(env, "audit", "verify")
    assert re.search(r"^\(system\): ok, \d+ records$", out, re.MULTILINE)
    assert re.search(r"^demo: ok, \d+ records$", out, re.MULTILINE)
    assert re.search(r"^acme: ok, \d+ records$", out, re.MULTILINE)


def test_teams_purge_runs_over_every_tenant(data_dir: Path) -> None:
    env = env_for(data_dir)
    assert ok(env, "teams", "purge").strip().endswith("0 team(s) purged.")
    assert "team(s) purged" in ok(env, "teams", "purge", "--days", "0")
    refused = invoke(env, "teams", "purge", "--days", "-1")
    assert refused.exit_code == 2 and "--days" in refused.stderr


def test_recording_jobs_run_on_demand(data_dir: Path) -> None:
    env = env_for(data_dir)
    assert ok(env, "recordings", "process").strip().endswith("0 recording(s) processed.")
    assert ok(env, "recordings", "expire").strip().endswith("0 recycled, 0 purged.")


def test_audit_verify_fails_after_tampering(data_dir: Path) -> None:
    env = env_for(data_dir)
    ok(env, "tenant", "create", "Acme Corp", "--slug", "acme")
    for name in ("ann", "ben", "cas"):
        ok(env, "user", "create", f"{name}@acme.example", "--name", name, "-t", "acme")
    victim = export_lines(env, "acme")[2]
    assert victim["seq"] == 3 and victim["action"] == "user.create"

    with sqlite3.connect(data_dir / "overleg.db") as conn:
        cur = conn.execute(
            "UPDATE audit_records SET action = 'user.delete' WHERE id = ?",
            (uuid.UUID(victim["id"]).hex,),
        )
        assert cur.rowcount == 1
    conn.close()

    result = invoke(env, "audit", "verify")
    assert result.exit_code == 1
    assert re.search(
        rf"^acme: BROKEN at record 3 \({victim['id']}\): .*edited", result.stdout, re.MULTILINE
    )
    assert re.search(r"^demo: ok", result.stdout, re.MULTILINE)

    result = invoke(env, "audit", "verify", "--tenant", "acme", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert (doc["chain"], doc["ok"], doc["first_bad_seq"], doc["first_bad_id"]) == (
        "acme",
        False,
        3,
        victim["id"],
    )
    assert ok(env, "audit", "verify", "--tenant", "demo").startswith("demo: ok")


def test_bad_input_is_one_line_on_stderr(data_dir: Path) -> None:
    env = env_for(data_dir)
    keyring = (data_dir / "keyring.json").read_bytes()

    line = one_line_error(env, "user", "list", "-t", "nope")
    assert "nope" in line and "overleg tenant list" in line
    assert "no organisation" in one_line_error(env, "audit", "verify", "-t", "nope")
    line = one_line_error(env, "tenant", "create", "X", "--slug", "Bad Slug")
    assert line.startswith("error: slug: ") and "lowercase" in line
    assert "domain" in one_line_error(
        env, "tenant", "create", "X", "--slug", "x", "--domain", "not a domain"
    )
    assert "exists already" in one_line_error(env, "tenant", "create", "Demo", "--slug", "demo")
    assert "email" in one_line_error(
        env, "user", "create", "not-an-email", "--name", "X", "-t", "demo"
    )
    assert "role" in one_line_error(
        env, "user", "create", "x@demo.example", "--name", "X", "-t", "demo", "--role", "emperor"
    )
    assert "no user" in one_line_error(env, "user", "disable", "nobody@demo.example", "-t", "demo")
    assert "time zone" in one_line_error(
        env, "audit", "search", "-t", "demo", "--since", "2026-01-01T00:00:00"
    )
    # text from the command line is shown as given, never read as console markup
    assert "[/red]" in one_line_error(env, "user", "list", "-t", "[/red]")

    other = base64.b64encode(b"w" * 32).decode()
    line = one_line_error({**env, "OVERLEG_MASTER_KEY": other}, "tenant", "list")
    assert "master key does not open the keyring" in line
    assert "master key" in one_line_error(
        {**env, "OVERLEG_MASTER_KEY": "not base64!"}, "tenant", "list"
    )
    assert (data_dir / "keyring.json").read_bytes() == keyring

    # a database that was never migrated, and a data directory that was never initialised
    empty = env_for(data_dir, f"sqlite+aiosqlite:///{data_dir.parent / 'empty.db'}")
    assert "overleg db upgrade" in one_line_error(empty, "tenant", "list")
    assert "overleg init" in one_line_error(env_for(data_dir.parent / "fresh"), "tenant", "list")
    assert not (data_dir.parent / "fresh" / "master.key").exists()

    # nothing of the above changed the log
    assert ok(env, "audit", "verify").count(": ok") == 2


def test_tenant_names_are_printed_as_given(data_dir: Path) -> None:
    env = env_for(data_dir)
    ok(env, "tenant", "create", "[bold]Odd[/] & Co", "--slug", "odd")
    assert "\t[bold]Odd[/] & Co" in ok(env, "tenant", "list")


async def test_audit_verify_on_the_test_backend(world: World, tmp_path: Path) -> None:
    """``overleg audit verify`` against the database of ``rt`` (PostgreSQL or SQLite)."""
    rt = world.rt
    env = env_for(rt.settings.data_dir, rt.settings.db_url, OVERLEG_MASTER_KEY=MASTER_KEY)

    result = await asyncio.to_thread(invoke, env, "audit", "verify")
    assert result.exit_code == 0, result.output
    for chain in ("(system)", "contoso", "fabrikam"):
        assert re.search(rf"^{re.escape(chain)}: ok, \d+ records$", result.stdout, re.MULTILINE)

    tid = world.tenants["fabrikam"].id
    async with rt.database.transaction(unscoped=True) as db:
        await db.execute(
            update(AuditRecord)
            .where(AuditRecord.tenant_id == tid, AuditRecord.seq == 2)
            .values(details={"injected": True})
        )
    result = await asyncio.to_thread(invoke, env, "audit", "verify")
    assert result.exit_code == 1
    assert re.search(r"^fabrikam: BROKEN at record 2 \(.*edited", result.stdout, re.MULTILINE)
    assert re.search(r"^contoso: ok", result.stdout, re.MULTILINE)
