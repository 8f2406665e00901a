"""``blobs.in_blocks``: file parts reach the object store in blocks of about a MiB (one
write per block, not per sealed 64 KiB chunk), byte for byte, and a part that fails on the
way leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import pytest

from overleg.files import blobs, sealed
from overleg.files.storage import LocalStore, ObjectMissing


class Recording(LocalStore):
    """A local store that notes the size of every piece a ``put`` receives."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.pieces: list[int] = []

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        async def noted() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                self.pieces.append(len(chunk))
                yield chunk

        return await super().put(key, noted())


async def _pieces(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_sealed_part_is_written_in_blocks_and_reads_back(tmp_path: Path) -> None:
    store = Recording(tmp_path)
    data = os.urandom(3 * blobs.WRITE_BLOCK + 12345)
    key, aad = sealed.new_content_key(), b"aad"
    done = await sealed.write(blobs.in_blocks(store), "p/0", _pieces(data), key, aad, digest=False)
    assert done.size == len(data) and done.stored == sealed.sealed_size(len(data))
    # 4 blocks, not one piece per 64 KiB chunk (plus the format's header)
    assert len(store.pieces) == 4 and sum(store.pieces) == done.stored
    assert all(n >= blobs.WRITE_BLOCK for n in store.pieces[:-1])
    assert b"".join([p async for p in sealed.read(store, "p/0", key, aad)]) == data


async def test_a_part_that_fails_on_the_way_leaves_nothing(tmp_path: Path) -> None:
    store = Recording(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(2 * blobs.WRITE_BLOCK)
        raise ValueError("the client went away")

    with pytest.raises(ValueError, match="went away"):
        await sealed.write(
            blobs.in_blocks(store), "p/1", broken(), sealed.new_content_key(), b"", digest=False
        )
    with pytest.raises(ObjectMissing):
        await store.size("p/1")
    left = await asyncio.to_thread(lambda: list(tmp_path.rglob("*")))
    assert left == [tmp_path / "p"]  # no temporary file either
