"""An async client of ClamAV's clamd: PING, VERSION, RELOAD and INSTREAM.

The protocol (clamd(8)): a command prefixed with ``z`` and ended by NUL, one NUL-ended
reply. INSTREAM sends the data as chunks, each a 4-byte big-endian length and the bytes,
ended by a zero length; the reply is ``stream: OK``, ``stream: <name> FOUND`` or a line
ending in ``ERROR``. When the stream passes clamd's ``StreamMaxLength``, clamd replies
``INSTREAM size limit exceeded. ERROR`` and closes the connection while we are still
sending: the send then fails (broken pipe, reset) and the reply must still be read. The
reply is read concurrently with sending, so an early answer also stops the sender.

A clamd that cannot be reached, closes without answering or does not answer in time is
``ScannerUnavailable``: the caller keeps the file pending and tries again later. Any
answer other than ``stream: OK`` is not clean.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from overleg.kernel.errors import ServiceUnavailable
from overleg.settings import Settings

#: INSTREAM chunk size: larger chunks from the caller are split
CHUNK_BYTES = 1024 * 1024
#: clamd's replies are one short line; anything longer is not clamd
MAX_REPLY_BYTES = 64 * 1024
#: PING, VERSION and RELOAD answer at once, unless clamd is busy loading its databases
COMMAND_TIMEOUT_SECONDS = 15.0

_END = struct.pack("!L", 0)


class ScannerUnavailable(ServiceUnavailable):
    """clamd is down, unreachable, or did not answer in time: scan again later."""

    type = "scanner-unavailable"
    title = "The malware scanner is unavailable"


@dataclass(frozen=True)
class EngineResult:
    """clamd's verdict on one stream: ``ok`` (clean), ``found`` (``signature`` names what)
    or ``error`` (anything else, e.g. over the size limit: not clean). ``reply`` as sent."""

    status: Literal["ok", "found", "error"]
    signature: str | None
    reply: str

    @property
    def clean(self) -> bool:
        return self.status == "ok"


def parse_reply(reply: str) -> EngineResult:
    """Classify an INSTREAM reply. Only exactly ``stream: OK`` is clean."""
    text = reply.strip()
    body = text.removeprefix("stream:").strip() if text.startswith("stream:") else None
    if body == "OK":
        return EngineResult("ok", None, text)
    if body is not None and body.endswith(" FOUND"):
        return EngineResult("found", body.removesuffix(" FOUND").strip() or "unknown", text)
    return EngineResult("error", None, text)


def parse_tcp(value: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:3310"`` for IPv6) -> (host, port); ValueError otherwise."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not host:port: {value!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


class ClamdClient:
    """One clamd, over a unix socket or TCP. Each call opens its own connection, so one
    client may be used by many tasks at once."""

    def __init__(
        self,
        *,
        socket_path: Path | None = None,
        tcp: tuple[str, int] | None = None,
        timeout: float = 120.0,
        command_timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> None:
        if (socket_path is None) == (tcp is None):
            raise ValueError("give either socket_path or tcp")
        self.socket_path = socket_path
        self.tcp = tcp
        self.timeout = timeout
        self.command_timeout = command_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> ClamdClient:
        """``scan_clamd_tcp`` when set, else ``scan_clamd_socket``; ``scan_timeout_seconds``."""
        if settings.scan_clamd_tcp:
            return cls(
                tcp=parse_tcp(settings.scan_clamd_tcp), timeout=settings.scan_timeout_seconds
            )
        return cls(socket_path=settings.scan_clamd_socket, timeout=settings.scan_timeout_seconds)

    @property
    def address(self) -> str:
        if self.tcp is not None:
            host, port = self.tcp
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return f"unix:{self.socket_path}"

    async def ping(self) -> None:
        """Return if clamd answers PONG; ``ScannerUnavailable`` otherwise."""
        reply = await self._command("PING")
        if reply != "PONG":
            raise ScannerUnavailable(f"clamd at {self.address} answered PING with {reply!r}")

    async def version(self) -> str:
        """The engine and database version, e.g. ``ClamAV 1.4.6/27500/<date>`` (only
        ``ClamAV 1.4.6`` without the official databases)."""
        return await self._command("VERSION")

    async def reload(self) -> None:
        """Ask clamd to re-read its database folder. clamd answers at once and loads in the
        background; scans keep using the old databases until the new ones are loaded."""
        reply = await self._command("RELOAD")
        if reply != "RELOADING":
            raise ScannerUnavailable(f"clamd at {self.address} answered RELOAD with {reply!r}")

    async def instream(self, chunks: AsyncIterable[bytes]) -> EngineResult:
        """Scan the concatenated ``chunks``. Errors of ``chunks`` itself (the storage) are
        raised as they are; clamd's problems are ``ScannerUnavailable`` or an ``error``
        result."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout) as deadline:
                sock = await self._connect()
                reader: asyncio.Task[str] | None = None
                try:
                    reader = asyncio.ensure_future(self._read_reply(sock))
                    await self._send_stream(loop, sock, chunks, reader)
                    reply = await reader
                finally:
                    if reader is not None:
                        if not reader.done():
                            reader.cancel()
                        elif not reader.cancelled():
                            reader.exception()  # retrieved: not logged as "never retrieved"
                    sock.close()
        except TimeoutError:
            if not deadline.expired():
                raise  # the storage's own timeout, not clamd's
            raise ScannerUnavailable(
                f"clamd at {self.address} did not answer within {self.timeout:g} s"
            ) from None
        return parse_reply(reply)

    # --- protocol ------------------------------------------------------------------------

    async def _send_stream(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        chunks: AsyncIterable[bytes],
        reader: asyncio.Task[str],
    ) -> None:
        """Send the command, the chunks and the end mark; stop early (without an error)
        when clamd answered or closed first: the reply, read by ``reader``, says why."""

        async def send(data: bytes | memoryview) -> bool:
            try:
                await loop.sock_sendall(sock, data)
            except OSError:  # broken pipe, reset: clamd stopped reading (its size limit)
                return False
            return True

        iterator: AsyncIterator[bytes] = aiter(chunks)
        try:
            if not await send(b"zINSTREAM\0"):
                return
            async for chunk in iterator:  # the storage's errors pass through
                view = memoryview(chunk)
                # empty chunks are skipped: a zero length would end the stream
                for start in range(0, len(view), CHUNK_BYTES):
                    if reader.done():
                        return  # clamd answered before the end: an error
                    piece = view[start : start + CHUNK_BYTES]
                    if not (await send(struct.pack("!L", len(piece))) and await send(piece)):
                        return
            if not reader.done():
                await send(_END)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _connect(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        try:
            if self.tcp is not None:
                host, port = self.tcp
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                last: OSError = OSError(f"no address for {host}")
                for family, kind, proto, _, addr in infos:
                    sock = socket.socket(family, kind, proto)
                    sock.setblocking(False)
                    try:
                        await loop.sock_connect(sock, addr)
                        return sock
                    except OSError as e:
                        sock.close()
                        last = e
                raise last
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, str(self.socket_path))
            except BaseException:
                sock.close()
                raise
            return sock
        except OSError as e:
            reason = e.strerror or str(e) or type(e).__name__
            raise ScannerUnavailable(
                f"clamd at {self.address} is not reachable: {reason}"
            ) from None

    async def _read_reply(self, sock: socket.socket) -> str:
        """Read up to the NUL that ends a reply (or to the end of the connection)."""
        loop = asyncio.get_running_loop()
        buf = bytearray()
        while b"\0" not in buf and len(buf) < MAX_REPLY_BYTES:
            try:
                data = await loop.sock_recv(sock, 4096)
            except OSError:
                break  # what was received before a reset is still the reply
            if not data:
                break
            buf += data
        reply = bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
        if not reply:
            raise ScannerUnavailable(
                f"clamd at {self.address} closed the connection without an answer"
            )
        return reply

    async def _command(self, name: str) -> str:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.command_timeout):
                sock = await self._connect()
                try:
                    await loop.sock_sendall(sock, b"z" + name.encode() + b"\0")
                    return await self._read_reply(sock)
                except (BrokenPipeError, ConnectionResetError) as e:
                    raise ScannerUnavailable(f"clamd at {self.address}: {e}") from None
                finally:
                    sock.close()
        except TimeoutError:
            raise ScannerUnavailable(
                f"clamd at {self.address} did not answer {name} within {self.command_timeout:g} s"
            ) from None
