"""The blind index's primitives: keyed term hashes and compact position lists. Pure.

A term is stored as ``HMAC-SHA256(tenant search key, UTF-8 of the normalised term)``
truncated to :data:`TERM_BYTES` (16) bytes. 128 bits keep accidental collisions out of
reach (about 2^64 distinct terms per tenant before one is likely; a tenant has perhaps
10^6) and halve the size of the largest index against full 32-byte tags. Truncating an
HMAC does not weaken it as a PRF: without the key a stored term says nothing about the
word, and the same word gives unrelated values in two tenants.

Positions are stored as unsigned LEB128 varints of the gaps between ascending positions
(the first gap is the first position): one byte per position for most text.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TERM_BYTES = 16
KEY_BYTES = 32


def blind_term(key: bytes, term: str) -> bytes:
    """The stored form of a normalised term under a tenant's search key."""
    return hmac.digest(key, term.encode("utf-8"), hashlib.sha256)[:TERM_BYTES]


def encode_positions(positions: Sequence[int]) -> bytes:
    """Ascending, distinct, non-negative positions -> varint gaps."""
    if len(positions) == 1 and 0 <= positions[0] < 0x80:
        return bytes(positions)  # most terms occur once, early in the text
    out = bytearray()
    previous = 0
    for p in positions:
        gap = p - previous
        if gap < 0 or (out and gap == 0):
            raise ValueError("positions must be ascending and distinct")
        previous = p
        while gap >= 0x80:
            out.append((gap & 0x7F) | 0x80)
            gap >>= 7
        out.append(gap)
    return bytes(out)


def decode_positions(data: bytes) -> list[int]:
    """Inverse of :func:`encode_positions`."""
    out: list[int] = []
    value = shift = 0
    previous = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        previous += value
        out.append(previous)
        value = shift = 0
    if shift:
        raise ValueError("truncated position list")
    return out


def phrase_matches(positions: Sequence[Sequence[int]], offsets: Sequence[int]) -> bool:
    """Whether the tokens occur at one base position ``b`` with token ``i`` at
    ``b + offsets[i]`` (``positions[i]``: where token ``i`` occurs, ascending)."""
    if not positions:
        return False
    # Anchor on the rarest token; test the others with set lookups.
    anchor = min(range(len(positions)), key=lambda i: len(positions[i]))
    others = [(set(positions[i]), offsets[i]) for i in range(len(positions)) if i != anchor]
    for p in positions[anchor]:
        base = p - offsets[anchor]
        if all(base + off in where for where, off in others):
            return True
    return False
