"""The Janus WebSocket client against a real Janus (tests/fixtures/janus.py), no mocks."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from overleg.meetings.media.janus import (
    VIDEOROOM,
    Handle,
    JanusClient,
    JanusConnectionError,
    JanusError,
)
from tests.fixtures.janus import JanusInstance

#: a bound on waiting for something Janus does at once (not a measured duration)
BOUND = 10.0


@pytest.fixture
async def client(janus: JanusInstance) -> AsyncIterator[JanusClient]:
    c = await JanusClient.connect(janus.url, api_secret=janus.api_secret)
    yield c
    await c.close()


def _room() -> int:
    return secrets.randbits(40) + 1


async def _event(handle: Handle, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first event on ``handle`` for which ``match`` holds (others are skipped)."""
    async with asyncio.timeout(BOUND):
        while True:
            event = await handle.events.get()
            if match(event):
                return event


async def test_info_names_the_server_and_the_videoroom_plugin(client: JanusClient) -> None:
    info = await client.info()
    assert info["janus"] == "server_info"
    assert VIDEOROOM in info["plugins"]
    assert client.session_id > 0


async def test_a_wrong_api_secret_is_refused(janus: JanusInstance) -> None:
    with pytest.raises(JanusError) as refused:
        await JanusClient.connect(janus.url, api_secret="not-the-secret-0123456789")
    assert refused.value.code == 403
    with pytest.raises(JanusError) as missing:
        await JanusClient.connect(janus.url, api_secret=None)
    assert missing.value.code == 403


async def test_an_unreachable_janus_is_a_connection_error() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, never listened
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(JanusConnectionError):
            await JanusClient.connect(f"ws://127.0.0.1:{port}", api_secret="x", timeout=2.0)


async def test_sync_and_async_plugin_requests_and_their_errors(
    client: JanusClient, janus: JanusInstance
) -> None:
    admin = await client.attach(VIDEOROOM)
    room, secret = _room(), secrets.token_urlsafe(16)
    create = {"request": "create", "room": room, "secret": secret, "is_private": True}

    # synchronous: `success` with plugindata
    data, jsep = await admin.request({**create, "admin_key": janus.admin_key})
    assert (data["videoroom"], data["room"], jsep) == ("created", room, None)

    # plugin errors come back as JanusError with the videoroom's code
    with pytest.raises(JanusError) as wrong_key:
        await admin.request({**create, "room": _room(), "admin_key": "not-the-key-0123456789"})
    assert wrong_key.value.code == 433  # unauthorized: only the admin_key may create rooms
    with pytest.raises(JanusError) as exists:
        await admin.request({**create, "admin_key": janus.admin_key})
    assert exists.value.code == 427

    # asynchronous: `ack`, then an `event` with the same transaction
    alice = await client.attach(VIDEOROOM)
    joined, _ = await alice.request({"request": "join", "ptype": "publisher", "room": room})
    assert joined["videoroom"] == "joined"
    assert joined["room"] == room
    assert isinstance(joined["id"], int)
    assert isinstance(joined["private_id"], int)
    with pytest.raises(JanusError) as twice:
        await alice.request({"request": "join", "ptype": "publisher", "room": room})
    assert twice.value.code > 0

    listed, _ = await admin.request({"request": "listparticipants", "room": room})
    assert [p["id"] for p in listed["participants"]] == [joined["id"]]

    # core requests on the handle: accepted while it exists
    await alice.trickle({"candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host", "sdpMid": "0"})
    await alice.trickle(None)
    await alice.hangup()

    # a core error: the handle is gone
    await alice.detach()
    assert alice not in client.handles
    with pytest.raises(JanusError) as gone:
        await alice.request({"request": "listparticipants", "room": room})
    assert gone.value.code == 459  # no such handle
    with pytest.raises(JanusError) as gone_trickle:
        await alice.trickle(None)
    assert gone_trickle.value.code == 459
    await admin.request({"request": "destroy", "room": room, "secret": secret})
    await admin.detach()


async def test_events_without_a_transaction_reach_their_handle(
    client: JanusClient, janus: JanusInstance
) -> None:
    admin = await client.attach(VIDEOROOM)
    bob = await client.attach(VIDEOROOM)
    room, secret = _room(), secrets.token_urlsafe(16)
    await admin.request(
        {"request": "create", "room": room, "secret": secret, "admin_key": janus.admin_key}
    )
    await bob.request({"request": "join", "ptype": "publisher", "room": room})

    await admin.request({"request": "destroy", "room": room, "secret": secret})

    event = await _event(bob, lambda e: "plugindata" in e)
    assert event["janus"] == "event"
    assert "transaction" not in event
    assert event["sender"] == bob.id
    assert event["plugindata"]["data"]["videoroom"] == "destroyed"
    assert event["plugindata"]["data"]["room"] == room
    assert admin.events.empty()  # nothing about bob went to another handle


async def test_lost_is_set_when_janus_dies(
    janus_factory: Callable[..., JanusInstance],
) -> None:
    instance = janus_factory("dies")
    client = await JanusClient.connect(instance.url, api_secret=instance.api_secret)
    handle = await client.attach(VIDEOROOM)
    assert not client.lost.is_set()

    instance.kill()

    await asyncio.wait_for(client.lost.wait(), BOUND)
    with pytest.raises(JanusConnectionError):
        await client.info()
    with pytest.raises(JanusConnectionError):
        await handle.request({"request": "list"})
    await handle.detach()  # a no-op once lost, not an error
    await client.close()


async def test_close_is_not_a_loss_and_ends_the_session(janus: JanusInstance) -> None:
    client = await JanusClient.connect(janus.url, api_secret=janus.api_secret)
    other = await JanusClient.connect(janus.url, api_secret=janus.api_secret)
    session = client.session_id

    await client.close()
    await client.close()  # idempotent

    assert not client.lost.is_set()
    with pytest.raises(JanusConnectionError):
        await client.info()
    # the session was destroyed: another connection cannot use it
    with pytest.raises(JanusError) as gone:
        await other._call(
            {"janus": "keepalive", "session_id": session}, timeout=BOUND, session=False
        )
    assert gone.value.code == 458  # no such session
    await other.close()
