"""Blobs sealed in chunks: AES-256-GCM over fixed-size chunks, so that a 2 GB file is
never in memory and a byte range can be read by opening only the chunks it covers.

Every blob has its own random 256-bit content key; the caller keeps that key sealed with
the tenant's data key (``KeyService.encrypt``), so destroying the tenant's keys makes the
blob unreadable (crypto-shredding) and the object store never holds a key.

Layout::

    4 bytes   magic and format version  b"OLS\\x01"
    chunks    AES-GCM(ciphertext || 16-byte tag) of CHUNK plaintext bytes each; the last
              one is shorter (possibly empty, for an empty blob)

The nonce of chunk *i* is its index (8 bytes) and a final-chunk flag (4 bytes): a key seals
one blob only, so nonces never repeat, chunks cannot be reordered, and a blob cut short
fails (its new last chunk was not sealed as the last). The header and the caller's
``aad`` (which binds tenant and object ids) are authenticated in every chunk.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from overleg.files.storage import ObjectStore
from overleg.kernel.crypto.errors import DecryptionFailed

MAGIC = b"OLS\x01"
CHUNK = 64 * 1024
TAG = 16
SEALED_CHUNK = CHUNK + TAG
KEY_SIZE = 32


def new_content_key() -> bytes:
    return os.urandom(KEY_SIZE)


def _nonce(index: int, last: bool) -> bytes:
    return struct.pack(">QI", index, 1 if last else 0)


def sealed_size(plain: int) -> int:
    """Stored bytes for ``plain`` plaintext bytes."""
    chunks = max(1, -(-plain // CHUNK))
    return len(MAGIC) + plain + chunks * TAG


def plain_size(stored: int) -> int:
    """Plaintext bytes of a blob of ``stored`` bytes. ``DecryptionFailed`` if no blob has
    that size."""
    body = stored - len(MAGIC)
    chunks = max(1, -(-body // SEALED_CHUNK))
    plain = body - chunks * TAG
    if plain < 0 or sealed_size(plain) != stored:
        raise DecryptionFailed("not a sealed blob (its size is impossible)")
    return plain


@dataclass(frozen=True)
class Sealed:
    size: int  # plaintext bytes
    stored: int  # bytes in the object store
    sha256: str  # of the plaintext ("" when not asked for)


async def _rechunk(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The input cut into CHUNK-sized pieces (the last shorter; one empty piece for none)."""
    buf = bytearray()
    sent = False
    async for part in chunks:
        buf += part
        while len(buf) >= CHUNK:
            yield bytes(buf[:CHUNK])
            del buf[:CHUNK]
            sent = True
    if buf or not sent:
        yield bytes(buf)


async def write(
    store: ObjectStore,
    key: str,
    chunks: AsyncIterable[bytes],
    content_key: bytes,
    aad: bytes,
    *,
    digest: bool = True,
) -> Sealed:
    """Seal the plaintext ``chunks`` into ``store`` under ``key``."""
    aead = AESGCM(content_key)
    hashed = hashlib.sha256() if digest else None
    total = 0

    async def sealed() -> AsyncIterator[bytes]:
        nonlocal total
        yield MAGIC
        index = 0
        pending: bytes | None = None
        async for piece in _rechunk(chunks):
            if pending is not None:
                yield aead.encrypt(_nonce(index, False), pending, MAGIC + aad)
                index += 1
            if hashed is not None:
                hashed.update(piece)
            total += len(piece)
            pending = piece
        assert pending is not None  # _rechunk yields at least one piece
        yield aead.encrypt(_nonce(index, True), pending, MAGIC + aad)

    stored = await store.put(key, sealed())
    return Sealed(total, stored, hashed.hexdigest() if hashed is not None else "")


async def read(
    store: ObjectStore,
    key: str,
    content_key: bytes,
    aad: bytes,
    start: int = 0,
    end: int | None = None,
) -> AsyncIterator[bytes]:
    """Plaintext bytes ``[start, end)`` of a sealed blob (``end`` None: to its end).
    ``DecryptionFailed`` as soon as a chunk does not open (tampered, cut short, wrong key
    or aad): nothing unauthenticated is ever returned."""
    size = plain_size(await store.size(key))
    end = size if end is None else min(end, size)
    if start >= end:
        return
    last = max(0, -(-size // CHUNK) - 1)
    first, final = start // CHUNK, (end - 1) // CHUNK
    aead = AESGCM(content_key)
    offset = len(MAGIC) + first * SEALED_CHUNK
    stop = min(len(MAGIC) + (final + 1) * SEALED_CHUNK, sealed_size(size))
    index = first
    buf = bytearray()
    async for block in store.read(key, offset, stop):
        buf += block
        while len(buf) >= SEALED_CHUNK or (index == final and len(buf) >= stop - offset):
            n = SEALED_CHUNK if len(buf) >= SEALED_CHUNK else len(buf)
            part = bytes(buf[:n])
            del buf[:n]
            offset += n
            try:
                plain = aead.decrypt(_nonce(index, index == last), part, MAGIC + aad)
            except InvalidTag as exc:
                raise DecryptionFailed(f"chunk {index} of {key} does not open") from exc
            lo = start - index * CHUNK if index == first else 0
            hi = end - index * CHUNK if index == final else len(plain)
            yield plain[lo:hi]
            index += 1
            if index > final:
                return
    raise DecryptionFailed(f"{key} ends before chunk {index}")


async def read_all(store: ObjectStore, key: str, content_key: bytes, aad: bytes) -> bytes:
    """The whole plaintext, for small blobs (manifests)."""
    return b"".join([part async for part in read(store, key, content_key, aad)])
