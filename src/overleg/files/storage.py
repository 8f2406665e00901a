"""Object storage for blobs (files, recordings): a small interface and the local backend.

Callers store only ciphertext (``overleg.files.sealed``) under opaque keys they choose
(ids, never file names). A ``put`` is atomic: until it returns, readers see no object, and
a failed or cancelled put leaves nothing behind. An S3-compatible backend implements the
same interface.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol

from overleg.kernel.errors import NotFound, ServiceUnavailable

#: keys are paths of ids: letters, digits, ``-``, ``_`` and ``/`` between non-empty parts
_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
READ_BLOCK = 1024 * 1024


class ObjectMissing(NotFound):
    type = "object-missing"
    title = "Stored object not found"


class StorageUnavailable(ServiceUnavailable):
    """The object store cannot be reached or refused the operation."""

    type = "storage-unavailable"
    title = "Storage is unavailable"


class ObjectStore(Protocol):
    name: str

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the concatenated ``chunks`` under ``key`` (replacing any object) and return
        the number of bytes stored. Atomic: on any failure no object is left."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` of the object (``end`` None: to its end), in blocks.
        ``ObjectMissing`` if there is no such object."""
        ...

    async def size(self, key: str) -> int:
        """The object's size in bytes. ``ObjectMissing`` if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens if there is none."""
        ...


def check_key(key: str) -> str:
    if len(key) > 200 or not _KEY.match(key):
        raise ValueError(f"not an object key: {key!r}")
    return key


class LocalStore:
    """Objects as files under ``root`` (owner-only permissions)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True, mode=0o700)
            fd = await asyncio.to_thread(os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise StorageUnavailable(f"The object store cannot write: {exc.strerror}.") from exc
        written = 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    await asyncio.to_thread(f.write, chunk)
                    written += len(chunk)
                await asyncio.to_thread(f.flush)
                await asyncio.to_thread(os.fsync, f.fileno())
            await asyncio.to_thread(os.replace, tmp, path)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageUnavailable(f"The object store cannot write: {exc.strerror}.") from exc
            raise
        return written

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            f = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(f"No stored object {key}.") from exc
        with f:
            await asyncio.to_thread(f.seek, start)
            left = None if end is None else max(0, end - start)
            while left is None or left > 0:
                n = READ_BLOCK if left is None else min(READ_BLOCK, left)
                block = await asyncio.to_thread(f.read, n)
                if not block:
                    return
                if left is not None:
                    left -= len(block)
                yield block

    async def size(self, key: str) -> int:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError as exc:
            raise ObjectMissing(f"No stored object {key}.") from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
