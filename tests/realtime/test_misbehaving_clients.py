"""A client that does not read is disconnected without slowing anyone; a client that sends
garbage is closed with a code and a reason; neither affects the others."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

import pytest
from websockets.exceptions import ConnectionClosed

from overleg.kernel.runtime import Runtime
from overleg.realtime.protocol import Close
from tests.fixtures.world import World
from tests.realtime.conftest import WITHIN, Node, emit, head, receive, token_for

#: bigger events fill the socket buffers of the client that does not read sooner
PADDING = "x" * 65536
#: a bound: the slow client must be gone long before this many events
MAX_EVENTS = 400
TOO_SLOW_REASON = b"too slow: the event queue overflowed"
#: the server's close frame (RFC 6455 5.5.1): FIN+close, length, code 4008, reason
CLOSE_FRAME = (
    bytes([0x88, 2 + len(TOO_SLOW_REASON)]) + Close.TOO_SLOW.to_bytes(2, "big") + TOO_SLOW_REASON
)


async def _raw_socket_that_never_reads(node: Node, token: str, last_event_id: int) -> socket.socket:
    """A WebSocket handshake by hand on a socket with a tiny receive buffer; afterwards the
    test never reads from it (until the end)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", node.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /api/v1/events?last_event_id={last_event_id} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{node.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {node.http}\r\nCookie: overleg_session={token}\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1), WITHIN)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


@pytest.mark.parametrize("settings_overrides", [{"events_queue_size": 16}])
async def test_a_client_that_never_reads_is_disconnected_and_the_others_get_everything(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso, mia, sam = world.tenant_of("mia"), world.id("mia"), world.id("sam")
    at = await head(rt, contoso)
    slow = await _raw_socket_that_never_reads(node, await token_for(world, "sam"), at)
    async with asyncio.timeout(WITHIN):  # registered (the handshake is answered first)
        await node.gateway.until(lambda: node.gateway.count(sam) == 1)
    received: list[int] = []
    total = 0
    async with node.socket(await token_for(world, "mia"), last_event_id=at) as fast:
        for n in range(MAX_EVENTS):
            await emit(rt, contoso, [mia, sam], n=n, padding=PADDING)
            received.append((await receive(fast))["data"]["n"])
            if node.gateway.count(sam) == 0:
                break
        else:
            pytest.fail(f"the client that never reads was still connected after {MAX_EVENTS}")
        assert received == list(range(len(received)))  # all of them, in order
        await emit(rt, contoso, [mia], n="after")
        assert (await receive(fast))["data"]["n"] == "after"
        assert node.gateway.count(mia) == 1
    # What the server had buffered for the slow client ends with its close frame (4008);
    # after the client's answer the server closes the connection: end-of-file.
    loop = asyncio.get_running_loop()
    drained = b""
    async with asyncio.timeout(WITHIN):
        while not drained.endswith(CLOSE_FRAME):
            chunk = await loop.sock_recv(slow, 1 << 20)
            assert chunk, "the connection ended without a close frame"
            drained = drained[-len(CLOSE_FRAME) :] + chunk
            total += len(chunk)
        mask = os.urandom(4)
        code = Close.TOO_SLOW.to_bytes(2, "big")
        await loop.sock_sendall(
            slow,
            bytes([0x88, 0x80 | 2]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(code)),
        )
        assert await loop.sock_recv(slow, 1 << 16) == b""
    slow.close()
    assert total < len(received) * len(PADDING)  # it never got them all


GARBAGE: list[tuple[str | bytes, int]] = [
    ("this is not JSON", Close.INVALID),
    ("[1, 2, 3]", Close.INVALID),
    ('{"type": "no.such.thing"}', Close.POLICY),
    ('{"type": "typing"}', Close.INVALID),
    ('{"type": "typing", "container_type": "channel", "container_id": "nope"}', Close.INVALID),
    ('{"type": "presence.subscribe", "user_ids": "all"}', Close.INVALID),
    ('{"type": "typing", "pad": "' + "y" * 5000 + '"}', Close.TOO_BIG),
    (b"\x00\x01binary", Close.UNSUPPORTED),
]


async def test_garbage_closes_only_the_sender(node: Node, rt: Runtime, world: World) -> None:
    contoso, sam = world.tenant_of("sam"), world.id("sam")
    at = await head(rt, contoso)
    mia_token = await token_for(world, "mia")
    async with node.socket(await token_for(world, "sam"), last_event_id=at) as bystander:
        for n, (garbage, code) in enumerate(GARBAGE):
            async with node.socket(mia_token, last_event_id=at) as ws:
                await ws.send(garbage)
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), WITHIN)
                assert ws.close_code == code, (garbage, ws.close_reason)
                assert ws.close_reason
            await emit(rt, contoso, [sam], n=n)
            assert (await receive(bystander))["data"] == {"n": n}
