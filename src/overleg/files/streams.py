"""Answers that stream file contents: one byte range per request (RFC 9110), and a body
whose first block is read before the status is sent.

Shared by files and recordings; the API turns a ``Stream`` into a streaming response and
a ``RangeNotSatisfiable`` into a 416 with ``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from overleg.kernel.errors import OverlegError


class RangeNotSatisfiable(OverlegError):
    """416: the Range header asks for bytes the file does not have, or is malformed. The
    API answers with ``Content-Range: bytes */<size>``."""

    status = 416
    type = "range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail, extra={"size": size})
        self.size = size


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_MAX_RANGE_HEADER = 200


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes ``(first, last)`` (inclusive) one ``Range`` header asks for (RFC 9110
    14.1.2: ``bytes=a-b``, ``bytes=a-``, ``bytes=-n``); None: send the whole file (no header,
    another range unit, or several ranges: a server may ignore the header, and a player
    never asks for several). ``RangeNotSatisfiable`` when it is malformed or asks for
    nothing the file has."""
    if header is None or not header.strip():
        return None
    unit = header.split("=", 1)[0].strip().lower()
    if "=" in header and unit != "bytes":
        return None
    if "," in header and unit == "bytes":
        return None
    found = _RANGE.match(header) if len(header) <= _MAX_RANGE_HEADER else None
    if found is None or (not found[1] and not found[2]):
        raise RangeNotSatisfiable(f"Malformed Range header: {header[:50]!r}.", size=size)
    first, last = found[1], found[2]
    if not first:  # a suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable("The range asks for no bytes.", size=size)
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        raise RangeNotSatisfiable(f"Malformed Range header: {header[:50]!r}.", size=size)
    if start >= size:
        raise RangeNotSatisfiable(f"The file has {size} bytes.", size=size)
    return start, end


@dataclass(frozen=True)
class Stream:
    """What the API sends: ``body`` yields bytes ``start..end`` (inclusive) of ``size``."""

    content_type: str
    size: int
    start: int
    end: int
    status: int  # 200 (whole file) or 206 (a range)
    body: AsyncIterator[bytes]
    filename: str | None = None  # downloads only

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


async def primed(parts: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``parts`` with its first block read now: a missing or broken object fails while the
    answer can still be an error, not halfway through a 200."""
    first = await anext(parts, None)

    async def rest() -> AsyncIterator[bytes]:
        if first is not None:
            yield first
        async for part in parts:
            yield part

    return rest()
