"""File contents as blobs of sealed parts.

A blob of ``size`` bytes is ``ceil(size / PART)`` parts, each a sealed object
(``files.sealed``) of ``PART`` plaintext bytes (the last one shorter) under
``blobs/<tenant>/<blob>/<n>``. Parts are what a resumable upload sends: they arrive in any
order, may be sent again (a put replaces atomically), and a range is read from the parts
it covers. Every part has its own key, derived with HKDF from the blob's key (a key seals
one object only, so nonces never repeat); the blob's key is sealed with the tenant's data
key in the row, so crypto-shredding the tenant makes every part unreadable.
"""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from typing import IO, Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.files import sealed
from overleg.files.models import Blob
from overleg.files.storage import ObjectStore
from overleg.files.streams import Stream, byte_range, primed
from overleg.kernel.errors import ValidationFailed
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import runtime_of

T = TypeVar("T")

PART = 8 * 1024 * 1024  # the default (settings.files_part_bytes), a multiple of sealed.CHUNK


def parts_for(size: int, part: int) -> int:
    return max(1, -(-size // part))


def part_length(blob: Blob, n: int) -> int:
    """Plaintext bytes of part ``n`` of ``blob``."""
    return min(blob.part_size, blob.size - n * blob.part_size)


def part_object(tenant_id: uuid.UUID, blob_id: uuid.UUID, n: int) -> str:
    return f"blobs/{tenant_id}/{blob_id}/{n}"


def _aad(tenant_id: uuid.UUID, blob_id: uuid.UUID, n: int) -> bytes:
    return b"overleg:file-part:" + tenant_id.bytes + blob_id.bytes + n.to_bytes(4, "big")


def _key_aad(tenant_id: uuid.UUID, blob_id: uuid.UUID) -> bytes:
    return b"overleg:file-blob-key:" + tenant_id.bytes + blob_id.bytes


def part_key(blob_key: bytes, n: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"overleg part " + str(n).encode()
    ).derive(blob_key)


def store_of(db: AsyncSession) -> ObjectStore:
    store = runtime_of(db).objects
    assert store is not None, "the runtime has no object store"
    return store


async def new_blob(db: AsyncSession, tenant_id: uuid.UUID, size: int) -> Blob:
    """An empty blob for ``size`` bytes (``size`` ≥ 1), its key sealed in the row."""
    part = runtime_of(db).settings.files_part_bytes
    blob_id = new_id()
    key_enc = await runtime_of(db).keys.encrypt(
        db, tenant_id, sealed.new_content_key(), _key_aad(tenant_id, blob_id)
    )
    blob = Blob(
        id=blob_id,
        tenant_id=tenant_id,
        size=size,
        parts=parts_for(size, part),
        part_size=part,
        key_enc=key_enc,
        received=[],
        complete=False,
    )
    db.add(blob)
    return blob


async def blob_key(db: AsyncSession, blob: Blob) -> bytes:
    return await runtime_of(db).keys.decrypt(
        db, blob.tenant_id, blob.key_enc, _key_aad(blob.tenant_id, blob.id)
    )


async def _exactly(chunks: AsyncIterable[bytes], want: int) -> AsyncIterator[bytes]:
    got = 0
    async for chunk in chunks:
        got += len(chunk)
        if got > want:
            raise ValidationFailed(f"This part has more than its {want} bytes.")
        yield chunk
    if got != want:
        raise ValidationFailed(f"This part has {got} bytes; it must have {want}.")


async def put_part(db: AsyncSession, blob: Blob, n: int, chunks: AsyncIterable[bytes]) -> None:
    """Store part ``n`` from ``chunks`` (exactly its length, else 422 and nothing stored).
    Sending a part again replaces it."""
    if not 0 <= n < blob.parts:
        raise ValidationFailed(
            f"Part {n} does not exist: this upload has parts 0 to {blob.parts - 1}."
        )
    want = part_length(blob, n)
    key = part_key(await blob_key(db, blob), n)
    await sealed.write(
        in_blocks(store_of(db)),
        part_object(blob.tenant_id, blob.id, n),
        _exactly(chunks, want),
        key,
        _aad(blob.tenant_id, blob.id, n),
        digest=False,  # nothing keeps a digest of a part
    )
    if n not in blob.received:
        blob.received = sorted([*blob.received, n])


#: sealed chunks go to the store in blocks of about this size: one write (for the local
#: store, one hop to a worker thread) per block, not per 64 KiB chunk
WRITE_BLOCK = 1024 * 1024


def in_blocks(store: ObjectStore) -> ObjectStore:
    """``store`` as ``put_part`` writes to it: ``put`` hands it the chunks joined into
    blocks of about ``WRITE_BLOCK`` bytes (reading, sizes and deleting as they are)."""
    return _InBlocks(store)


class _InBlocks:
    def __init__(self, store: ObjectStore) -> None:
        self.store, self.name = store, store.name

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        return await self.store.put(key, _blocks(chunks))

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        return self.store.read(key, start, end)

    async def size(self, key: str) -> int:
        return await self.store.size(key)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)


async def _blocks(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    held: list[bytes] = []
    n = 0
    async for chunk in chunks:
        held.append(chunk)
        n += len(chunk)
        if n >= WRITE_BLOCK:
            yield b"".join(held)
            held, n = [], 0
    if held:
        yield b"".join(held)


async def reader(
    db: AsyncSession, blob: Blob, start: int = 0, end: int | None = None
) -> AsyncIterator[bytes]:
    """Plaintext bytes ``[start, end)`` of a complete blob. The key is opened now; the
    iterator needs no database session afterwards."""
    key = await blob_key(db, blob)
    size, part = blob.size, blob.part_size
    where = (store_of(db), blob.tenant_id, blob.id)
    return read_with_key(*where, size, part, key, start, size if end is None else end)


async def read_with_key(
    store: ObjectStore,
    tenant_id: uuid.UUID,
    blob_id: uuid.UUID,
    size: int,
    part: int,
    key: bytes,
    start: int,
    end: int,
) -> AsyncIterator[bytes]:
    """Plaintext bytes ``[start, end)`` of a blob whose key the caller opened (for a job
    that reads a blob again and again without a database session)."""
    end = min(end, size)
    n = start // part
    while start < end:
        lo, hi = start - n * part, min(end, (n + 1) * part) - n * part
        async for piece in sealed.read(
            store,
            part_object(tenant_id, blob_id, n),
            part_key(key, n),
            _aad(tenant_id, blob_id, n),
            lo,
            hi,
        ):
            yield piece
        start, n = (n + 1) * part, n + 1


async def in_worker(db: AsyncSession, blob: Blob, work: Callable[[IO[bytes]], T]) -> T:
    """``work(file)`` in a worker thread, ``file`` being a read-only, seekable view of the
    complete ``blob``'s plaintext: each read opens only the sealed chunks it covers (type
    detection reads a file's head, a zip's directory and a member or two, not all of it).
    The head and the end (where a zip keeps its directory) are read before ``work``
    starts, together. The storage's errors are raised here, even if ``work`` caught them."""
    key = await blob_key(db, blob)
    store, tenant_id, blob_id = store_of(db), blob.tenant_id, blob.id
    size, part = blob.size, blob.part_size

    async def fetch(start: int, end: int) -> bytes:
        pieces = read_with_key(store, tenant_id, blob_id, size, part, key, start, end)
        return b"".join([piece async for piece in pieces])

    raw = _RangeFile(fetch, size, asyncio.get_running_loop())
    await raw.prefetch([(0, 1), (size - _TAIL, size)])
    with io.BufferedReader(raw, buffer_size=sealed.CHUNK) as file:
        done = await asyncio.to_thread(work, file)
    if raw.error is not None:
        raise raw.error
    return done


#: the end of a file that ``in_worker`` reads ahead: a zip's end record (22 bytes) and the
#: longest comment that may follow it
_TAIL = 22 + 65535
#: sealed chunks a blob's file keeps of what it read (4 MiB)
_KEPT_CHUNKS = 64


class _RangeFile(io.RawIOBase):
    """Bytes ``[0, size)`` that ``fetch(start, end)`` gives on the event loop ``loop``, as a
    blocking, seekable file for another thread. Fetches whole sealed chunks (a run of the
    missing ones at a time) and keeps up to ``_KEPT_CHUNKS`` of them: small reads next to
    each other (a zip's end record, then its directory) open each chunk once."""

    def __init__(
        self,
        fetch: Callable[[int, int], Coroutine[Any, Any, bytes]],
        size: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__()
        self._fetch, self._size, self._loop = fetch, size, loop
        self._loop_thread = threading.get_ident()
        self._pos = 0
        self._chunks: dict[int, bytes] = {}
        #: the first error of the storage (raised again by ``in_worker``)
        self.error: BaseException | None = None

    async def prefetch(self, spans: list[tuple[int, int]]) -> None:
        """Read the chunks covering ``spans`` (byte ranges, clipped to the file), the runs
        of them at once, on the event loop."""
        wanted = sorted(
            {
                i
                for lo, hi in spans
                for i in self._indices(max(0, lo), min(self._size, hi))
                if i not in self._chunks
            }
        )
        runs: list[list[int]] = []
        for i in wanted:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        got = await asyncio.gather(*(self._fetch(*self._bytes_of(r[0], r[-1])) for r in runs))
        for run, data in zip(runs, got, strict=True):
            self._keep(run[0], data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise OSError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("a blob's file is read in a worker thread, not on its event loop")
        start = self._pos
        n = min(len(buffer), self._size - start)
        if n <= 0:
            return 0
        needed = self._indices(start, start + n)
        if len(self._chunks) + len(needed) > _KEPT_CHUNKS:
            self._chunks.clear()
        missing = [i for i in needed if i not in self._chunks]
        if missing:
            self._keep(missing[0], self._get(*self._bytes_of(missing[0], missing[-1])))
        first = needed[0]
        at = start - first * sealed.CHUNK
        if len(needed) == 1:
            got = memoryview(self._chunks[first])[at : at + n]
        else:
            got = memoryview(b"".join(self._chunks[i] for i in needed))[at : at + n]
        buffer[:n] = got
        self._pos += n
        return n

    def _indices(self, start: int, end: int) -> range:
        """The chunks holding bytes ``[start, end)`` (none for an empty range)."""
        if start >= end:
            return range(0)
        return range(start // sealed.CHUNK, (end - 1) // sealed.CHUNK + 1)

    def _bytes_of(self, first: int, last: int) -> tuple[int, int]:
        return first * sealed.CHUNK, min(self._size, (last + 1) * sealed.CHUNK)

    def _keep(self, first: int, data: bytes) -> None:
        for k, at in enumerate(range(0, len(data), sealed.CHUNK)):
            self._chunks[first + k] = data[at : at + sealed.CHUNK]

    def _get(self, lo: int, hi: int) -> bytes:
        future = asyncio.run_coroutine_threadsafe(self._fetch(lo, hi), self._loop)
        try:
            data = future.result()
        except BaseException as exc:
            if self.error is None:
                self.error = exc
            raise
        if len(data) != hi - lo:
            self.error = self.error or OSError(f"bytes {lo} to {hi} of a blob are missing")
            raise self.error
        return data


async def delete_parts(store: ObjectStore, blob: Blob) -> None:
    """Remove every part of ``blob`` from the store (idempotent)."""
    for n in range(blob.parts):
        await store.delete(part_object(blob.tenant_id, blob.id, n))


async def stream(
    db: AsyncSession, blob: Blob, range_header: str | None, *, content_type: str, filename: str
) -> Stream:
    """The blob's content as an answer: whole, or the one byte range ``range_header`` asks
    for (``RangeNotSatisfiable`` otherwise); its first block is read now."""
    span = byte_range(range_header, blob.size)
    start, end = span if span is not None else (0, blob.size - 1)
    return Stream(
        content_type=content_type,
        size=blob.size,
        start=start,
        end=end,
        status=206 if span is not None else 200,
        body=await primed(await reader(db, blob, start, end + 1)),
        filename=filename,
    )
