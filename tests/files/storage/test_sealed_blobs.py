"""Sealed blobs (``overleg.files.sealed``) through both object stores: round trips, ranges
across sealed chunks, S3 parts and read windows, a multipart upload that is streamed (the
process never holds the blob), and what the object store actually holds: ciphertext under
the opaque key, nothing else."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from overleg.files import blobs, sealed
from overleg.files.storage import LocalStore, ObjectStore
from overleg.files.storage_s3 import MIN_PART, PART, S3Store
from overleg.kernel.crypto.errors import DecryptionFailed
from tests.fixtures.s3 import S3Bucket

MiB = 1024 * 1024
AAD = b"overleg:test:" + bytes(32)
MARKER = b"quarterly-salaries-2026.xlsx: CONFIDENTIAL PLAINTEXT MARKER"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return bucket.store(window=100_000)  # windows that do not line up with sealed chunks


class Source:
    """``size`` pseudo-random bytes in ``piece``-sized chunks, made on the fly (never whole)
    and counted as they are taken."""

    def __init__(self, size: int, seed: int, piece: int = 100_003) -> None:
        self.size, self.seed, self.piece = size, seed, piece
        self.taken = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        rnd = random.Random(self.seed)
        left = self.size
        while left:
            n = min(self.piece, left)
            left -= n
            self.taken += n
            yield rnd.randbytes(n)

    def digest(self) -> str:
        rnd = random.Random(self.seed)
        h = hashlib.sha256()
        left = self.size
        while left:
            n = min(self.piece, left)
            left -= n
            h.update(rnd.randbytes(n))
        return h.hexdigest()

    def slice(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``, regenerated."""
        rnd = random.Random(self.seed)
        out = bytearray()
        pos = 0
        while pos < min(end, self.size):
            n = min(self.piece, self.size - pos)
            block = rnd.randbytes(n)
            if pos + n > start:
                out += block[max(0, start - pos) : end - pos]
            pos += n
        return bytes(out)


async def once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def plain(
    store: ObjectStore, key: str, ckey: bytes, start: int = 0, end: int | None = None
) -> bytes:
    return b"".join([p async for p in sealed.read(store, key, ckey, AAD, start, end)])


async def test_round_trip(store: ObjectStore) -> None:
    ckey = sealed.new_content_key()
    data = MARKER * 10
    done = await sealed.write(store, "blobs/t/b/0", once(data), ckey, AAD)
    assert (done.size, done.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert done.stored == sealed.sealed_size(len(data)) == await store.size("blobs/t/b/0")
    assert await sealed.read_all(store, "blobs/t/b/0", ckey, AAD) == data
    with pytest.raises(DecryptionFailed):  # another key does not open it
        await sealed.read_all(store, "blobs/t/b/0", sealed.new_content_key(), AAD)


async def test_empty_blob(store: ObjectStore) -> None:
    ckey = sealed.new_content_key()
    done = await sealed.write(store, "empty", once(b""), ckey, AAD)
    assert done.stored == sealed.sealed_size(0)
    assert await sealed.read_all(store, "empty", ckey, AAD) == b""


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (sealed.CHUNK - 1, sealed.CHUNK + 1),  # across a sealed chunk
        (sealed.CHUNK, 2 * sealed.CHUNK),  # exactly one chunk
        (99_990, 100_010),  # across an S3 read window (of stored bytes)
        (10, 3 * sealed.CHUNK + 3),  # several chunks and windows
        (3 * sealed.CHUNK, None),  # the short last chunk
        (3 * sealed.CHUNK + 4, 10**9),  # past the end
    ],
)
async def test_ranges(store: ObjectStore, start: int, end: int | None) -> None:
    ckey = sealed.new_content_key()
    source = Source(3 * sealed.CHUNK + 5, seed=7, piece=1000)
    await sealed.write(store, "ranged", source.chunks(), ckey, AAD)
    got = await plain(store, "ranged", ckey, start, end)
    assert got == source.slice(start, source.size if end is None else end)


