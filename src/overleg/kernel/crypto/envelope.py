"""Sealing data with a tenant data key (DEK): AES-256-GCM in a small versioned envelope.

Blob layout::

    1 byte   format version (1)
    4 bytes  DEK version, big-endian
    12 bytes random nonce
    rest     AES-GCM ciphertext followed by the 16-byte tag

The 5-byte header is authenticated too (prepended to the caller's AAD), so the DEK version
cannot be swapped without the tag failing. Random 96-bit nonces are safe for up to about
2**32 messages per DEK; rotation starts a fresh DEK long before that matters.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from overleg.kernel.crypto.errors import DecryptionFailed

FORMAT_VERSION = 1
DEK_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
_HEADER = struct.Struct(">BI")
_MIN_LEN = _HEADER.size + NONCE_SIZE + TAG_SIZE
_MAX_DEK_VERSION = 2**32 - 1


def seal(dek: bytes, dek_version: int, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``dek``; ``aad`` must be given again to open it.

    ``ValueError`` for a DEK that is not 32 bytes or a version outside 0..2**32-1.
    """
    if len(dek) != DEK_SIZE:
        raise ValueError(f"a data key is {DEK_SIZE} bytes, got {len(dek)}")
    if not 0 <= dek_version <= _MAX_DEK_VERSION:
        raise ValueError(f"DEK version out of range: {dek_version}")
    header = _HEADER.pack(FORMAT_VERSION, dek_version)
    nonce = os.urandom(NONCE_SIZE)
    return header + nonce + AESGCM(dek).encrypt(nonce, plaintext, header + aad)


def peek_dek_version(blob: bytes) -> int:
    """The DEK version a blob was sealed with. ``DecryptionFailed`` if it is not a blob."""
    if len(blob) < _MIN_LEN:
        raise DecryptionFailed("ciphertext too short")
    fmt, version = _HEADER.unpack_from(blob)
    if fmt != FORMAT_VERSION:
        raise DecryptionFailed(f"unknown ciphertext format {fmt}")
    return int(version)


def open_sealed(deks: Callable[[int], bytes], blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob from ``seal``. ``deks(version)`` returns the DEK of that version.

    ``DecryptionFailed`` on a malformed blob, a wrong key or AAD, or any tampering; errors
    raised by ``deks`` (such as ``KeyUnavailable``) pass through.
    """
    version = peek_dek_version(blob)
    dek = deks(version)
    if len(dek) != DEK_SIZE:
        raise DecryptionFailed("data key has the wrong size")
    header = blob[: _HEADER.size]
    nonce = blob[_HEADER.size : _HEADER.size + NONCE_SIZE]
    try:
        return AESGCM(dek).decrypt(nonce, blob[_HEADER.size + NONCE_SIZE :], header + aad)
    except InvalidTag:
        raise DecryptionFailed("ciphertext does not authenticate") from None
