"""Audio and video of a meeting through Overleg's signalling, with a real Janus and real
aiortc peers (no STUN; ICE on the host's address): admitted people receive each other's
frames; someone in the lobby gets nothing; an attendee cannot publish what the options
forbid; a removed publisher's media stops at once; bad offers and feeds of another
meeting are refused before Janus sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from overleg.kernel.clock import now
from overleg.kernel.runtime import Runtime
from tests.fixtures.janus import JanusInstance
from tests.fixtures.peers import Counter, SmallVideo, new_pc, until
from tests.fixtures.world import World
from tests.realtime.conftest import Node, serving

SETTLE_SECONDS = 1.0  # frames already in flight after a removal
QUIET_WINDOW_SECONDS = 2.0


@pytest.fixture
def settings_overrides(janus: JanusInstance) -> dict[str, object]:
    return {
        "media_janus": [json.loads(janus.server.model_dump_json())],
        "media_api_secret": janus.api_secret,
        "media_admin_key": janus.admin_key,
    }


@dataclass
class Call:
    node: Node
    http: httpx.AsyncClient
    world: World
    meeting: dict[str, Any] = field(default_factory=dict)
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)

    @property
    def m(self) -> str:
        return f"/api/v1/meetings/{self.meeting['id']}"

    async def h(self, who: str) -> dict[str, str]:
        return await self.world.session_headers(who)

    async def join(self, who: str | None, **body: Any) -> dict[str, Any]:
        code = self.meeting["join_url"].rsplit("/", 1)[-1]
        headers = await self.h(who) if who else {}
        r = await self.http.post(f"/api/v1/meetings/join/{code}", json=body, headers=headers)
        assert r.status_code == 200, r.text
        joined: dict[str, Any] = r.json()
        return joined

    async def offer(
        self, *, audio: bool = True, video: bool = True
    ) -> tuple[RTCPeerConnection, str]:
        pc = new_pc()
        self.pcs.append(pc)
        if audio:
            pc.addTrack(AudioStreamTrack())
        if video:
            pc.addTrack(SmallVideo())
        await pc.setLocalDescription(await pc.createOffer())  # gathers fully: no trickle
        return pc, pc.localDescription.sdp

    async def publish(
        self, headers: dict[str, str], kind: str = "camera", **flags: bool
    ) -> httpx.Response:
        pc, sdp = await self.offer(**flags)
        body: dict[str, Any] = {"sdp": sdp, "kind": kind, **flags}
        r = await self.http.post(f"{self.m}/media/publish", json=body, headers=headers)
        if r.status_code == 200:
            await pc.setRemoteDescription(RTCSessionDescription(r.json()["sdp"], "answer"))
        return r

    async def subscribe(
        self, headers: dict[str, str], participant_id: str, kind: str = "camera"
    ) -> Counter:
        r = await self.http.post(
            f"{self.m}/media/subscriptions",
            json={"feeds": [{"participant_id": participant_id, "kind": kind}]},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        offer = r.json()
        pc = new_pc()
        self.pcs.append(pc)
        counter = Counter()
        self.counters.append(counter)
        counter.watch(pc)
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        r = await self.http.post(
            f"{self.m}/media/subscriptions/{offer['subscription_id']}/answer",
            json={"sdp": pc.localDescription.sdp},
            headers=headers,
        )
        assert r.status_code == 204, r.text
        return counter

    async def wait_for_feed(self, headers: dict[str, str], participant_id: str, kind: str) -> None:
        """Janus lists a feed once its connection is up: wait for it (bounded)."""
        feed = {"participant_id": participant_id, "kind": kind}
        for _ in range(200):
            if feed in await self.feeds(headers):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"feed {feed} never appeared")

    async def feeds(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        r = await self.http.get(f"{self.m}/media/feeds", headers=headers)
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()
        return out


@pytest.fixture
async def call(rt: Runtime, world: World) -> AsyncIterator[Call]:
    async with serving(rt) as node, node.client() as http:
        c = Call(node, http, world)
        start = now() + timedelta(hours=1)
        r = await http.post(
            "/api/v1/meetings",
            headers=await c.h("olivia"),
            json={
                "subject": "Clinic huddle",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
                "invitees": [{"user_id": str(world.id(w))} for w in ("mia", "hank")],
                "options": {
                    "lobby_bypass": "invited",
                    "who_can_present": "specific_people",
                    "presenters": [str(world.id("mia"))],
                    "allow_camera_for_attendees": False,
                },
            },
        )
        assert r.status_code == 201, r.text
        c.meeting = r.json()
        try:
            yield c
        finally:
            for counter in c.counters:
                await counter.stop()
            for pc in c.pcs:
                await pc.close()


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


async def test_admitted_people_see_and_hear_each_other_and_others_do_not(call: Call) -> None:
    olivia_h, mia_h, hank_h = [await call.h(w) for w in ("olivia", "mia", "hank")]
    await call.join("olivia")
    mia = (await call.join("mia"))["me"]
    assert (await call.join("hank"))["me"]["role"] == "attendee"
    waiting = await call.join(None, display_name="Walk-in")
    assert waiting["me"]["state"] == "lobby"
    lobby_h = {"Authorization": f"Bearer {waiting['token']}"}

    r = await call.publish(mia_h)
    assert r.status_code == 200, r.text
    await call.wait_for_feed(olivia_h, mia["id"], "camera")
    frames = await call.subscribe(olivia_h, mia["id"])
    await until(lambda: frames.frames["video"] >= 5 and frames.frames["audio"] >= 10, "frames")

    # the lobby gets nothing: no feeds, no publishing, no subscription
    _problem(await call.http.get(f"{call.m}/media/feeds", headers=lobby_h), 403)
    _problem(await call.publish(lobby_h), 403)
    r = await call.http.post(
        f"{call.m}/media/subscriptions",
        json={"feeds": [{"participant_id": mia["id"]}]},
        headers=lobby_h,
    )
    _problem(r, 403)
    # an attendee: no camera here (the options), but the mic is allowed
    p = _problem(await call.publish(hank_h, audio=True, video=True), 403)
    assert "camera" in p["detail"]
    assert (await call.publish(hank_h, audio=True, video=False)).status_code == 200
    # a screen share needs a role that shares content
    _, sdp = await call.offer(audio=False, video=True)
    r = await call.http.post(
        f"{call.m}/media/publish",
        json={"kind": "screen", "sdp": sdp, "audio": False, "video": True},
        headers=hank_h,
    )
    _problem(r, 403)

    # removal: what mia sends stops at once
    r = await call.http.delete(f"{call.m}/participants/{mia['id']}", headers=olivia_h)
    assert r.status_code == 200, r.text
    await asyncio.sleep(SETTLE_SECONDS)
    before = frames.snapshot()
    await asyncio.sleep(QUIET_WINDOW_SECONDS)
    assert frames.snapshot() == before, "frames kept coming after the removal"
    assert {"participant_id": mia["id"], "kind": "camera"} not in await call.feeds(olivia_h)


async def test_bad_offers_and_foreign_feeds_never_reach_janus(call: Call) -> None:
    olivia_h = await call.h("olivia")
    await call.join("olivia")
    r = await call.http.post(f"{call.m}/media/publish", json={"sdp": "hello"}, headers=olivia_h)
    _problem(r, 422)
    # an offer that sends video while asking for audio only
    _, sdp = await call.offer(audio=True, video=True)
    r = await call.http.post(
        f"{call.m}/media/publish",
        json={"sdp": sdp, "audio": True, "video": False},
        headers=olivia_h,
    )
    _problem(r, 422)
    # a feed that is not in this meeting: "not found", audited
    r = await call.http.post(
        f"{call.m}/media/subscriptions",
        json={"feeds": [{"participant_id": "00000000-0000-4000-8000-000000000000"}]},
        headers=olivia_h,
    )
    _problem(r, 404)
    # someone who is not in the meeting learns nothing about it
    _problem(await call.http.get(f"{call.m}/media/feeds", headers=await call.h("sam")), 404)


async def _quiet(counter: Counter, kind: str) -> bool:
    """Whether ``kind`` frames stopped coming (after frames in flight drained)."""
    await asyncio.sleep(SETTLE_SECONDS)
    before = counter.snapshot()[kind]
    await asyncio.sleep(QUIET_WINDOW_SECONDS)
    return counter.snapshot()[kind] == before


async def test_role_and_permission_changes_take_effect_on_media_at_once(call: Call) -> None:
    olivia_h, mia_h = await call.h("olivia"), await call.h("mia")
    await call.join("olivia")
    mia = (await call.join("mia"))["me"]
    assert mia["role"] == "presenter"
    assert (await call.publish(mia_h)).status_code == 200
    r = await call.publish(mia_h, kind="screen", audio=False, video=True)
    assert r.status_code == 200, r.text
    await call.wait_for_feed(olivia_h, mia["id"], "camera")
    await call.wait_for_feed(olivia_h, mia["id"], "screen")
    camera = await call.subscribe(olivia_h, mia["id"])
    screen = await call.subscribe(olivia_h, mia["id"], "screen")
    await until(lambda: camera.frames["video"] >= 5 and screen.frames["video"] >= 5, "frames")

    # made attendee: the screen share stops, and so does her camera (attendees have no
    # camera in this meeting); her microphone goes on
    r = await call.http.put(
        f"{call.m}/participants/{mia['id']}/role", json={"role": "attendee"}, headers=olivia_h
    )
    assert r.status_code == 200, r.text
    assert await _quiet(screen, "video"), "the screen share went on"
    assert await _quiet(camera, "video"), "the camera went on"
    audio = camera.snapshot()["audio"]
    await until(lambda: camera.frames["audio"] > audio + 10, "her audio goes on")
    # her mic disabled: the audio stops at the media server
    r = await call.http.put(
        f"{call.m}/participants/{mia['id']}/media-permissions",
        json={"mic": False},
        headers=olivia_h,
    )
    assert r.status_code == 200, r.text
    assert await _quiet(camera, "audio"), "the audio went on"
