"""Expiry: the expiry of new recordings follows the tenant policy; owners change it; the
job moves expired recordings to the recycle state, owners restore or delete them, and the
purge after the recycle period removes the blobs from the store unless a purge blocker
(retention, legal hold) keeps them. Time is moved with the frozen clock, never slept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel import clock
from overleg.kernel.clock import now
from overleg.meetings.models import Recording, RecordingFile
from overleg.meetings.recordings import expiry
from overleg.meetings.recordings.service import expiry_for_new_recording
from tests.meetings.conftest import Hall
from tests.meetings.recordings.conftest import Scene, problem, scheduled_scene
from tests.meetings.recordings.factory import make_recording
from tests.meetings.recordings.test_access import FULL, NOT_LISTED

DAY = timedelta(days=1)


def _iso(t: datetime) -> str:
    return t.isoformat()


def _blobs(s: Scene, rec_id: uuid.UUID | None = None) -> list[str]:
    """The stored objects of a recording, as files in the object store's directory."""
    w = s.hall.world
    root = w.rt.settings.storage_dir
    assert root is not None
    folder = Path(root) / "recordings" / str(w.tenant_of("olivia")) / str(rec_id or s.rec.id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def _row(s: Scene, rec_id: uuid.UUID | None = None) -> Recording:
    w = s.hall.world
    async with w.rt.database.transaction(tenant_id=w.tenant_of("olivia")) as db:
        rec = await db.get(Recording, rec_id or s.rec.id)
        assert rec is not None
        return rec


async def _file_rows(s: Scene) -> int:
    w = s.hall.world
    async with w.rt.database.transaction(tenant_id=w.tenant_of("olivia")) as db:
        q = select(func.count()).select_from(RecordingFile)
        return int(await db.scalar(q.where(RecordingFile.recording_id == s.rec.id)) or 0)


async def _run(s: Scene) -> expiry.ExpiryRun:
    return await expiry.run_expiry_everywhere(s.hall.world.rt)


@pytest.fixture
def blockers() -> Iterator[list[expiry.PurgeBlocker]]:
    """PURGE_BLOCKERS, put back as they were after the test."""
    before = list(expiry.PURGE_BLOCKERS)
    yield expiry.PURGE_BLOCKERS
    expiry.PURGE_BLOCKERS[:] = before


# --- the expiry of new recordings -----------------------------------------------------------


async def test_new_recordings_expire_by_the_policy(hall: Hall) -> None:
    w = hall.world
    t = now()
    clock.freeze(t)

    async def expiry_now() -> datetime | None:
        async with w.rt.database.transaction(tenant_id=w.tenant_of("olivia")) as db:
            return await expiry_for_new_recording(db)

    assert await expiry_now() == t + 120 * DAY  # the default
    await hall.policy("recordings", {"expiry_days": None})
    assert await expiry_now() is None
    await hall.policy("recordings", {"expiry_days": 1})
    assert await expiry_now() == t + DAY
    # outside 1..99,999 the policy itself is refused
    for days in (0, 100_000):
        r = await hall.call(
            "olivia", "PUT", "/api/admin/policies/recordings", json={"expiry_days": days}
        )
        problem(r, 422, "validation-failed")


async def test_a_policy_change_affects_new_recordings_only(hall: Hall) -> None:
    """Through the control plane: each recording started gets the policy's expiry of that
    moment, and keeps it when the policy changes."""
    w = hall.world
    t = now()
    clock.freeze(t)
    meeting = await hall.schedule(invite=("mia",))
    m = f"/api/v1/meetings/{meeting['id']}/recording"
    await hall.join("olivia", meeting)
    started = []
    policies: list[dict[str, Any]] = [{}, {"expiry_days": 30}, {"expiry_days": None}]
    for step, policy in enumerate(policies):
        clock.freeze(t + step * timedelta(minutes=5))
        if policy:
            await hall.policy("recordings", policy)
        assert (await hall.call("olivia", "POST", f"{m}/start")).status_code == 204
        assert (await hall.call("olivia", "POST", f"{m}/stop")).status_code == 204
        started.append(now())
    async with w.rt.database.transaction(tenant_id=w.tenant_of("olivia")) as db:
        rows = (
            await db.scalars(
                select(Recording)
                .where(Recording.meeting_id == uuid.UUID(meeting["id"]))
                .order_by(Recording.started_at)
            )
        ).all()
    assert [r.expires_at for r in rows] == [started[0] + 120 * DAY, started[1] + 30 * DAY, None]


# --- an owner changes the expiry ------------------------------------------------------------


async def test_owners_change_the_expiry(scheduled: Scene) -> None:
    s = scheduled
    later = now() + 10 * DAY
    r = await s.call("olivia", "PATCH", s.path, json={"expires_at": _iso(later)})
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["expires_at"]) == later
    r = await s.call("sam", "PATCH", s.path, json={"expires_at": None})  # never
    assert r.status_code == 200 and r.json()["expires_at"] is None
    assert (await _row(s)).expires_at is None
    problem(await s.call("mia", "PATCH", s.path, json={"expires_at": None}), 403, "forbidden")
    problem(await s.call("hank", "PATCH", s.path, json={"expires_at": None}), 404, "not-found")
    changes = await s.audit("recording.update", outcome="success")
    assert [c.details["expires_at"]["after"] for c in changes] == [_iso(later), None]
    assert [c.actor_label for c in changes] == ["olivia@contoso.example", "sam@contoso.example"]
    assert len(await s.audit("recording.update", outcome="denied")) == 2


