"""Every object store keeps the ``ObjectStore`` contract: the same tests, the local
directory and S3 (moto in server mode) alike."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from overleg.files.storage import LocalStore, ObjectMissing, ObjectStore
from tests.fixtures.s3 import S3Bucket

#: S3 reads in windows this small, so that ranges cross many ranged GETs
WINDOW = 4096
DATA = os.urandom(3 * WINDOW + 123)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return bucket.store(window=WINDOW)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


def pieces(data: bytes, size: int) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


async def read(store: ObjectStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([block async for block in store.read(key, start, end)])


async def test_put_read_size_delete(store: ObjectStore) -> None:
    stored = await store.put("t1/blob/0", chunks(*pieces(DATA, 1000)))
    assert stored == len(DATA)
    assert await store.size("t1/blob/0") == len(DATA)
    assert await read(store, "t1/blob/0") == DATA
    await store.delete("t1/blob/0")
    with pytest.raises(ObjectMissing):
        await store.size("t1/blob/0")
    with pytest.raises(ObjectMissing):
        await read(store, "t1/blob/0")


async def test_empty_objects(store: ObjectStore) -> None:
    assert await store.put("empty", chunks()) == 0
    assert await store.size("empty") == 0
    assert await read(store, "empty") == b""
    assert await read(store, "empty", 0, 10) == b""
    assert await read(store, "empty", 5) == b""
    # empty chunks are no content either
    assert await store.put("empty2", chunks(b"", b"", b"")) == 0
    assert await store.size("empty2") == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 1),  # the first byte
        (0, WINDOW),  # exactly one window
        (WINDOW - 1, WINDOW + 1),  # across a window boundary
        (100, 3 * WINDOW + 10),  # the middle, across several windows
        (5000, None),  # open end
        (len(DATA) - 1, None),  # the last byte
        (len(DATA) - 10, len(DATA) + 1000),  # end beyond the size
        (len(DATA), None),  # start at the end
        (len(DATA) + 50, len(DATA) + 100),  # start beyond the end
        (7, 7),  # an empty range
        (9, 3),  # end before start
    ],
)
async def test_ranges(store: ObjectStore, start: int, end: int | None) -> None:
    await store.put("ranged", chunks(DATA))
    assert await read(store, "ranged", start, end) == DATA[start:end]


async def test_blocks_are_bounded(store: ObjectStore) -> None:
    """``read`` yields blocks, never more than asked for, whatever their size."""
    await store.put("blocks", chunks(DATA))
    blocks = [b async for b in store.read("blocks", 10, len(DATA) - 10)]
    assert all(blocks)
    assert b"".join(blocks) == DATA[10:-10]


async def test_missing_objects(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissing):
        await store.size("nothing/here")
    with pytest.raises(ObjectMissing):
        await read(store, "nothing/here")
    with pytest.raises(ObjectMissing):
        await read(store, "nothing/here", 10, 20)
    with pytest.raises(ObjectMissing):  # even an empty range asks whether it exists
        await read(store, "nothing/here", 5, 5)


async def test_delete_is_idempotent(store: ObjectStore) -> None:
    await store.delete("never/stored")
    await store.put("gone", chunks(b"x"))
    await store.delete("gone")
    await store.delete("gone")
    with pytest.raises(ObjectMissing):
        await store.size("gone")


async def test_put_replaces(store: ObjectStore) -> None:
    await store.put("k", chunks(DATA))
    assert await store.put("k", chunks(b"short")) == 5
    assert await store.size("k") == 5
    assert await read(store, "k") == b"short"
    assert await read(store, "k", 100) == b""


async def test_keys_are_separate(store: ObjectStore) -> None:
    # (a key is never also the folder of another: LocalStore could not hold both)
    await store.put("a/b", chunks(b"one"))
    await store.put("a/c/d", chunks(b"two"))
    await store.put("a/bc", chunks(b"three"))
    assert [await read(store, k) for k in ("a/b", "a/c/d", "a/bc")] == [b"one", b"two", b"three"]
    await store.delete("a/b")
    assert await read(store, "a/bc") == b"three"


@pytest.mark.parametrize(
    "key",
    ["", "../etc/passwd", "/abs", "a//b", "a/", "a/../b", "name.pdf", "a b", "é", "x" * 201],
)
async def test_key_validation(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="not an object key"):
        await store.put(key, chunks(b"x"))
    with pytest.raises(ValueError, match="not an object key"):
        await read(store, key)
    with pytest.raises(ValueError, match="not an object key"):
        await store.size(key)
    with pytest.raises(ValueError, match="not an object key"):
        await store.delete(key)


async def test_a_failed_put_leaves_nothing(store: ObjectStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield DATA
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        await store.put("broken", broken())
    with pytest.raises(ObjectMissing):
        await store.size("broken")


async def test_a_failed_replace_keeps_the_old_object(store: ObjectStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"new"
        raise RuntimeError("the source broke")

    await store.put("kept", chunks(b"old"))
    with pytest.raises(RuntimeError):
        await store.put("kept", broken())
    assert await read(store, "kept") == b"old"
