"""Recording records exactly the feeds that may be recorded: with explicit consent, of
three people publishing, the one who agreed is recorded; the one who declined and the one
the organizer excluded are not. Checked at Janus (its raw files), then after
post-processing in the manifest and in the decoded files, fetched as a viewer would."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest

from overleg.meetings.recordings.process import process_pending
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
    return {f.name.split("_")[1] for f in base.rglob("*.mjr") if f.stat().st_size > 8}


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
    # mia agreed: she may unmute and turn her camera on again (sam may not)
    mia_h = await call.h("mia")
    r = await call.http.patch(
        f"{call.m}/me/media", json={"muted": False, "camera_on": True}, headers=mia_h
    )
    assert r.status_code == 200, r.text
    r = await call.http.patch(
        f"{call.m}/me/media", json={"muted": False}, headers=await call.h("sam")
    )
    assert r.status_code == 403, r.text
    await asyncio.sleep(RECORD_SECONDS)
    assert (await call.http.post(f"{call.m}/recording/stop", headers=olivia_h)).status_code == 204

    base = Path(call.node.rt.settings.media_recordings_dir or "")
    assert _recorded(base) == {people["mia"]["id"]}

    # post-processing: converted, sealed into storage, raw files gone, an item in the chat
    done = await process_pending(call.node.rt, grace=timedelta(0))
    assert len(done) == 1
    rec_id = done[0]
    assert _raw(base) == []
    r = await call.http.get(f"/api/v1/recordings/{rec_id}", headers=olivia_h)
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["state"] == "ready"
    assert [p["participant_id"] for p in rec["people"]] == [people["mia"]["id"]]
    ranges = rec["people"][0]["ranges"]
    assert len(ranges) == 1
    span = datetime.fromisoformat(ranges[0][1]) - datetime.fromisoformat(ranges[0][0])
    assert timedelta(seconds=1) < span < timedelta(seconds=RECORD_SECONDS + 5)
    files = {(f["media"], f["participant_id"]): f for f in rec["files"]}
    assert set(files) == {("audio", people["mia"]["id"]), ("video", people["mia"]["id"])}
    decoded = {}
    for (media, _), f in files.items():
        r = await call.http.get(
            f"/api/v1/recordings/{rec_id}/files/{f['id']}/download", headers=olivia_h
        )
        assert r.status_code == 200, r.text
        assert len(r.content) == f["size"]
        decoded[media] = _decode(r.content)
    assert decoded["audio"][0] == "opus" and decoded["audio"][1] > 10
    assert decoded["video"][0] == "vp8" and decoded["video"][1] > 3
    # nothing stored in the clear: no WebM or Ogg signature anywhere under the object store
    stored = _stored(Path(call.node.rt.settings.storage_dir or ""))
    assert len(stored) == 3  # two media files and the manifest
    for data in stored:
        assert b"OggS" not in data and b"webm" not in data and b"\x1aE\xdf\xa3" not in data
        assert people["mia"]["display_name"].encode() not in data
    r = await call.http.get(f"{call.m}/messages", headers=olivia_h)
    assert r.status_code == 200, r.text
    assert [m["recording_id"] for m in r.json() if m["recording_id"]] == [str(rec_id)]


def _raw(base: Path) -> list[Path]:
    return list(base.rglob("*.mjr"))


def _stored(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


def _decode(data: bytes) -> tuple[str, int]:
    """(codec, number of decoded frames) of a media file, decoded with PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams[0]
        return stream.codec_context.name, sum(1 for _ in container.decode(stream))