async def test_a_new_expiry_is_validated(scheduled: Scene) -> None:
    s = scheduled
    t = now()
    wrong = [
        {"expires_at": _iso(t - timedelta(minutes=1))},  # past
        {"expires_at": _iso(t + timedelta(days=100_000))},  # more than 99,999 days ahead
        {"expires_at": "2031-01-01T00:00:00"},  # no time zone
        {"expires_at": "soon"},
        {},  # PATCH says what to change
        {"expires_at": None, "state": "ready"},  # unknown fields
    ]
    for body in wrong:
        problem(await s.call("olivia", "PATCH", s.path, json=body), 422, "validation-failed")
    far = t + timedelta(days=99_998)
    r = await s.call("olivia", "PATCH", s.path, json={"expires_at": _iso(far)})
    assert r.status_code == 200, r.text
    # restoring with a past expiry is refused the same way
    assert (await s.call("olivia", "DELETE", s.path)).status_code == 204
    r = await s.call("olivia", "POST", f"{s.path}/restore", json={"expires_at": _iso(t - DAY)})
    problem(r, 422, "validation-failed")


# --- delete to the recycle state, restore --------------------------------------------------


async def test_delete_and_restore(scheduled: Scene) -> None:
    s = scheduled
    expires = (await _row(s)).expires_at
    assert (await s.call("olivia", "DELETE", s.path)).status_code == 204
    assert await s.answers("mia") == NOT_LISTED  # recycled: invitees see nothing of it
    body = (await s.call("olivia", "GET", s.path)).json()
    assert body["state"] == "recycled" and body["recycled_at"] is not None
    assert body["my_rights"] == {"view": False, "download": False, "manage": True}
    assert await s.listed("sam") == "listed"  # listed to those who manage it
    problem(await s.call("olivia", "GET", s.file()), 409, "conflict")
    problem(await s.call("olivia", "DELETE", s.path), 409, "conflict")
    problem(await s.call("olivia", "PATCH", s.path, json={"expires_at": None}), 409)
    problem(await s.call("mia", "POST", f"{s.path}/restore", json={}), 404, "not-found")
    # its expiry has not passed: restored as it was
    r = await s.call("sam", "POST", f"{s.path}/restore", json={})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ready" and r.json()["recycled_at"] is None
    assert (await _row(s)).expires_at == expires
    assert await s.answers("mia") == FULL
    problem(await s.call("olivia", "POST", f"{s.path}/restore", json={}), 409, "conflict")
    assert len(await s.audit("recording.delete", outcome="success")) == 1
    assert len(await s.audit("recording.restore", outcome="success")) == 1


async def test_the_job_recycles_expired_recordings(hall: Hall) -> None:
    w = hall.world
    t = now()
    s = await scheduled_scene(hall, expires_at=t - timedelta(minutes=1))
    meeting_id = uuid.UUID(s.meeting["id"])
    later, never = [
        await make_recording(
            w.rt,
            w.tenant_of("olivia"),
            meeting_id,
            organizer_id=w.id("olivia"),
            started_by=w.id("sam"),
            expires_at=when,
        )
        for when in (t + 10 * DAY, None)
    ]
    run = await _run(s)
    assert run.recycled == [("contoso", s.rec.id)] and run.purged == []
    assert (await _run(s)).recycled == []  # done once
    expired = await s.audit("recording.expire", outcome="success")
    assert len(expired) == 1 and expired[0].actor_type == "system"
    # invitees no longer see it (the others remain); its owners do, and may restore it
    r = await s.call("mia", "GET", f"/api/v1/meetings/{meeting_id}/recordings")
    assert [x["id"] for x in r.json()] == [str(later.id), str(never.id)]
    assert await s.answers("mia") == NOT_LISTED
    body = (await s.call("olivia", "GET", s.path)).json()
    assert body["state"] == "recycled" and body["my_rights"]["manage"] is True
    problem(await s.call("olivia", "GET", s.file(download=True)), 409, "conflict")
    # its expiry has passed: a new one (or never) is needed to bring it back
    p = problem(await s.call("olivia", "POST", f"{s.path}/restore", json={}), 409, "conflict")
    assert "expires_at" in p["detail"]
    new = now() + 30 * DAY
    r = await s.call("olivia", "POST", f"{s.path}/restore", json={"expires_at": _iso(new)})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ready"
    assert datetime.fromisoformat(r.json()["expires_at"]) == new
    assert await s.answers("mia") == FULL
    assert (await _run(s)).recycled == []


