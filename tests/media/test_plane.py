"""The media plane against real Janus instances, with real aiortc peers (no mocks).

Peers are kept small (160x120 video at 10 fps, silent Opus audio) because the machine has
two cores shared by Janus, the peers and everything else. ICE uses no STUN server: Janus
offers the host's primary address and aiortc connects to it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import (
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack

from overleg.kernel.errors import ServiceUnavailable
from overleg.meetings.media.janus import Handle, JanusError
from overleg.meetings.media.plane import Load, MediaInstance, MediaPlane, MediaUnavailable
from overleg.settings import JanusServer, Settings
from tests.fixtures.janus import JanusInstance
from tests.fixtures.peers import BOUND, Counter, SmallVideo, new_pc, until

#: after a kick: time for frames already in flight to drain, then the quiet window
SETTLE_SECONDS = 1.0
QUIET_WINDOW_SECONDS = 2.0


async def next_event(handle: Handle, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first event on ``handle`` for which ``match`` holds (earlier ones are skipped)."""
    async with asyncio.timeout(BOUND):
        while True:
            event = await handle.events.get()
            if match(event):
                return event


def plugin_data(event: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = (event.get("plugindata") or {}).get("data") or {}
    return data


@dataclass
class Room:
    plane: MediaPlane
    name: str
    room: int
    secret: str


@dataclass
class Peers:
    """The connections and handles a test opened; closed at teardown."""

    pcs: list[RTCPeerConnection] = field(default_factory=list)
    handles: list[Handle] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)

    async def join(self, room: Room, display: str) -> tuple[Handle, dict[str, Any]]:
        """A participant: a publisher-type handle joined to ``room`` (not sending yet)."""
        handle = await room.plane.attach(room.name)
        self.handles.append(handle)
        joined, _ = await handle.request(
            {"request": "join", "ptype": "publisher", "room": room.room, "display": display}
        )
        return handle, joined

    async def publish(self, handle: Handle) -> RTCPeerConnection:
        """Publish silent audio and a small video on ``handle``; return once Janus reports
        ``webrtcup`` (only then can others subscribe)."""
        pc = new_pc()
        self.pcs.append(pc)
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(SmallVideo())
        await pc.setLocalDescription(await pc.createOffer())  # gathers fully: no trickle
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        data, answer = await handle.request(
            {"request": "publish", "audio": True, "video": True}, offer
        )
        assert data.get("configured") == "ok"
        assert answer is not None and answer["type"] == "answer"
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await next_event(handle, lambda e: e.get("janus") == "webrtcup")
        return pc

    async def subscribe(
        self, room: Room, feed: int, private_id: int | None
    ) -> tuple[Handle, Counter]:
        """Subscribe to ``feed`` (as the participant owning ``private_id``), counting frames."""
        handle = await room.plane.attach(room.name)
        self.handles.append(handle)
        body: dict[str, Any] = {
            "request": "join",
            "ptype": "subscriber",
            "room": room.room,
            "streams": [{"feed": feed}],
        }
        if private_id is not None:
            body["private_id"] = private_id
        data, offer = await handle.request(body)
        assert data["videoroom"] == "attached"
        assert offer is not None and offer["type"] == "offer"
        pc = new_pc()
        self.pcs.append(pc)
        counter = Counter()
        self.counters.append(counter)
        counter.watch(pc)
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        started, _ = await handle.request(
            {"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp}
        )
        assert started.get("started") == "ok"
        return handle, counter

    async def close(self) -> None:
        for counter in self.counters:
            await counter.stop()
        for pc in self.pcs:
            await pc.close()
        for handle in self.handles:
            with contextlib.suppress(JanusError):
                await handle.detach()


# -- fixtures ------------------------------------------------------------------------------


def plane_for(*instances: JanusInstance, **options: float) -> MediaPlane:
    return MediaPlane(
        [i.server for i in instances],
        api_secret=instances[0].api_secret,
        admin_key=instances[0].admin_key,
        **options,
    )


@pytest.fixture
async def plane(janus: JanusInstance) -> AsyncIterator[MediaPlane]:
    p = plane_for(janus)
    await p.start()
    assert p.available
    yield p
    await p.stop()


@pytest.fixture
async def room(plane: MediaPlane, janus: JanusInstance) -> AsyncIterator[Room]:
    r = Room(plane, janus.name, secrets.randbits(40) + 1, secrets.token_urlsafe(16))
    await plane.create_room(
        r.name,
        room=r.room,
        secret=r.secret,
        description="test meeting",
        recordings_dir=str(janus.recordings_dir),
    )
    yield r
    await plane.destroy_room(r.name, room=r.room, secret=r.secret)


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    p = Peers()
    yield p
    await p.close()


def dead_url() -> str:
    """A loopback URL where nothing listens (the port is bound by no one afterwards)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{s.getsockname()[1]}"


# -- rooms ---------------------------------------------------------------------------------


async def test_a_room_created_through_the_plane_is_private_and_locked(
    plane: MediaPlane, room: Room, janus: JanusInstance
) -> None:
    assert await plane.room_exists(room.name, room.room)
    admin = plane.instance(room.name).admin
    assert admin is not None
    listed, _ = await admin.request({"request": "list", "admin_key": janus.admin_key})
    (settings,) = [r for r in listed["list"] if r["room"] == room.room]
    assert settings["is_private"] is True
    assert settings["require_pvtid"] is True
    assert settings["lock_record"] is True
    assert settings["record"] is False
    assert (settings["audiocodec"], settings["videocodec"]) == ("opus", "vp8")
    assert settings["max_publishers"] >= 10
    assert settings["description"] == "test meeting"
    # without the admin key the room is not even listed
    public, _ = await admin.request({"request": "list"})
    assert room.room not in [r["room"] for r in public["list"]]
    # administering it needs the room's secret
    with pytest.raises(JanusError) as refused:
        await plane.destroy_room(room.name, room=room.room, secret="not-the-room-secret")
    assert refused.value.code == 433
    with pytest.raises(JanusError) as exists:
        await plane.create_room(
            room.name, room=room.room, secret=room.secret, description="x", recordings_dir=None
        )
    assert exists.value.code == 427


async def test_destroy_room_and_kick_are_idempotent(
    plane: MediaPlane, janus: JanusInstance
) -> None:
    number, secret = secrets.randbits(40) + 1, secrets.token_urlsafe(16)
    await plane.create_room(
        janus.name, room=number, secret=secret, description="d", recordings_dir=None
    )
    assert await plane.kick(janus.name, number, secret, 12345) is False
    assert await plane.destroy_room(janus.name, room=number, secret=secret) is True
    assert not await plane.room_exists(janus.name, number)
    assert await plane.destroy_room(janus.name, room=number, secret=secret) is False
    assert await plane.kick(janus.name, number, secret, 12345) is False


# -- media ---------------------------------------------------------------------------------


async def test_published_media_reaches_an_admitted_subscriber_until_the_publisher_is_kicked(
    plane: MediaPlane, room: Room, peers: Peers
) -> None:
    alice, alice_joined = await peers.join(room, "alice")
    bob, bob_joined = await peers.join(room, "bob")
    alice_pc = await peers.publish(alice)  # returns after Janus reported webrtcup

    # bob learns about the new feed on his participant handle
    announced = await next_event(bob, lambda e: "publishers" in plugin_data(e))
    assert [p["id"] for p in plugin_data(announced)["publishers"]] == [alice_joined["id"]]
    participants = await plane.participants(room.name, room.room)
    assert {p["id"]: p["publisher"] for p in participants} == {
        alice_joined["id"]: True,
        bob_joined["id"]: False,
    }
    assert (await plane.load(room.name)).participants >= 2

    # bob subscribes as himself (require_pvtid): frames of both kinds arrive
    _, frames = await peers.subscribe(room, alice_joined["id"], bob_joined["private_id"])
    await until(
        lambda: frames.frames["video"] >= 5 and frames.frames["audio"] >= 10,
        f"bob receives alice's video and audio (got {frames.frames})",
    )

    assert await plane.kick(room.name, room.room, room.secret, alice_joined["id"]) is True

    # alice is told, her connection is closed, and bob hears of it
    leaving = await next_event(alice, lambda e: plugin_data(e).get("leaving") == "ok")
    assert plugin_data(leaving).get("reason") == "kicked"
    await until(lambda: alice_pc.connectionState == "closed", "alice's connection closes")
    await next_event(bob, lambda e: plugin_data(e).get("kicked") == alice_joined["id"])

    # nothing more reaches bob (frames in flight are given time to drain first)
    await asyncio.sleep(SETTLE_SECONDS)
    before = frames.snapshot()
    await asyncio.sleep(QUIET_WINDOW_SECONDS)
    assert frames.snapshot() == before

    # alice's handle is done: it cannot rejoin
    with pytest.raises(JanusError) as rejoin:
        await alice.request({"request": "join", "ptype": "publisher", "room": room.room})
    assert rejoin.value.code > 0
    assert [p["id"] for p in await plane.participants(room.name, room.room)] == [bob_joined["id"]]


async def test_moderate_stops_one_stream_of_a_publisher(
    plane: MediaPlane, room: Room, peers: Peers
) -> None:
    alice, alice_joined = await peers.join(room, "alice")
    _, bob_joined = await peers.join(room, "bob")
    await peers.publish(alice)
    _, frames = await peers.subscribe(room, alice_joined["id"], bob_joined["private_id"])
    await until(
        lambda: frames.frames["video"] >= 3 and frames.frames["audio"] >= 5,
        f"bob receives alice's media (got {frames.frames})",
    )
    audio_mid = await _mid_of(room, alice_joined["id"], "audio")

    await plane.moderate(room.name, room.room, room.secret, alice_joined["id"], mid=audio_mid)

    await asyncio.sleep(SETTLE_SECONDS)
    before = frames.snapshot()
    await until(
        lambda: frames.frames["video"] >= before["video"] + 3,
        "video keeps flowing while the audio is muted",
    )
    assert frames.frames["audio"] == before["audio"]


async def _mid_of(room: Room, feed: int, kind: str) -> str:
    """The mid of ``feed``'s stream of ``kind``, as a participant joining now is told."""
    viewer = await room.plane.attach(room.name)
    try:
        joined, _ = await viewer.request(
            {"request": "join", "ptype": "publisher", "room": room.room}
        )
        (publisher,) = [p for p in joined["publishers"] if p["id"] == feed]
        (mid,) = [s["mid"] for s in publisher["streams"] if s["type"] == kind]
        return str(mid)
    finally:
        await viewer.detach()


async def test_a_subscriber_without_a_valid_private_id_is_refused(room: Room, peers: Peers) -> None:
    alice, alice_joined = await peers.join(room, "alice")
    await peers.publish(alice)
    for private_id in (None, alice_joined["private_id"] + 1):
        handle = await room.plane.attach(room.name)
        peers.handles.append(handle)
        body: dict[str, Any] = {
            "request": "join",
            "ptype": "subscriber",
            "room": room.room,
            "streams": [{"feed": alice_joined["id"]}],
        }
        if private_id is not None:
            body["private_id"] = private_id
        with pytest.raises(JanusError) as refused:
            await handle.request(body)
        assert refused.value.code > 0, private_id


# -- placement and availability ---------------------------------------------------------------


async def test_place_picks_the_less_loaded_instance(
    janus_pair: list[JanusInstance], peers: Peers
) -> None:
    plane = plane_for(*janus_pair)
    await plane.start()
    try:
        assert [i.up for i in plane.instances] == [True, True]
        first = await plane.place()
        other = next(i.name for i in plane.instances if i.name != first)
        loads = {i.name: await plane.load(i.name) for i in plane.instances}
        # make the chosen one busier than the other: one room with enough participants
        busy = Room(plane, first, secrets.randbits(40) + 1, secrets.token_urlsafe(16))
        await plane.create_room(
            first, room=busy.room, secret=busy.secret, description="busy", recordings_dir=None
        )
        try:
            for n in range(loads[other].participants - loads[first].participants + 1):
                await peers.join(busy, f"p{n}")
            assert await plane.load(first) > await plane.load(other)

            assert await plane.place() == other
        finally:
            await plane.destroy_room(first, room=busy.room, secret=busy.secret)
    finally:
        await plane.stop()


async def test_load_counts_participants_then_rooms(
    plane: MediaPlane, room: Room, peers: Peers
) -> None:
    before = await plane.load(room.name)
    await peers.join(room, "carol")
    after = await plane.load(room.name)
    assert after == Load(participants=before.participants + 1, rooms=before.rooms)
    assert after > before


async def test_media_is_unavailable_when_no_instance_is_configured_or_up() -> None:
    none = MediaPlane([], api_secret=None, admin_key=None)
    await none.start()
    assert not none.configured
    assert not none.available
    with pytest.raises(MediaUnavailable):
        await none.place()

    down = MediaPlane(
        [JanusServer(name="down", url=dead_url())],
        api_secret="s",
        admin_key="k",
        retry_initial=0.2,
        retry_max=1.0,
    )
    await down.start()  # returns although the instance is down
    try:
        assert down.configured
        assert not down.available
        assert down.instance("down").last_error
        with pytest.raises(MediaUnavailable) as unavailable:
            await down.place()
        assert isinstance(unavailable.value, ServiceUnavailable)
        assert unavailable.value.status == 503
        with pytest.raises(MediaUnavailable):
            await down.create_room("down", room=1, secret="s", description="d", recordings_dir=None)
        with pytest.raises(MediaUnavailable):
            await down.attach("down")
        with pytest.raises(MediaUnavailable):
            await down.load("nowhere")  # not configured
    finally:
        await down.stop()


async def test_the_plane_connects_when_an_instance_comes_up_and_sees_it_die(
    janus_factory: Callable[..., JanusInstance],
) -> None:
    late = janus_factory("late")
    late.kill()  # down at start: the plane must neither fail nor give up
    plane = plane_for(late, retry_initial=0.2, retry_max=1.0)
    changes: list[tuple[str, bool]] = []
    plane.on_change(lambda inst: changes.append((inst.name, inst.up)))
    await plane.start()
    try:
        inst: MediaInstance = plane.instance("late")
        assert not plane.available
        with pytest.raises(MediaUnavailable):
            await plane.place()

        await asyncio.to_thread(late.start)
        await asyncio.wait_for(inst.connected.wait(), BOUND)
        assert plane.available
        assert await plane.place() == "late"
        assert inst.generation == 1
        number, secret = secrets.randbits(40) + 1, secrets.token_urlsafe(16)
        await plane.create_room(
            "late", room=number, secret=secret, description="d", recordings_dir=None
        )

        late.kill()
        await asyncio.wait_for(inst.lost.wait(), BOUND)
        assert not inst.up
        assert not plane.available
        with pytest.raises(MediaUnavailable):
            await plane.room_exists("late", number)

        # back again: a new session, and the rooms made before the crash are gone
        await asyncio.to_thread(late.start)
        await asyncio.wait_for(inst.connected.wait(), BOUND)
        assert not inst.lost.is_set()
        assert inst.generation == 2
        assert not await plane.room_exists("late", number)
        assert changes == [("late", True), ("late", False), ("late", True)]
    finally:
        await plane.stop()


def test_the_plane_is_built_from_settings(tmp_path: Any) -> None:
    settings = Settings(
        data_dir=tmp_path,
        media_janus=[
            JanusServer(name="a", url="ws://127.0.0.1:1"),
            JanusServer(name="b", url="ws://127.0.0.1:2"),
        ],
        media_api_secret="api-secret",
        media_admin_key="admin-key",
    )
    plane = MediaPlane.from_settings(settings)
    assert [(i.name, i.url, i.up) for i in plane.instances] == [
        ("a", "ws://127.0.0.1:1", False),
        ("b", "ws://127.0.0.1:2", False),
    ]
    with pytest.raises(ValueError, match="distinct"):
        MediaPlane(
            [JanusServer(name="a", url="ws://x:1"), JanusServer(name="a", url="ws://x:2")],
            api_secret=None,
            admin_key=None,
        )
