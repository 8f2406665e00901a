"""Small builders for the scanning tests: re-openable streams and zips made in memory."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Callable

from overleg.files.scanning.pipeline import Finding, ScanResult


def opener(data: bytes, chunk: int = 64 * 1024) -> Callable[[], AsyncIterator[bytes]]:
    """What the files domain passes to ``scan``: each call streams ``data`` anew."""

    def open_stream() -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), chunk):
                yield data[start : start + chunk]

        return chunks()

    return open_stream


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def zeros_zip(name: str, size: int, *, members: int = 1) -> bytes:
    """``members`` members of ``size`` zero bytes each, deflated, written in blocks (the
    zeros are never all in memory at once)."""
    buf = io.BytesIO()
    block = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(members):
            with z.open(f"{name}{i}" if members > 1 else name, "w", force_zip64=True) as f:
                left = size
                while left > 0:
                    f.write(block[: min(left, len(block))])
                    left -= len(block)
    return buf.getvalue()


def by(result: ScanResult, engine: str) -> list[Finding]:
    return [f for f in result.findings if f.engine == engine]


def names(result: ScanResult, engine: str | None = None) -> list[str]:
    return [f.name for f in result.findings if engine is None or f.engine == engine]
