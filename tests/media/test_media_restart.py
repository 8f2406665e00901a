"""Janus going away mid-meeting: participants are told, the meeting's control state is
untouched, media calls answer 503 meanwhile, and when Janus is back Overleg reconnects,
recreates the room on the next call, and media flows again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from overleg.kernel.events.models import OutboxEvent
from overleg.kernel.runtime import Runtime
from tests.fixtures.janus import JanusInstance
from tests.fixtures.peers import until
from tests.fixtures.world import World
from tests.media.test_meeting_media import Call
from tests.media.test_meeting_media import call as call  # the fixture

RECONNECT_BOUND = 60.0  # the plane retries with backoff (1, 2, 4, ... s)


@pytest.fixture
def own_janus(janus_factory: Callable[..., JanusInstance]) -> JanusInstance:
    return janus_factory("restart")


@pytest.fixture
def settings_overrides(own_janus: JanusInstance) -> dict[str, object]:
    return {
        "media_janus": [json.loads(own_janus.server.model_dump_json())],
        "media_api_secret": own_janus.api_secret,
        "media_admin_key": own_janus.admin_key,
    }


async def _media_events(rt: Runtime) -> list[tuple[dict[str, Any], str]]:
    async with rt.database.session(unscoped=True, readonly=True) as db:
        rows = await db.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "meeting.media").order_by(OutboxEvent.seq)
        )
        return [(json.loads(r.data), r.recipients) for r in rows]


async def test_janus_down_and_back(
    call: Call, rt: Runtime, world: World, own_janus: JanusInstance
) -> None:
    olivia_h, mia_h = await call.h("olivia"), await call.h("mia")
    await call.join("olivia")
    mia = (await call.join("mia"))["me"]
    assert (await call.publish(mia_h)).status_code == 200
    assert rt.media is not None and rt.media.available

    own_janus.kill()  # a crash
    await until(lambda: not rt.media.available, "the plane saw Janus go", RECONNECT_BOUND)
    r = await call.publish(mia_h)
    assert r.status_code == 503 and r.json()["type"].endswith("media-unavailable"), r.text
    view = (await call.http.get(f"{call.m}/room", headers=olivia_h)).json()
    assert view["meeting"]["media_available"] is False
    assert {p["display_name"] for p in view["participants"]} == {"Olivia", "Mia"}

    own_janus.start()
    await until(lambda: rt.media.available, "the plane reconnected", RECONNECT_BOUND)
    # the notices are sent by a task of the plane's listener: wait for them (bounded)
    for _ in range(200):
        notices = [(d, to) for d, to in await _media_events(rt) if d.get("change") != "published"]
        if len(notices) >= 2:
            break
        await asyncio.sleep(0.05)
    assert [d["change"] for d, _ in notices] == ["unavailable", "reset"]
    told = notices[1][1]
    assert str(world.id("olivia")).replace("-", "") in told
    assert str(world.id("mia")).replace("-", "") in told

    # publish again: the room is recreated on the new Janus, and frames flow
    assert (await call.publish(mia_h)).status_code == 200, "publishing after the restart"
    feed = {"participant_id": mia["id"], "kind": "camera"}
    for _ in range(100):
        if feed in await call.feeds(olivia_h):
            break
        await asyncio.sleep(0.1)
    frames = await call.subscribe(olivia_h, mia["id"])
    await until(lambda: frames.frames["video"] >= 5, "frames after the restart")
