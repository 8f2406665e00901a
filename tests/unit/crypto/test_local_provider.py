from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from overleg.kernel.crypto.errors import (
    DecryptionFailed,
    KeyExists,
    KeyUnavailable,
    WrongMasterKey,
)
from overleg.kernel.crypto.providers.local import LocalKeyringProvider
from overleg.kernel.errors import ConfigurationError

MASTER = bytes(range(32))
DEK = os.urandom(32)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would leave files world-readable, so 0600 must be set on purpose."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def ring(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keyring.json"


def test_keyring_created_with_mode_0600_and_kept_on_rewrite(ring: Path, open_umask: None) -> None:
    p = LocalKeyringProvider(ring, MASTER)
    assert ring.exists()
    assert mode(ring) == 0o600
    p.create_kek("k1")
    assert mode(ring) == 0o600
    p.destroy_kek("k1")
    assert mode(ring) == 0o600
    assert mode(ring.with_name(ring.name + ".lock")) == 0o600
    # Atomic writes leave no temp files behind.
    assert sorted(f.name for f in ring.parent.iterdir()) == ["keyring.json", "keyring.json.lock"]


def test_wrong_master_key_refuses_to_open_and_leaves_file_alone(ring: Path) -> None:
    LocalKeyringProvider(ring, MASTER).create_kek("k1")
    before = ring.read_bytes()
    with pytest.raises(WrongMasterKey, match="refusing to start") as info:
        LocalKeyringProvider(ring, bytes(32))
    assert str(ring) in str(info.value)
    assert isinstance(info.value, ConfigurationError)
    assert ring.read_bytes() == before


def test_persists_across_instances(ring: Path) -> None:
    first = LocalKeyringProvider(ring, MASTER)
    first.create_kek("k1")
    blob = first.wrap("k1", DEK, b"aad")
    second = LocalKeyringProvider(ring, MASTER)
    assert second.has_kek("k1")
    assert second.unwrap("k1", blob, b"aad") == DEK


def test_second_instance_sees_kek_created_later_by_first(ring: Path) -> None:
    first = LocalKeyringProvider(ring, MASTER)
    second = LocalKeyringProvider(ring, MASTER)  # loaded before the KEK exists
    first.create_kek("k1")
    blob = first.wrap("k1", DEK, b"")
    assert second.unwrap("k1", blob, b"") == DEK


def test_concurrent_instances_do_not_lose_each_others_keks(ring: Path) -> None:
    a = LocalKeyringProvider(ring, MASTER)
    b = LocalKeyringProvider(ring, MASTER)
    a.create_kek("from-a")
    b.create_kek("from-b")  # b's in-memory view is stale; it must re-read before writing
    third = LocalKeyringProvider(ring, MASTER)
    assert third.has_kek("from-a")
    assert third.has_kek("from-b")


def test_destroy_makes_kek_unavailable_everywhere(ring: Path) -> None:
    first = LocalKeyringProvider(ring, MASTER)
    first.create_kek("k1")
    blob = first.wrap("k1", DEK, b"")
    other = LocalKeyringProvider(ring, MASTER)
    assert other.unwrap("k1", blob, b"") == DEK  # KEK now cached in the other instance
    first.destroy_kek("k1")
    first.destroy_kek("k1")  # idempotent
    assert not first.has_kek("k1")
    with pytest.raises(KeyUnavailable):
        first.unwrap("k1", blob, b"")
    with pytest.raises(KeyUnavailable):
        first.wrap("k1", DEK, b"")
    with pytest.raises(KeyUnavailable):
        other.unwrap("k1", blob, b"")
    assert "k1" not in json.loads(ring.read_text())["keks"]
    with pytest.raises(KeyUnavailable):
        LocalKeyringProvider(ring, MASTER).unwrap("k1", blob, b"")


def test_create_existing_kek_is_refused(ring: Path) -> None:
    p = LocalKeyringProvider(ring, MASTER)
    p.create_kek("k1")
    blob = p.wrap("k1", DEK, b"")
    with pytest.raises(KeyExists):
        p.create_kek("k1")
    assert p.unwrap("k1", blob, b"") == DEK  # the KEK was not replaced


def test_unwrap_detects_wrong_aad_tampering_and_wrong_kek(ring: Path) -> None:
    p = LocalKeyringProvider(ring, MASTER)
    p.create_kek("k1")
    p.create_kek("k2")
    blob = p.wrap("k1", DEK, b"dek:1")
    assert p.wrap("k1", DEK, b"dek:1") != blob  # fresh nonce
    with pytest.raises(DecryptionFailed):
        p.unwrap("k1", blob, b"dek:2")
    with pytest.raises(DecryptionFailed):
        p.unwrap("k2", blob, b"dek:1")
    tampered = bytearray(blob)
    tampered[20] ^= 1
    with pytest.raises(DecryptionFailed):
        p.unwrap("k1", bytes(tampered), b"dek:1")
    with pytest.raises(DecryptionFailed):
        p.unwrap("k1", blob[:27], b"dek:1")


def test_file_format_kek_under_master_key_with_kek_id_as_aad(ring: Path) -> None:
    p = LocalKeyringProvider(ring, MASTER)
    p.create_kek("t-abc-v1")
    blob = p.wrap("t-abc-v1", DEK, b"aad")
    entry = base64.b64decode(json.loads(ring.read_text())["keks"]["t-abc-v1"])
    kek = AESGCM(MASTER).decrypt(entry[:12], entry[12:], b"t-abc-v1")
    assert len(kek) == 32
    assert AESGCM(kek).decrypt(blob[:12], blob[12:], b"aad") == DEK


def test_check_passes_and_reports_a_damaged_keyring(ring: Path) -> None:
    p = LocalKeyringProvider(ring, MASTER)
    p.check()
    ring.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not readable"):
        p.check()
    with pytest.raises(ConfigurationError):
        LocalKeyringProvider(ring, MASTER)


def test_master_key_must_be_32_bytes(ring: Path) -> None:
    with pytest.raises(ConfigurationError, match="32 bytes"):
        LocalKeyringProvider(ring, MASTER[:16])
    assert not ring.exists()
