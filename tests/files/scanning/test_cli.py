"""``overleg scan config|start|stop|check|update-signatures``, in-process with ``CliRunner``.

Commands that call ``asyncio.run`` run in a worker thread, away from the test's loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from overleg.cli.app import app
from overleg.files.scanning import clamd_process, signatures
from overleg.settings import Settings
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.services import missing

#: variables of the developer's shell that would change what the commands do
UNSET: dict[str, str | None] = {
    f"OVERLEG_SCAN_{k}": None
    for k in (
        "CLAMD_SOCKET",
        "CLAMD_TCP",
        "CLAMD_DB_DIR",
        "YARA_DIR",
        "TIMEOUT_SECONDS",
        "DEEP_MAX_BYTES",
        "ARCHIVE_MAX_DEPTH",
        "ARCHIVE_MAX_MEMBERS",
        "ARCHIVE_MAX_EXPANDED_BYTES",
        "ARCHIVE_MAX_RATIO",
    )
}


def env_for(data_dir: Path, **extra: str) -> dict[str, str | None]:
    return {**UNSET, "OVERLEG_DATA_DIR": str(data_dir), **extra}


def invoke(env: dict[str, str | None], *args: str) -> Result:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(CliRunner().invoke, app, list(args), env=env).result()


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(autouse=True)
def _no_toml_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also read ./overleg.toml: run where there is none.
    monkeypatch.chdir(tmp_path)


def test_config_matches_the_settings(tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        OVERLEG_SCAN_ARCHIVE_MAX_DEPTH="3",
        OVERLEG_SCAN_ARCHIVE_MAX_MEMBERS="500",
        OVERLEG_SCAN_ARCHIVE_MAX_EXPANDED_BYTES=str(64 * 1024 * 1024),
        OVERLEG_SCAN_TIMEOUT_SECONDS="60",
    )
    result = invoke(env, "scan", "config", "--stream-max-bytes", str(16 * 1024 * 1024))
    assert result.exit_code == 0, result.output
    conf = tmp_path / "clamd" / "clamd.conf"
    assert f"wrote {conf}" in result.output
    text = conf.read_text()
    settings = dict(
        line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert settings["Foreground"] == "yes"
    assert settings["DatabaseDirectory"] == str((tmp_path / "clamav").resolve())
    assert settings["LocalSocket"] == str((tmp_path / "clamd" / "clamd.sock").resolve())
    assert "TCPSocket" not in settings  # no TCP unless asked
    assert settings["StreamMaxLength"] == settings["MaxFileSize"] == str(16 * 1024 * 1024)
    assert settings["MaxScanSize"] == str(16 * 1024 * 1024 + 64 * 1024 * 1024)
    assert (settings["MaxRecursion"], settings["MaxFiles"]) == ("3", "500")
    assert settings["MaxScanTime"] == "48000"
    assert settings["AlertExceedsMax"] == "yes"
    assert settings["User"] == signatures.current_user()
    assert settings["PidFile"] == str((tmp_path / "clamd" / "clamd.pid").resolve())
    assert oct(conf.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "clamav" / signatures.NDB_FILE).exists()

    with_tcp = invoke({**env, "OVERLEG_SCAN_CLAMD_TCP": "127.0.0.1:13310"}, "scan", "config")
    assert with_tcp.exit_code == 0
    assert re.search(r"^TCPSocket 13310$", conf.read_text(), re.M)
    assert re.search(r"^TCPAddr 127.0.0.1$", conf.read_text(), re.M)


def test_check_a_running_clamd(clamd: ClamdInstance) -> None:
    result = invoke(env_for(clamd.directory), "scan", "check")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines()]
    assert rows[0][0] == "clamd" and rows[0][2].startswith("ClamAV ") and rows[0][3] == "PONG"
    assert rows[1] == ["signatures", signatures.fingerprint(clamd.db_dir, clamd.yara_dir)]
    assert rows[2][0] == "yara"


def test_check_when_clamd_is_down(tmp_path: Path) -> None:
    line = one_line_error(invoke(env_for(tmp_path), "scan", "check"))
    assert "not reachable" in line and "clamd.sock" in line


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A short folder (unix socket paths are short); any clamd left in it is stopped."""
    folder = tmp_path_factory.mktemp("cli")
    yield folder
    clamd_process.stop(Settings(data_dir=folder, scan_clamd_tcp=None, scan_clamd_socket=None))


def test_start_check_stop(data_dir: Path) -> None:
    if signatures.find_binary("clamd") is None:
        missing("clamd (apt-get install clamav-daemon)")
    env = env_for(data_dir)
    started = invoke(env, "scan", "start", "--within", "60")
    assert started.exit_code == 0, started.output
    pid = int(started.stdout.strip())
    assert invoke(env, "scan", "check").exit_code == 0
    again = invoke(env, "scan", "start")  # already running: the same clamd
    assert again.exit_code == 0 and int(again.stdout.strip()) == pid
    stopped = invoke(env, "scan", "stop")
    assert stopped.exit_code == 0 and f"pid {pid}" in stopped.output
    assert "not reachable" in one_line_error(invoke(env, "scan", "check"))
    assert "not running" in invoke(env, "scan", "stop").output


def test_a_stale_pid_file_is_not_trusted(data_dir: Path) -> None:
    (data_dir / "clamd").mkdir()
    (data_dir / "clamd" / "clamd.pid").write_text("1\n")  # init, not our clamd
    assert "not running" in invoke(env_for(data_dir), "scan", "stop").output


def test_update_signatures_offline(tmp_path: Path) -> None:
    if signatures.find_binary("freshclam") is None:
        missing("freshclam (apt-get install clamav-freshclam)")
    result = invoke(
        env_for(tmp_path), "scan", "update-signatures", "--mirror", "http://127.0.0.1:1"
    )
    line = one_line_error(result)
    assert "freshclam failed" in line and "own signatures are in place" in line
    assert "signatures changed" in result.stdout
    assert (tmp_path / "clamav" / signatures.HDB_FILE).exists()
