"""The clamd client against a real clamd (unix socket and TCP), and against peers that
misbehave in ways a real clamd can (close without answering, never answer, answer junk)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from overleg.files.scanning.clamd import (
    CHUNK_BYTES,
    ClamdClient,
    EngineResult,
    ScannerUnavailable,
    parse_reply,
    parse_tcp,
)
from overleg.files.scanning.signatures import EICAR_HDB_NAME, EICAR_NDB_NAME, eicar
from tests.files.scanning.helpers import opener
from tests.fixtures.clamd import STREAM_MAX_BYTES, ClamdInstance


def clients(clamd: ClamdInstance) -> list[ClamdClient]:
    host, port = parse_tcp(clamd.tcp)
    return [
        ClamdClient(socket_path=clamd.socket_path, timeout=30),
        ClamdClient(tcp=(host, port), timeout=30),
    ]


# --- pure parts ------------------------------------------------------------------------


def test_only_stream_ok_is_clean() -> None:
    assert parse_reply("stream: OK") == EngineResult("ok", None, "stream: OK")
    found = parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND\n")
    assert (found.status, found.signature, found.clean) == ("found", "Win.Test.EICAR_HDB-1", False)
    for junk in (
        "INSTREAM size limit exceeded. ERROR",
        "stream: Can't allocate memory ERROR",
        "OK",
        "UNKNOWN COMMAND",
        "stream: OKAY",
        "",
    ):
        result = parse_reply(junk)
        assert result.status == "error" and not result.clean, junk


def test_parse_tcp() -> None:
    assert parse_tcp("127.0.0.1:3310") == ("127.0.0.1", 3310)
    assert parse_tcp("[::1]:3310") == ("::1", 3310)
    for bad in ("localhost", ":3310", "host:", "host:0", "host:70000", "host:x"):
        with pytest.raises(ValueError):
            parse_tcp(bad)


def test_a_client_needs_exactly_one_address(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ClamdClient()
    with pytest.raises(ValueError):
        ClamdClient(socket_path=tmp_path / "s", tcp=("127.0.0.1", 1))


# --- a real clamd ----------------------------------------------------------------------


async def test_ping_version_over_both_transports(clamd: ClamdInstance) -> None:
    for client in clients(clamd):
        await client.ping()
        assert (await client.version()).startswith("ClamAV ")


async def test_eicar_found_over_both_transports(clamd: ClamdInstance) -> None:
    for client in clients(clamd):
        result = await client.instream(opener(eicar(), chunk=7)())
        assert result.status == "found", result
        assert result.signature in {f"{EICAR_HDB_NAME}.UNOFFICIAL", f"{EICAR_NDB_NAME}.UNOFFICIAL"}
        assert (await client.instream(opener(b"just text")())).status == "ok"


async def test_big_and_empty_chunks_are_sent_right(clamd: ClamdInstance) -> None:
    """A chunk over 1 MiB is split; empty chunks are skipped (a zero length would end the
    stream early, and EICAR at the very end would be missed)."""
    data = os.urandom(CHUNK_BYTES * 3 + 5) + eicar()

    async def chunks() -> AsyncIterator[bytes]:
        yield b""
        yield data[:10]
        yield b""
        yield data[10:]

    result = await clients(clamd)[0].instream(chunks())
    assert result.signature == f"{EICAR_NDB_NAME}.UNOFFICIAL", result


async def test_over_the_stream_limit_is_an_error_not_clean(clamd: ClamdInstance) -> None:
    """clamd replies ERROR and closes while we still send: the client reads that reply
    (after a broken pipe or reset, or before its next chunk) over both transports."""
    data = os.urandom(STREAM_MAX_BYTES + 3 * CHUNK_BYTES)
    for client in clients(clamd):
        result = await client.instream(opener(data, chunk=CHUNK_BYTES)())
        assert result.status == "error", result
        assert "size limit exceeded" in result.reply


async def test_the_stream_is_closed_when_clamd_stops_reading(clamd: ClamdInstance) -> None:
    closed: list[bool] = []
    data = os.urandom(STREAM_MAX_BYTES + 4 * CHUNK_BYTES)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            for start in range(0, len(data), CHUNK_BYTES):
                yield data[start : start + CHUNK_BYTES]
        finally:
            closed.append(True)

    result = await clients(clamd)[0].instream(chunks())
    assert result.status == "error" and closed == [True]


@pytest.mark.parametrize(
    "error", [LookupError, ConnectionResetError, BrokenPipeError, TimeoutError]
)
async def test_errors_of_the_stream_itself_are_raised(
    clamd: ClamdInstance, error: type[Exception]
) -> None:
    """The storage's errors, even those that look like a socket's, are not clamd's: they
    are raised at once, never taken for clamd closing or for clamd's timeout."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first part"
        raise error("storage")

    for client in clients(clamd):
        with pytest.raises(error, match="storage"):
            await client.instream(chunks())


