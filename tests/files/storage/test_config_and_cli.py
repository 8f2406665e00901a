"""``make_object_store`` picks the backend from the settings and refuses bad ``s3_*``
settings with one line; ``overleg storage check`` probes the configured store."""

from __future__ import annotations

from pathlib import Path

import pytest

from overleg.bootstrap import make_object_store
from overleg.files.storage import LocalStore
from overleg.files.storage_s3 import S3Store
from overleg.kernel.errors import ConfigurationError
from overleg.settings import Settings
from tests.conftest import test_settings as settings_for
from tests.fixtures.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Bucket, TcpProxy
from tests.integration.test_cli import env_for, invoke


@pytest.fixture(autouse=True)
def _no_toml_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also read ./overleg.toml: run where there is none.
    monkeypatch.chdir(tmp_path)


def settings(tmp_path: Path, **values: object) -> Settings:
    return settings_for(tmp_path / "data", "sqlite+aiosqlite://", **values)


S3_OK: dict[str, object] = {
    "storage_backend": "s3",
    "s3_endpoint_url": "https://s3.example.net",
    "s3_bucket": "overleg-files",
    "s3_region": "eu-central-1",
    "s3_access_key_id": ACCESS_KEY_ID,
    "s3_secret_access_key": SECRET_ACCESS_KEY,
    "s3_prefix": "prod/",
}


def test_local_is_the_default(tmp_path: Path) -> None:
    store = make_object_store(settings(tmp_path))
    assert isinstance(store, LocalStore)
    assert store.name == "local"
    assert store.root == tmp_path / "data" / "objects"


def test_s3_when_configured(tmp_path: Path) -> None:
    store = make_object_store(settings(tmp_path, **S3_OK))
    assert isinstance(store, S3Store)
    assert store.name == "s3"
    assert (store.bucket, store.endpoint_url, store.region, store.prefix) == (
        "overleg-files",
        "https://s3.example.net",
        "eu-central-1",
        "prod/",
    )
    assert store.location == "https://s3.example.net bucket overleg-files prefix prod/"
    assert SECRET_ACCESS_KEY not in repr(vars(store))


def test_s3_on_aws(tmp_path: Path) -> None:
    """No endpoint: AWS itself; no keys: the environment's credentials (an instance role)."""
    values = {**S3_OK, "s3_endpoint_url": None, "s3_access_key_id": None}
    values["s3_secret_access_key"] = None
    store = make_object_store(settings(tmp_path, **values))
    assert isinstance(store, S3Store)
    assert store.endpoint_url is None
    assert store.location == "AWS S3 (eu-central-1) bucket overleg-files prefix prod/"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"s3_bucket": "Overleg_Files"}, "OVERLEG_S3_BUCKET"),
        ({"s3_bucket": "ab"}, "OVERLEG_S3_BUCKET"),
        ({"s3_bucket": "a..b"}, "OVERLEG_S3_BUCKET"),
        ({"s3_bucket": "-overleg"}, "OVERLEG_S3_BUCKET"),
        ({"s3_endpoint_url": "ftp://s3.example.net"}, "OVERLEG_S3_ENDPOINT_URL"),
        ({"s3_endpoint_url": "s3.example.net"}, "OVERLEG_S3_ENDPOINT_URL"),
        ({"s3_endpoint_url": "https://"}, "OVERLEG_S3_ENDPOINT_URL"),
        ({"s3_endpoint_url": "http://s3.example.net:99999"}, "OVERLEG_S3_ENDPOINT_URL"),
        ({"s3_endpoint_url": "https://s3.example.net/overleg-files"}, "no path"),
        ({"s3_endpoint_url": "https://k:hunter2@s3.example.net"}, "must not carry credentials"),
        ({"s3_prefix": "/prod/"}, "OVERLEG_S3_PREFIX"),
        ({"s3_prefix": "prod//x/"}, "OVERLEG_S3_PREFIX"),
        ({"s3_prefix": "../prod/"}, "OVERLEG_S3_PREFIX"),
        ({"s3_prefix": "a b/"}, "OVERLEG_S3_PREFIX"),
        ({"s3_region": " "}, "OVERLEG_S3_REGION"),
        ({"s3_secret_access_key": None}, "set both"),
        ({"s3_access_key_id": None}, "set both"),
    ],
)
def test_bad_s3_settings_are_refused(tmp_path: Path, change: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as caught:
        make_object_store(settings(tmp_path, **{**S3_OK, **change}))
    message = str(caught.value)
    assert "\n" not in message
    assert SECRET_ACCESS_KEY not in message
    assert "hunter2" not in message


def _s3_env(data: Path, endpoint: str, bucket: str, **extra: str) -> dict[str, str | None]:
    return env_for(
        data,
        OVERLEG_STORAGE_BACKEND="s3",
        OVERLEG_S3_ENDPOINT_URL=endpoint,
        OVERLEG_S3_BUCKET=bucket,
        OVERLEG_S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
        OVERLEG_S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        **extra,
    )


def test_storage_check_local(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = invoke(env_for(data), "storage", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "backend:\tlocal",
        f"location:\t{data / 'objects'}",
        "OK",
    ]
    assert list((data / "objects").iterdir()) == []  # the probe is gone


def test_storage_check_local_unwritable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "objects").write_text("a file where the folder should be")
    result = invoke(env_for(data), "storage", "check")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "object store cannot" in result.stderr


def test_storage_check_s3(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    env = _s3_env(tmp_path / "data", s3_bucket.endpoint, s3_bucket.name, OVERLEG_S3_PREFIX="p/")
    result = invoke(env, "storage", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "backend:\ts3",
        f"location:\t{s3_bucket.endpoint} bucket {s3_bucket.name} prefix p/",
        "OK",
    ]
    assert s3_bucket.keys() == []  # the probe is gone
    assert s3_bucket.uploads() == []
    assert SECRET_ACCESS_KEY not in result.output


def test_storage_check_s3_down(tmp_path: Path, s3_bucket: S3Bucket, s3_proxy: TcpProxy) -> None:
    s3_proxy.down()
    result = invoke(_s3_env(tmp_path / "data", s3_proxy.url, s3_bucket.name), "storage", "check")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: The object store ({s3_proxy.url} bucket {s3_bucket.name} prefix (none)) "
        "cannot be reached."
    ]
    assert SECRET_ACCESS_KEY not in result.output
    assert ACCESS_KEY_ID not in result.output


def test_storage_check_s3_no_bucket(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    result = invoke(_s3_env(tmp_path / "data", s3_bucket.endpoint, "not-made"), "storage", "check")
    assert result.exit_code == 1
    assert "the bucket does not exist" in result.stderr


def test_storage_check_bad_settings(tmp_path: Path) -> None:
    env = _s3_env(tmp_path / "data", "ftp://s3.example.net", "overleg")
    result = invoke(env, "storage", "check")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: OVERLEG_S3_ENDPOINT_URL must be an http(s) URL such as https://s3.example.net"
    ]
