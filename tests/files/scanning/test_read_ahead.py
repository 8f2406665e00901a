"""How ``pipeline.scan`` spends its time, checked for what it must keep: the stream is
read ahead of clamd (within a bound), deep inspection starts before clamd's verdict,
every byte still goes to clamd and deep inspection still sees the whole file, and
``scan_keeping`` hands back exactly the bytes that were inspected."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import pytest

from overleg.files.scanning import pipeline
from overleg.files.scanning.clamd import ClamdClient, EngineResult
from overleg.files.scanning.signatures import MARKER_RULE, malware_marker
from tests.files.scanning.helpers import names, opener
from tests.fixtures.clamd import ClamdInstance

CHUNK = 64 * 1024


async def test_the_bytes_kept_are_the_whole_file_and_a_marker_across_chunks_is_found(
    clamd: ClamdInstance,
) -> None:
    marker = malware_marker()
    # the marker straddles the boundary of two 64 KiB chunks, deep in a 3 MiB file
    at = 20 * CHUNK - len(marker) // 2
    data = bytearray(os.urandom(3 * 1024 * 1024))
    data[at : at + len(marker)] = marker
    infected, kept = await pipeline.scan_keeping(
        opener(bytes(data)), size=len(data), name="notes.bin", settings=clamd.settings()
    )
    assert infected.state == "infected" and infected.deep
    assert MARKER_RULE in names(infected, "yara")
    assert kept == bytes(data)

    plain = os.urandom(3 * 1024 * 1024 + 17)
    clean, kept = await pipeline.scan_keeping(
        opener(plain), size=len(plain), name="random.bin", settings=clamd.settings()
    )
    assert clean.state == "clean" and clean.deep and kept == plain


async def test_nothing_is_kept_when_deep_inspection_does_not_run(clamd: ClamdInstance) -> None:
    data = b"." * 4000
    settings = clamd.settings(scan_deep_max_bytes=1024)
    over, kept = await pipeline.scan_keeping(
        opener(data, 1000), size=len(data), name="a.txt", settings=settings
    )
    assert not over.deep and kept is None
    # declared small, but longer than the limit: clamd reads it all, nothing is kept
    lying, kept = await pipeline.scan_keeping(
        opener(data, 1000), size=10, name="a.txt", settings=settings
    )
    assert not lying.deep and kept is None
    assert "Overleg.Scan.DeepSkipped" in names(lying, "pipeline")


async def test_reading_ahead_of_clamd_is_bounded() -> None:
    produced = 0
    closed = False

    def open_stream() -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            nonlocal produced, closed
            try:
                for _ in range(100):
                    produced += CHUNK
                    yield b"x" * CHUNK
            finally:
                closed = True

        return chunks()

    reading = pipeline._ReadAhead(open_stream, -1)
    consumer = reading.chunks()
    assert await anext(consumer) == b"x" * CHUNK
    for _ in range(200):  # let the reader run as far as it may
        await asyncio.sleep(0)
    # one chunk taken, the read-ahead queued, and the chunk in the reader's hand
    assert produced <= CHUNK + pipeline.READ_AHEAD_BYTES + CHUNK
    rest = [chunk async for chunk in consumer]
    assert len(rest) == 99 and produced == 100 * CHUNK
    await reading.stop()
    assert closed and reading.pieces == []


async def test_a_consumer_that_stops_early_stops_the_reader_and_closes_the_stream() -> None:
    closed = False

    def open_stream() -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            nonlocal closed
            try:
                while True:
                    yield b"y" * CHUNK
            finally:
                closed = True

        return chunks()

    reading = pipeline._ReadAhead(open_stream, 10 * CHUNK)
    consumer = reading.chunks()
    await anext(consumer)
    await consumer.aclose()
    await reading.stop()
    assert closed and reading.task is not None and reading.task.done()


async def test_deep_inspection_starts_before_clamds_verdict(
    clamd: ClamdInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """clamd's verdict is held back until deep inspection has started: if inspection
    waited for the verdict, this would never finish."""
    loop = asyncio.get_running_loop()
    inspecting = asyncio.Event()
    real_inspect, real_instream = pipeline.inspect, ClamdClient.instream
    threads: list[int] = []

    def inspect(data: bytes, *args: Any) -> Any:
        threads.append(threading.get_ident())
        loop.call_soon_threadsafe(inspecting.set)
        return real_inspect(data, *args)

    async def instream(self: ClamdClient, chunks: AsyncIterable[bytes]) -> EngineResult:
        result = await real_instream(self, chunks)
        await asyncio.wait_for(inspecting.wait(), timeout=60)
        return result

    monkeypatch.setattr(pipeline, "inspect", inspect)
    monkeypatch.setattr(ClamdClient, "instream", instream)
    data = os.urandom(2 * 1024 * 1024)
    result = await pipeline.scan(
        opener(data), size=len(data), name="r.bin", settings=clamd.settings()
    )
    assert result.state == "clean" and result.deep
    assert threads and threads[0] != threading.get_ident()  # in a worker thread
