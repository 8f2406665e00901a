"""Meetings say whether audio and video can be used: a served app with a Janus instance
up says yes (the "no" side is in tests/meetings/test_bypass_matrix.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from overleg.kernel.clock import now
from overleg.kernel.runtime import Runtime
from tests.fixtures.janus import JanusInstance
from tests.fixtures.world import World
from tests.realtime.conftest import serving


@pytest.fixture
def settings_overrides(janus: JanusInstance) -> dict[str, object]:
    return {
        "media_janus": [json.loads(janus.server.model_dump_json())],
        "media_api_secret": janus.api_secret,
        "media_admin_key": janus.admin_key,
    }


async def _meeting(http: httpx.AsyncClient, world: World) -> dict[str, Any]:
    start = now() + timedelta(hours=1)
    r = await http.post(
        "/api/v1/meetings",
        headers=await world.session_headers("olivia"),
        json={
            "subject": "Media",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "options": {"lobby_bypass": "everyone"},
        },
    )
    assert r.status_code == 201, r.text
    meeting: dict[str, Any] = r.json()
    return meeting


async def test_a_served_meeting_has_media_while_janus_is_up(
    rt: Runtime, world: World, janus: JanusInstance
) -> None:
    async with serving(rt) as node, node.client() as http:
        meeting = await _meeting(http, world)
        code = meeting["join_url"].rsplit("/", 1)[-1]
        r = await http.post(
            f"/api/v1/meetings/join/{code}",
            json={},
            headers=await world.session_headers("olivia"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["meeting"]["media_available"] is True
        assert rt.media is not None and rt.media.available