async def test_clamd_down_is_unavailable_then_back(
    clamd_factory: Callable[[], ClamdInstance],
) -> None:
    instance = clamd_factory()
    client = ClamdClient(socket_path=instance.socket_path, timeout=10)
    await client.ping()
    instance.stop()
    for call in (client.ping(), client.version(), client.reload()):
        with pytest.raises(ScannerUnavailable, match="not reachable"):
            await call
    with pytest.raises(ScannerUnavailable):
        await client.instream(opener(b"hello")())
    tcp = ClamdClient(tcp=parse_tcp(instance.tcp), timeout=10)
    with pytest.raises(ScannerUnavailable, match="not reachable"):
        await tcp.instream(opener(b"hello")())
    instance.start()
    assert (await client.instream(opener(b"hello")())).status == "ok"


async def test_reload_picks_up_a_new_signature(
    clamd_factory: Callable[[], ClamdInstance],
) -> None:
    instance = clamd_factory()
    client = ClamdClient(socket_path=instance.socket_path, timeout=10)
    sample = b"..." + os.urandom(16).hex().encode() + b"..."
    assert (await client.instream(opener(sample)())).status == "ok"
    (instance.db_dir / "extra.ndb").write_text(f"Extra.Test.Reload:0:*:{sample[3:-3].hex()}\n")
    await client.reload()
    # clamd loads the new databases in the background and then switches: poll, bounded
    deadline = time.monotonic() + 30
    while True:
        result = await client.instream(opener(sample)())
        if result.status != "ok" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert result.signature == "Extra.Test.Reload.UNOFFICIAL", result


# --- peers that misbehave --------------------------------------------------------------


async def _serve(
    tmp_path: Path, handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object]
) -> tuple[asyncio.Server, Path]:
    path = tmp_path / "peer.sock"

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)  # type: ignore[misc]
        finally:
            writer.close()

    server = await asyncio.start_unix_server(on_client, path=str(path))
    return server, path


async def test_a_peer_that_closes_without_answering(tmp_path: Path) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(10)

    server, path = await _serve(tmp_path, handle)
    async with server:
        client = ClamdClient(socket_path=path, timeout=5)
        with pytest.raises(ScannerUnavailable, match="without an answer"):
            await client.instream(opener(b"x" * 100_000)())


async def test_a_peer_that_never_answers_times_out(tmp_path: Path) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):  # until the client gives up and closes
            pass

    server, path = await _serve(tmp_path, handle)
    async with server:
        client = ClamdClient(socket_path=path, timeout=0.5, command_timeout=0.5)
        with pytest.raises(ScannerUnavailable, match="did not answer"):
            await client.instream(opener(b"hello")())
        with pytest.raises(ScannerUnavailable, match="did not answer"):
            await client.ping()


async def test_a_peer_answering_junk_is_not_clean(tmp_path: Path) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\0\0\0\0")
        writer.write(b"OK\0")
        await writer.drain()

    server, path = await _serve(tmp_path, handle)
    async with server:
        result = await ClamdClient(socket_path=path, timeout=5).instream(opener(b"hi")())
        assert result.status == "error" and result.reply == "OK"
