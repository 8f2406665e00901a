from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from overleg.kernel.crypto.providers.local import load_master_key
from overleg.kernel.errors import ConfigurationError

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def test_env_value_wins_over_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    assert load_master_key(KEY_B64, path, create=True) == KEY
    assert not path.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!!", "not valid base64"),
        (base64.b64encode(bytes(16)).decode(), "decodes to 16 bytes"),
        (base64.b64encode(bytes(33)).decode(), "decodes to 33 bytes"),
        ("", "empty"),
        ("  ", "empty"),
        ("é", "not valid base64"),
    ],
)
def test_bad_env_value_names_the_problem(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        load_master_key(value, tmp_path / "master.key", create=True)
    assert "environment" in str(info.value)
    if value.strip():
        assert value not in str(info.value)  # never echo key material


def test_missing_file_without_create_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    with pytest.raises(ConfigurationError, match="no master key"):
        load_master_key(None, path, create=False)
    assert not path.exists()


def test_created_file_is_0600_and_stable(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "secrets" / "master.key"
    key = load_master_key(None, path, create=True)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.b64decode(path.read_text().strip()) == key
    assert load_master_key(None, path, create=True) == key
    assert load_master_key(None, path, create=False) == key


def test_file_with_surrounding_whitespace_is_read(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(f"\n{KEY_B64}\n")
    path.chmod(0o600)
    assert load_master_key(None, path, create=False) == KEY


@pytest.mark.parametrize("file_mode", [0o640, 0o604, 0o644, 0o660])
def test_file_readable_by_others_is_refused(tmp_path: Path, file_mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_text(KEY_B64)
    path.chmod(file_mode)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_master_key(None, path, create=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [("garbage!!", "not valid base64"), (base64.b64encode(bytes(8)).decode(), "8 bytes")],
)
def test_bad_file_content_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "master.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match=message) as info:
        load_master_key(None, path, create=True)
    assert str(path) in str(info.value)