# --- purge ---------------------------------------------------------------------------------


async def test_purge_after_the_recycle_days(scheduled: Scene) -> None:
    s = scheduled
    w = s.hall.world
    other = await make_recording(
        w.rt,
        w.tenant_of("olivia"),
        uuid.UUID(s.meeting["id"]),
        organizer_id=w.id("olivia"),
        started_by=None,
        expires_at=None,
    )
    names = sorted([str(s.rec.video_id), str(s.rec.audio_id), "manifest"])
    assert _blobs(s) == names
    assert (await s.call("olivia", "DELETE", s.path)).status_code == 204
    deleted = now()
    clock.freeze(deleted + 89 * DAY)
    assert (await _run(s)).purged == []
    assert _blobs(s) == names
    clock.freeze(deleted + 90 * DAY + timedelta(minutes=1))
    run = await _run(s)
    assert run.purged == [("contoso", s.rec.id)]
    assert _blobs(s) == []  # every file and the manifest are gone from the store
    assert len(_blobs(s, other.id)) == 3  # another recording keeps its own
    rec = await _row(s)
    assert (rec.state, rec.purged_at, rec.manifest_object) == ("purged", now(), None)
    assert await _file_rows(s) == 0
    assert (await _run(s)).purged == []  # idempotent
    purged = await s.audit("recording.purge", outcome="success")
    assert len(purged) == 1 and purged[0].details["files"] == 2
    clock.freeze(None)
    # the row stays as the record of it: listed to its owners, with nothing left
    body = (await s.call("olivia", "GET", s.path)).json()
    assert (body["state"], body["files"], body["people"]) == ("purged", [], [])
    assert body["my_rights"] == {"view": False, "download": False, "manage": False}
    assert body["subject"] == "Weekly"  # from the meeting, now the manifest is gone
    assert await s.answers("mia") == NOT_LISTED
    problem(await s.call("olivia", "GET", s.file()), 409, "conflict")
    problem(await s.call("olivia", "POST", f"{s.path}/restore", json={}), 409, "conflict")
    problem(await s.call("olivia", "PATCH", s.path, json={"expires_at": None}), 409)


async def test_the_recycle_period_comes_from_the_policy(scheduled: Scene) -> None:
    s = scheduled
    await s.hall.policy("recordings", {"recycle_days": 30})
    assert (await s.call("olivia", "DELETE", s.path)).status_code == 204
    clock.freeze(now() + 31 * DAY)
    assert (await _run(s)).purged == [("contoso", s.rec.id)]
    assert _blobs(s) == []


async def test_a_purge_blocker_keeps_the_recording(
    scheduled: Scene, blockers: list[expiry.PurgeBlocker]
) -> None:
    s = scheduled
    reason = {"now": "legal hold H-1"}

    async def hold(db: AsyncSession, rec: Recording) -> str | None:
        assert db.in_transaction()
        return reason["now"] if rec.id == s.rec.id else None

    blockers.append(hold)
    assert (await s.call("olivia", "DELETE", s.path)).status_code == 204
    deleted = now()
    clock.freeze(deleted + 100 * DAY)
    for _ in range(2):
        assert (await _run(s)).purged == []
    assert len(_blobs(s)) == 3 and (await _row(s)).state == "recycled"
    held = await s.audit("recording.purge_held", outcome="success")
    assert [h.details["reason"] for h in held] == ["legal hold H-1"]  # noted once
    reason["now"] = "legal hold H-2"
    await _run(s)
    held = await s.audit("recording.purge_held", outcome="success")
    assert [h.details["reason"] for h in held] == ["legal hold H-1", "legal hold H-2"]
    # the hold is lifted: the next run purges it
    reason["now"] = None  # type: ignore[assignment]
    assert (await _run(s)).purged == [("contoso", s.rec.id)]
    assert _blobs(s) == [] and (await _row(s)).error is None


async def test_purges_on_several_nodes_at_once_purge_once(scheduled: Scene) -> None:
    s = scheduled
    assert (await s.call("olivia", "DELETE", s.path)).status_code == 204
    clock.freeze(now() + 91 * DAY)
    runs = await asyncio.gather(_run(s), _run(s), _run(s))
    assert sorted(rid for run in runs for _, rid in run.purged) == [s.rec.id]
    assert len(await s.audit("recording.purge", outcome="success")) == 1
    assert _blobs(s) == []
