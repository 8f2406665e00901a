"""Where a recording's files and manifest are kept: sealed blobs in the object store.

Object keys are ids only (``recordings/<tenant>/<recording>/<file>``), so the store learns
no names. Each blob has its own content key, kept in the database sealed with the tenant's
data key; the aads bind tenant, recording and file, so a row cannot point at another
recording's blob.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.files import sealed
from overleg.files.storage import ObjectStore
from overleg.kernel.runtime import runtime_of

MANIFEST = "manifest"


def object_key(tenant_id: uuid.UUID, recording_id: uuid.UUID, name: str) -> str:
    """``name``: a file id, or ``MANIFEST``."""
    return f"recordings/{tenant_id}/{recording_id}/{name}"


def _aad(purpose: bytes, tenant_id: uuid.UUID, recording_id: uuid.UUID, name: str) -> bytes:
    return (
        b"overleg:recording-"
        + purpose
        + b":"
        + tenant_id.bytes
        + recording_id.bytes
        + name.encode()
    )


def objects(db: AsyncSession) -> ObjectStore:
    store = runtime_of(db).objects
    assert store is not None, "the runtime has no object store"
    return store


async def put(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    recording_id: uuid.UUID,
    name: str,
    chunks: AsyncIterable[bytes],
) -> tuple[str, bytes, sealed.Sealed]:
    """Seal ``chunks`` into the store. Returns the object key, the content key sealed with
    the tenant's key (to keep in the row), and sizes and digest."""
    key = sealed.new_content_key()
    sealed_key = await runtime_of(db).keys.encrypt(
        db, tenant_id, key, _aad(b"key", tenant_id, recording_id, name)
    )
    where = object_key(tenant_id, recording_id, name)
    info = await sealed.write(
        objects(db), where, chunks, key, _aad(b"data", tenant_id, recording_id, name)
    )
    return where, sealed_key, info


async def reader(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    recording_id: uuid.UUID,
    name: str,
    key_enc: bytes,
    start: int = 0,
    end: int | None = None,
) -> AsyncIterator[bytes]:
    """Plaintext bytes ``[start, end)`` of a stored file. The content key is opened now;
    the returned iterator needs no database session (it can outlive the request's)."""
    key = await runtime_of(db).keys.decrypt(
        db, tenant_id, key_enc, _aad(b"key", tenant_id, recording_id, name)
    )
    return sealed.read(
        objects(db),
        object_key(tenant_id, recording_id, name),
        key,
        _aad(b"data", tenant_id, recording_id, name),
        start,
        end,
    )


async def read_all(
    db: AsyncSession, tenant_id: uuid.UUID, recording_id: uuid.UUID, name: str, key_enc: bytes
) -> bytes:
    """A small stored file (the manifest) in full."""
    return b"".join(
        [part async for part in await reader(db, tenant_id, recording_id, name, key_enc)]
    )


async def delete(
    db: AsyncSession, tenant_id: uuid.UUID, recording_id: uuid.UUID, name: str
) -> None:
    await objects(db).delete(object_key(tenant_id, recording_id, name))
