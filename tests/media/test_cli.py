"""``overleg media config`` and ``overleg media check``, in-process with ``CliRunner``.

``check`` calls ``asyncio.run``: every invocation runs in a worker thread so the test's
(session-scoped) event loop is neither in the way nor touched.
"""

from __future__ import annotations

import json
import re
import socket
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from overleg.cli.app import app
from overleg.meetings.media.config import JANUS_JCFG, VIDEOROOM_JCFG, WEBSOCKETS_JCFG, new_secret
from overleg.settings import MEDIA_SECRETS_FILE, Settings
from tests.fixtures.janus import JanusInstance, info

#: variables of the developer's shell that would change what the commands do
UNSET: dict[str, str | None] = {
    f"OVERLEG_MEDIA_{k}": None
    for k in ("JANUS", "API_SECRET", "ADMIN_KEY", "ICE_ADDRESS", "RECORDINGS_DIR")
}


def env_for(data_dir: Path, **extra: str) -> dict[str, str | None]:
    return {**UNSET, "OVERLEG_DATA_DIR": str(data_dir), **extra}


def invoke(env: dict[str, str | None], *args: str) -> Result:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(CliRunner().invoke, app, list(args), env=env).result()


def one_line_error(env: dict[str, str | None], *args: str) -> str:
    result = invoke(env, *args)
    assert result.exit_code == 1, (args, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def value(path: Path, key: str) -> str:
    match = re.search(rf'^\s*{key} = "([^"]*)"', path.read_text(), re.M)
    assert match, (path, key)
    return match[1]


@pytest.fixture(autouse=True)
def _no_toml_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also read ./overleg.toml: run where there is none.
    monkeypatch.chdir(tmp_path)


def test_config_writes_the_files_and_the_secrets_once(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "janus"
    env = env_for(data, OVERLEG_MEDIA_ICE_ADDRESS="192.0.2.10")
    first = invoke(env, "media", "config", "--out", str(out), "--ws-port", "18555")
    assert first.exit_code == 0, first.output
    secrets_file = data / MEDIA_SECRETS_FILE
    expected = [secrets_file] + [out / f for f in (JANUS_JCFG, WEBSOCKETS_JCFG, VIDEOROOM_JCFG)]
    assert first.stdout.splitlines() == [f"wrote {p}" for p in expected]
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    stored = json.loads(secrets_file.read_text())
    assert set(stored) == {"api_secret", "admin_key", "admin_secret"}
    assert value(out / JANUS_JCFG, "api_secret") == stored["api_secret"]
    assert value(out / JANUS_JCFG, "admin_secret") == stored["admin_secret"]
    assert value(out / VIDEOROOM_JCFG, "admin_key") == stored["admin_key"]
    assert value(out / WEBSOCKETS_JCFG, "ws_ip") == "127.0.0.1"
    assert re.search(r"^\s*ws_port = 18555$", (out / WEBSOCKETS_JCFG).read_text(), re.M)
    assert value(out / JANUS_JCFG, "ice_enforce_list") == "192.0.2.10"
    assert (data / "recordings-raw").is_dir()

    # a second run reuses the stored secrets and does not rewrite the file
    second = invoke(env, "media", "config", "--out", str(out))
    assert second.exit_code == 0, second.output
    assert f"wrote {secrets_file}" not in second.stdout
    assert json.loads(secrets_file.read_text()) == stored
    assert value(out / JANUS_JCFG, "api_secret") == stored["api_secret"]

    # and the server's settings pick them up from there
    settings = Settings(data_dir=data)
    assert settings.media_api_secret is not None and settings.media_admin_key is not None
    assert settings.media_api_secret.get_secret_value() == stored["api_secret"]
    assert settings.media_admin_key.get_secret_value() == stored["admin_key"]


def test_secrets_from_the_environment_win_and_are_not_stored(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "janus"
    api = new_secret()
    env = env_for(data, OVERLEG_MEDIA_API_SECRET=api, OVERLEG_MEDIA_ICE_ADDRESS="192.0.2.10")
    result = invoke(env, "media", "config", "--out", str(out))
    assert result.exit_code == 0, result.output
    stored = json.loads((data / MEDIA_SECRETS_FILE).read_text())
    assert "api_secret" not in stored and set(stored) == {"admin_key", "admin_secret"}
    assert value(out / JANUS_JCFG, "api_secret") == api
    # the file fills only what the environment left unset
    settings = Settings(data_dir=data, media_api_secret=new_secret())
    assert settings.media_api_secret is not None
    assert settings.media_api_secret.get_secret_value() != api
    assert settings.media_admin_key is not None
    assert settings.media_admin_key.get_secret_value() == stored["admin_key"]


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (["--ws-port", "0"], {}, "ws_port"),
        (["--name", 'a"b'], {}, "name"),
        (["--public-address", "nowhere"], {}, "public_address"),
        ([], {"OVERLEG_MEDIA_API_SECRET": 'has"quote-and-is-long-enough'}, "api_secret"),
        ([], {"OVERLEG_MEDIA_ICE_ADDRESS": "127.0.0.1"}, "ice_address"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], extra: dict[str, str], message: str
) -> None:
    data, out = tmp_path / "data", tmp_path / "janus"
    env = env_for(data, **{"OVERLEG_MEDIA_ICE_ADDRESS": "192.0.2.10", **extra})
    line = one_line_error(env, "media", "config", "--out", str(out), *args)
    assert message in line
    assert not out.exists() and not (data / MEDIA_SECRETS_FILE).exists()


def test_a_broken_secrets_file_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / MEDIA_SECRETS_FILE).write_text("[1, 2]")
    with pytest.raises(ValidationError, match="JSON object"):
        Settings(data_dir=data)
    line = one_line_error(env_for(data), "media", "config", "--out", str(tmp_path / "j"))
    assert "settings are not valid" in line


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


def _servers(*pairs: tuple[str, str]) -> str:
    return json.dumps([{"name": name, "url": url} for name, url in pairs])


def test_check_reports_each_instance(tmp_path: Path, janus: JanusInstance) -> None:
    version = info(janus.url, janus.api_secret)["version_string"]
    env = env_for(
        tmp_path / "data",
        OVERLEG_MEDIA_JANUS=_servers(("local", janus.url)),
        OVERLEG_MEDIA_API_SECRET=janus.api_secret,
    )
    result = invoke(env, "media", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"local\t{janus.url}\t{version}\tOK"]


def test_check_fails_for_a_closed_port_or_a_wrong_secret(
    tmp_path: Path, janus: JanusInstance
) -> None:
    closed = f"ws://127.0.0.1:{_closed_port()}"
    env = env_for(
        tmp_path / "data",
        OVERLEG_MEDIA_JANUS=_servers(("up", janus.url), ("down", closed)),
        OVERLEG_MEDIA_API_SECRET=janus.api_secret,
    )
    result = invoke(env, "media", "check", "--timeout", "3")
    assert result.exit_code == 1, result.output
    up, down = result.stdout.splitlines()
    assert up.startswith("up\t") and up.endswith("\tOK")
    assert down.startswith(f"down\t{closed}\t-\tFAILED: ")

    wrong = env_for(
        tmp_path / "data",
        OVERLEG_MEDIA_JANUS=_servers(("up", janus.url)),
        OVERLEG_MEDIA_API_SECRET=new_secret(),
    )
    result = invoke(wrong, "media", "check")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"up\t{janus.url}\t-\tFAILED: 403 Unauthorized request (wrong or missing secret/token)"
    ]


def test_check_without_instances_says_media_is_off(tmp_path: Path) -> None:
    line = one_line_error(env_for(tmp_path / "data"), "media", "check")
    assert "no Janus instance configured" in line
