"""Recording at Janus records exactly the feeds that may be recorded: with explicit
consent, of three people publishing, the one who agreed is recorded; the one who
declined and the one the organizer excluded are not."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.fixtures.janus import JanusInstance
from tests.media.test_meeting_media import Call
from tests.media.test_meeting_media import call as call  # the fixture

RECORD_SECONDS = 2.0  # long enough for Janus to write some packets


@pytest.fixture
def settings_overrides(janus: JanusInstance, tmp_path: Path) -> dict[str, object]:
    return {
        "media_janus": [json.loads(janus.server.model_dump_json())],
        "media_api_secret": janus.api_secret,
        "media_admin_key": janus.admin_key,
        # outside Janus' protected folders (the fixture's recordings folder is)
        "media_recordings_dir": janus.recordings_dir / tmp_path.name,
    }


def _recorded(base: Path) -> set[str]:
    """The participant ids in the names of the non-empty raw recordings under ``base``."""
    return {f.name.split("-camera-")[0] for f in base.rglob("*.mjr") if f.stat().st_size > 0}


async def test_only_the_consenting_feed_is_recorded(call: Call, janus: JanusInstance) -> None:
    olivia_h = await call.h("olivia")
    r = await call.http.put(
        "/api/admin/policies/meetings",
        json={"default": {"explicit_recording_consent": True}},
        headers=olivia_h,
    )
    assert r.status_code == 200, r.text
    await call.join("olivia")
    people = {}
    for who in ("mia", "sam", "gus"):
        people[who] = (await call.join(who))["me"]
    # sam and gus are not invited: olivia lets them in
    for who in ("sam", "gus"):
        if people[who]["state"] == "lobby":
            r = await call.http.post(f"{call.m}/lobby/{people[who]['id']}/admit", headers=olivia_h)
            assert r.status_code == 200, r.text
    r = await call.http.patch(
        f"{call.m}/options", json={"allow_camera_for_attendees": True}, headers=olivia_h
    )
    assert r.status_code == 200, r.text
    for who in ("mia", "sam", "gus"):
        r = await call.publish(await call.h(who))
        assert r.status_code == 200, (who, r.text)
    for who in ("mia", "sam", "gus"):
        await call.wait_for_feed(olivia_h, people[who]["id"], "camera")
    r = await call.http.put(
        f"{call.m}/participants/{people['gus']['id']}/recording-exclusion",
        json={"excluded": True},
        headers=olivia_h,
    )
    assert r.status_code == 200, r.text

    assert (await call.http.post(f"{call.m}/recording/start", headers=olivia_h)).status_code == 204
    for who, agree in (("mia", True), ("sam", False)):
        r = await call.http.post(
            f"{call.m}/recording/consent", json={"agree": agree}, headers=await call.h(who)
        )
        assert r.status_code == 200, r.text
    await asyncio.sleep(RECORD_SECONDS)
    assert (await call.http.post(f"{call.m}/recording/stop", headers=olivia_h)).status_code == 204

    base = Path(call.node.rt.settings.media_recordings_dir or "")
    assert _recorded(base) == {people["mia"]["id"]}