async def test_a_large_blob_is_streamed_through_a_multipart_upload(s3_bucket: S3Bucket) -> None:
    """~40 MB sealed into S3 in 5 MiB parts: the bytes pass through, the process holds at
    most about one part at a time (tracemalloc counts every Python allocation: the
    plaintext, the ciphertext, the part buffer, the HTTP request)."""
    store = s3_bucket.store(part_size=MIN_PART, window=3 * MiB)
    ckey = sealed.new_content_key()
    source = Source(40 * MiB + 12_345, seed=42)
    # the first request loads botocore's S3 model (~10 MB, once per store): not the blob's
    await store.put("warm-up", once(b"x"))

    tracemalloc.start()
    try:
        done = await sealed.write(store, "blobs/t/big/0", source.chunks(), ckey, AAD)
        _, put_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert source.taken == source.size == done.size
    assert done.sha256 == source.digest()
    # one part buffered plus the request being sent, and nothing near the blob's size
    assert put_peak < 2 * MIN_PART < source.size / 4, put_peak

    head = s3_bucket.raw.head_object(Bucket=s3_bucket.name, Key="blobs/t/big/0")
    assert head["ContentLength"] == done.stored == sealed.sealed_size(source.size)
    parts = -(-done.stored // MIN_PART)
    assert head["ETag"].strip('"').endswith(f"-{parts}")  # a multipart object, of 9 parts
    assert s3_bucket.uploads() == []
    assert s3_bucket.keys() == ["blobs/t/big/0", "warm-up"]

    # read it all back in windows, hashing as it comes: also never whole
    h = hashlib.sha256()
    tracemalloc.start()
    try:
        async for piece in sealed.read(store, "blobs/t/big/0", ckey, AAD):
            h.update(piece)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert h.hexdigest() == done.sha256
    assert read_peak < 2 * MIN_PART, read_peak

    # ranges across S3 parts (of stored bytes), read windows and sealed chunks
    boundary = MIN_PART * 3 - len(sealed.MAGIC)  # a part boundary, in stored bytes
    for start, end in [
        (boundary - 70_000, boundary + 70_000),
        (3 * MiB - 5, 3 * MiB + 5),
        (sealed.CHUNK * 100 - 1, sealed.CHUNK * 100 + 1),
        (source.size - 100, source.size),
    ]:
        assert await plain(store, "blobs/t/big/0", ckey, start, end) == source.slice(start, end)


async def test_a_sealed_file_part_is_one_put(s3_bucket: S3Bucket) -> None:
    """A file's default 8 MiB part, sealed (8 MiB and its tags), fits the default S3 part
    size: one PutObject, not a multipart upload with a tiny second part."""
    store = s3_bucket.store(part_size=PART)
    source = Source(blobs.PART, seed=3)
    done = await sealed.write(store, "blobs/t/b/0", source.chunks(), sealed.new_content_key(), AAD)
    assert blobs.PART < done.stored < PART
    head = s3_bucket.raw.head_object(Bucket=s3_bucket.name, Key="blobs/t/b/0")
    assert "-" not in head["ETag"]  # a multipart object's ETag ends in -<parts>


async def test_s3_holds_ciphertext_under_the_opaque_key_only(s3_bucket: S3Bucket) -> None:
    store = s3_bucket.store(prefix="prod/")
    ckey = sealed.new_content_key()
    data = MARKER * 5000  # ~300 KB: several sealed chunks
    key = "blobs/0d5f0c3e-7c1b-4a55-9d7e-6e2f1b0c9a11/5e1a/0"
    await sealed.write(store, key, once(data), ckey, AAD)

    assert s3_bucket.keys() == [f"prod/{key}"]  # the id, under the prefix: no name
    raw = s3_bucket.get(f"prod/{key}")
    assert raw.startswith(sealed.MAGIC)
    assert len(raw) == sealed.sealed_size(len(data))
    for needle in (MARKER, MARKER[:16], b"CONFIDENTIAL", b"salaries", data[1000:1032]):
        assert needle not in raw
    head = s3_bucket.raw.head_object(Bucket=s3_bucket.name, Key=f"prod/{key}")
    assert head.get("Metadata") == {}  # nothing about the file travels with it
    assert "ContentDisposition" not in head
    assert await sealed.read_all(store, key, ckey, AAD) == data


async def test_a_tampered_object_does_not_open(s3_bucket: S3Bucket) -> None:
    """What the store hands back is authenticated: bytes changed in the bucket fail."""
    store = s3_bucket.store()
    ckey = sealed.new_content_key()
    await sealed.write(store, "tampered", once(MARKER * 3000), ckey, AAD)
    raw = bytearray(s3_bucket.get("tampered"))
    raw[sealed.SEALED_CHUNK + 100] ^= 1  # one bit of the second chunk
    s3_bucket.raw.put_object(Bucket=s3_bucket.name, Key="tampered", Body=bytes(raw))
    assert await plain(store, "tampered", ckey, 0, 100) == (MARKER * 3000)[:100]
    with pytest.raises(DecryptionFailed, match="chunk 1"):
        await plain(store, "tampered", ckey)


def test_s3_parts_are_never_below_the_s3_minimum() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3Store("bucket", part_size=MIN_PART - 1)
