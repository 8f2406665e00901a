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

import uuid
from collections.abc import AsyncIterable, AsyncIterator

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
        store_of(db),
        part_object(blob.tenant_id, blob.id, n),
        _exactly(chunks, want),
        key,
        _aad(blob.tenant_id, blob.id, n),
        digest=False,  # nothing keeps a digest of a part
    )
    if n not in blob.received:
        blob.received = sorted([*blob.received, n])


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
