"""Sealed blobs in a local object store: every size and range reads back exactly; a blob
that was tampered with, cut short, reordered, or opened with the wrong key or aad fails
instead of returning bytes; a put that fails half-way leaves no object."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overleg.files import sealed
from overleg.files.storage import LocalStore, ObjectMissing, StorageUnavailable
from overleg.kernel.crypto.errors import DecryptionFailed

C = sealed.CHUNK
KEY = b"k" * 32
AAD = b"tenant+object"


async def _pieces(data: bytes, size: int = 7_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _read(store: LocalStore, start: int = 0, end: int | None = None, **kw: bytes) -> bytes:
    key, aad = kw.get("key", KEY), kw.get("aad", AAD)
    return b"".join([p async for p in sealed.read(store, "t/blob", key, aad, start, end)])


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


@pytest.mark.parametrize("n", [0, 1, C - 1, C, C + 1, 3 * C, 3 * C + 17])
async def test_every_size_reads_back_and_has_the_predicted_size(store: LocalStore, n: int) -> None:
    data = os.urandom(n)
    info = await sealed.write(store, "t/blob", _pieces(data), KEY, AAD)
    assert info.size == n and info.stored == sealed.sealed_size(n)
    assert await store.size("t/blob") == info.stored
    assert sealed.plain_size(info.stored) == n
    assert await _read(store) == data
    raw = (store.root / "t/blob").read_bytes()
    assert n < 16 or data[:64] not in raw  # shorter: a chance match of random bytes


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3 * C + 100), st.integers(0, 3 * C + 100))
async def test_any_range_reads_exactly_those_bytes(a: int, b: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        store = LocalStore(Path(d))
        data = bytes(range(256)) * ((3 * C + 50) // 256)
        await sealed.write(store, "t/blob", _pieces(data), KEY, AAD)
        start, end = min(a, b), max(a, b)
        assert await _read(store, start, end) == data[start:end]


async def _blob(store: LocalStore, n: int = 3 * C + 5) -> Path:
    await sealed.write(store, "t/blob", _pieces(os.urandom(n)), KEY, AAD)
    return store.root / "t/blob"


async def test_a_flipped_byte_fails(store: LocalStore) -> None:
    path = await _blob(store)
    raw = bytearray(path.read_bytes())
    raw[len(sealed.MAGIC) + C + 40] ^= 1  # inside the second chunk
    path.write_bytes(bytes(raw))
    with pytest.raises(DecryptionFailed):
        await _read(store)
    assert len(await _read(store, 0, 100)) == 100  # the first chunk is still intact


async def test_a_blob_cut_after_a_whole_chunk_fails(store: LocalStore) -> None:
    path = await _blob(store)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(sealed.MAGIC) + 2 * sealed.SEALED_CHUNK])
    with pytest.raises(DecryptionFailed):
        await _read(store)


async def test_swapped_chunks_fail(store: LocalStore) -> None:
    path = await _blob(store)
    raw = path.read_bytes()
    h, s = len(sealed.MAGIC), sealed.SEALED_CHUNK
    path.write_bytes(raw[:h] + raw[h + s : h + 2 * s] + raw[h : h + s] + raw[h + 2 * s :])
    with pytest.raises(DecryptionFailed):
        await _read(store, 0, 10)


async def test_the_wrong_key_or_aad_fails(store: LocalStore) -> None:
    await _blob(store)
    with pytest.raises(DecryptionFailed):
        await _read(store, key=b"x" * 32)
    with pytest.raises(DecryptionFailed):
        await _read(store, aad=b"another object")


def test_an_impossible_size_is_not_a_blob() -> None:
    for stored in (
        0,
        3,
        len(sealed.MAGIC) + sealed.TAG - 1,
        len(sealed.MAGIC) + sealed.SEALED_CHUNK + 5,
    ):
        with pytest.raises(DecryptionFailed):
            sealed.plain_size(stored)


async def test_a_put_that_fails_half_way_leaves_nothing(store: LocalStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise RuntimeError("the upload was aborted")

    with pytest.raises(RuntimeError):
        await sealed.write(store, "t/blob", broken(), KEY, AAD)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    with pytest.raises(ObjectMissing):
        await store.size("t/blob")


async def test_keys_are_ids_not_paths(store: LocalStore) -> None:
    for bad in ("../escape", "/abs", "a//b", "a/./b", "name with space", ""):
        with pytest.raises(ValueError):
            await store.delete(bad)


async def test_a_store_that_cannot_write_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(StorageUnavailable):
        await LocalStore(blocker).put("t/blob", _pieces(b"data"))
