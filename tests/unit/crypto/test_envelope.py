from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.kernel.crypto.envelope import open_sealed, peek_dek_version, seal
from overleg.kernel.crypto.errors import DecryptionFailed, KeyUnavailable

DEK = bytes(range(32))
OTHER = bytes(range(1, 33))


def only(version: int, key: bytes = DEK) -> Callable[[int], bytes]:
    def deks(v: int) -> bytes:
        if v != version:
            raise KeyUnavailable(f"no DEK version {v}")
        return key

    return deks


def test_round_trip_and_layout() -> None:
    blob = seal(DEK, 7, b"hello", b"doc:1")
    assert blob[0] == 1
    assert blob[1:5] == (7).to_bytes(4, "big")
    assert len(blob) == 1 + 4 + 12 + len(b"hello") + 16
    assert b"hello" not in blob
    assert peek_dek_version(blob) == 7
    assert open_sealed(only(7), blob, b"doc:1") == b"hello"


def test_nonce_is_fresh_each_time() -> None:
    a, b = seal(DEK, 1, b"same", b""), seal(DEK, 1, b"same", b"")
    assert a[5:17] != b[5:17]
    assert a != b


@pytest.mark.parametrize("index", [0, 1, 4, 5, 16, 17, 20, -16, -1])
def test_any_flipped_byte_is_detected(index: int) -> None:
    blob = bytearray(seal(DEK, 1, b"some content", b"aad"))
    blob[index] ^= 0x01
    # The callable hands out the right key for any version, so a flipped version byte is
    # caught by the authenticated header, not by a key mismatch.
    with pytest.raises(DecryptionFailed):
        open_sealed(lambda _v: DEK, bytes(blob), b"aad")


def test_wrong_aad_is_detected() -> None:
    blob = seal(DEK, 1, b"content", b"doc:1")
    with pytest.raises(DecryptionFailed):
        open_sealed(only(1), blob, b"doc:2")
    with pytest.raises(DecryptionFailed):
        open_sealed(only(1), blob, b"")


def test_wrong_dek_for_version_is_detected() -> None:
    blob = seal(DEK, 1, b"content", b"")
    with pytest.raises(DecryptionFailed):
        open_sealed(only(1, OTHER), blob, b"")


def test_relabelled_dek_version_is_detected() -> None:
    # Sealed with DEK under version 2; header rewritten to claim version 1 with the same key.
    blob = bytearray(seal(DEK, 2, b"content", b""))
    blob[1:5] = (1).to_bytes(4, "big")
    with pytest.raises(DecryptionFailed):
        open_sealed(only(1), bytes(blob), b"")


def test_unknown_dek_version_passes_provider_error_through() -> None:
    blob = seal(DEK, 3, b"content", b"")
    with pytest.raises(KeyUnavailable):
        open_sealed(only(1), blob, b"")


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + bytes(31), bytes(64)])
def test_short_or_foreign_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        peek_dek_version(blob)
    with pytest.raises(DecryptionFailed):
        open_sealed(lambda _v: DEK, blob, b"")


def test_bad_key_or_version_refused_when_sealing() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(DEK[:16], 1, b"x", b"")
    with pytest.raises(ValueError, match="out of range"):
        seal(DEK, 2**32, b"x", b"")
    with pytest.raises(ValueError, match="out of range"):
        seal(DEK, -1, b"x", b"")


@given(
    plaintext=st.binary(max_size=2048),
    aad=st.binary(max_size=64),
    version=st.integers(min_value=0, max_value=2**32 - 1),
    key=st.binary(min_size=32, max_size=32),
)
def test_round_trip_property(plaintext: bytes, aad: bytes, version: int, key: bytes) -> None:
    blob = seal(key, version, plaintext, aad)
    assert peek_dek_version(blob) == version
    assert open_sealed(only(version, key), blob, aad) == plaintext


@given(
    plaintext=st.binary(max_size=256),
    position=st.integers(min_value=0),
    mask=st.integers(min_value=1, max_value=255),
)
def test_tamper_property(plaintext: bytes, position: int, mask: int) -> None:
    blob = bytearray(seal(DEK, 1, plaintext, b"aad"))
    blob[position % len(blob)] ^= mask
    with pytest.raises(DecryptionFailed):
        open_sealed(lambda _v: DEK, bytes(blob), b"aad")


def test_random_keys_do_not_open_each_other() -> None:
    blob = seal(os.urandom(32), 1, b"x", b"")
    with pytest.raises(DecryptionFailed):
        open_sealed(lambda _v: os.urandom(32), blob, b"")
