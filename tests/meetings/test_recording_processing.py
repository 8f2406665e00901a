"""Post-processing of recordings, apart from Janus: a recording stops when the meeting ends
or the last person leaves; one in which nobody was recorded is ready with an empty
manifest; one whose raw files cannot be converted keeps them, fails, and raises an admin
alert that admins can act on (retry). The conversion of real Janus files is tested with
real peers in tests/media/test_recording_media.py."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from overleg.kernel.clock import now
from overleg.meetings.media.signalling import raw_name
from overleg.meetings.models import Recording
from overleg.meetings.recordings.process import process_pending, raw_folder
from tests.meetings.conftest import Hall

NOW = timedelta(0)


async def _recording(hall: Hall, meeting: dict[str, Any]) -> Recording:
    async with hall.world.rt.database.transaction(unscoped=True) as db:
        rows = list(
            await db.scalars(
                select(Recording).where(Recording.meeting_id == uuid.UUID(meeting["id"]))
            )
        )
    assert len(rows) == 1, rows
    return rows[0]


async def _recorded_meeting(hall: Hall) -> dict[str, Any]:
    meeting = await hall.schedule(invite=("mia",))
    await hall.join("olivia", meeting)
    await hall.join("mia", meeting)
    r = await hall.call("olivia", "POST", f"/api/v1/meetings/{meeting['id']}/recording/start")
    assert r.status_code == 204, r.text
    return meeting


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def test_ending_the_meeting_stops_the_recording(hall: Hall) -> None:
    meeting = await _recorded_meeting(hall)
    assert (await _recording(hall, meeting)).state == "recording"
    r = await hall.call("olivia", "POST", f"/api/v1/meetings/{meeting['id']}/end")
    assert r.status_code == 204, r.text
    rec = await _recording(hall, meeting)
    assert rec.state == "processing" and rec.stopped_at is not None


async def test_the_last_one_out_stops_the_recording(hall: Hall) -> None:
    meeting = await _recorded_meeting(hall)
    m = f"/api/v1/meetings/{meeting['id']}"
    assert (await hall.call("mia", "POST", f"{m}/leave")).status_code == 204
    assert (await _recording(hall, meeting)).state == "recording"  # olivia is still in
    assert (await hall.call("olivia", "POST", f"{m}/leave")).status_code == 204
    assert (await _recording(hall, meeting)).state == "processing"


async def test_a_recording_of_nobody_is_ready_with_an_empty_manifest(hall: Hall) -> None:
    meeting = await _recorded_meeting(hall)
    m = f"/api/v1/meetings/{meeting['id']}"
    assert (await hall.call("olivia", "POST", f"{m}/recording/stop")).status_code == 204
    rec = await _recording(hall, meeting)
    assert await process_pending(hall.world.rt, grace=NOW) == [rec.id]
    assert await process_pending(hall.world.rt, grace=NOW) == []  # done once
    r = await hall.call("olivia", "GET", f"/api/v1/recordings/{rec.id}")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ready"
    assert r.json()["people"] == [] and r.json()["files"] == []
    r = await hall.call("mia", "GET", f"{m}/messages")
    assert r.status_code == 200, r.text
    items = [x for x in r.json() if x["recording_id"]]
    assert [x["recording_id"] for x in items] == [str(rec.id)]
    assert items[0]["author_name"] == "Overleg"


async def test_a_failed_conversion_keeps_the_raw_files_and_alerts_admins(hall: Hall) -> None:
    meeting = await _recorded_meeting(hall)
    m = f"/api/v1/meetings/{meeting['id']}"
    joined = await hall.room("mia", meeting["id"])
    mia_pid = uuid.UUID(joined["me"]["id"])
    assert (await hall.call("olivia", "POST", f"{m}/recording/stop")).status_code == 204
    rec = await _recording(hall, meeting)
    rt = hall.world.rt
    folder = raw_folder(rt, rec.tenant_id, rec.meeting_id)
    # what Janus would name the file, with content janus-pp-rec cannot read
    raw = folder / f"{raw_name(rec.id, mia_pid, 'camera', now())}-video-1.mjr"
    _write(raw, b"MJR00002" + b"\x00garbage" * 64)

    assert await process_pending(rt, grace=NOW) == []
    after = await _recording(hall, meeting)
    assert after.state == "failed"
    assert after.error and "janus-pp-rec cannot read it" in after.error
    assert raw.is_file(), "the raw file is kept"
    assert _files(Path(rt.settings.storage_dir or "")) == []

    # admins see it: an alert, and the failed recording with its kept raw file
    r = await hall.call("sid", "GET", "/api/admin/alerts", params={"status": "open"})
    assert r.status_code == 200, r.text
    alerts = [a for a in r.json() if a["kind"] == "recording.processing_failed"]
    assert [a["target_id"] for a in alerts] == [str(rec.id)]
    r = await hall.call("olivia", "GET", "/api/admin/recordings", params={"state": "failed"})
    assert r.status_code == 200, r.text
    assert [(x["id"], x["raw_files"], x["attempts"]) for x in r.json()] == [(str(rec.id), 1, 1)]

    # a member may not retry; an admin may, and it fails again on the same file
    r = await hall.call("mia", "POST", f"/api/admin/recordings/{rec.id}/retry")
    assert r.status_code == 403, r.text
    r = await hall.call("olivia", "POST", f"/api/admin/recordings/{rec.id}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "processing"
    r = await hall.call("olivia", "POST", f"/api/admin/recordings/{rec.id}/retry")
    assert r.status_code == 409, r.text
    assert await process_pending(rt, grace=NOW) == []
    assert (await _recording(hall, meeting)).attempts == 2
    assert raw.is_file()
    # the open alert is not raised twice
    r = await hall.call("sid", "GET", "/api/admin/alerts", params={"status": "open"})
    assert len([a for a in r.json() if a["kind"] == "recording.processing_failed"]) == 1
