"""Post-processing: what Janus wrote for a stopped recording becomes sealed media files, a
manifest and a chat item; the raw files are then deleted.

Janus writes one ``.mjr`` file per recorded feed segment into the meeting's raw folder
(owner-only), named ``<recording>_<participant>_<feed>_<ms>-<audio|video>-<mid>.mjr``
(``signalling.raw_name``). For a recording in state ``processing`` a node:

1. claims it (a lease in the row, so that one node works on it at a time);
2. converts every non-empty segment with ``janus-pp-rec`` (Opus to ``.opus``, VP8/VP9 to
   ``.webm``), reading its first-packet time and duration from the tool's JSON report;
3. seals each result and the manifest into the object store (``store.put``), adds the
   file rows, posts the recording item into the meeting chat, marks it ``ready`` and
   audits it, in one transaction;
4. deletes the raw files only after that commit.

If anything fails the recording becomes ``failed``, its raw files stay where they are (in
the owner-only folder), whatever was stored for it is deleted again, and an admin alert
is raised; ``retry`` (an admin) queues it again.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import Runtime, runtime_of
from overleg.meetings.chat import post_recording_item
from overleg.meetings.models import Meeting, MeetingParticipant, Recording, RecordingFile
from overleg.meetings.recordings import store
from overleg.meetings.recordings.manifest import (
    Manifest,
    ManifestFile,
    ManifestPerson,
    RecordingProcessing,
    merge_ranges,
)
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied
from overleg.security.authz.pdp import Resource
from overleg.security.principal import Principal, for_tenant, system
from overleg.threat.service import raise_alert

log = structlog.get_logger("overleg.recordings")

#: a raw segment's name (see ``signalling.raw_name``)
RAW = re.compile(
    r"^(?P<recording>[0-9a-f-]{36})_(?P<participant>[0-9a-f-]{36})_(?P<feed>camera|screen)"
    r"_(?P<ms>\d+)-(?P<media>audio|video)-(?P<mid>\d+)\.mjr$"
)
#: codec -> (file extension, content type) of the converted file
TARGETS = {
    "opus": (".opus", "audio/ogg"),
    "vp8": (".webm", "video/webm"),
    "vp9": (".webm", "video/webm"),
}
#: how long after the stop Janus is given to close its files
GRACE = timedelta(seconds=2)
#: a node that claimed a recording has this long before another may take it over
LEASE = timedelta(minutes=15)
TOOL_TIMEOUT = 600.0
EMPTY_MJR = 8  # bytes: the magic only, no header, nothing recorded
READ_BLOCK = 1024 * 1024


class ProcessingFailed(Exception):
    """A segment could not be converted; the message is safe to show an admin."""


@dataclass(frozen=True)
class Segment:
    raw: Path
    participant_id: uuid.UUID
    feed: str
    media: str
    codec: str
    started_at: datetime
    ended_at: datetime
    packets: int


def raw_folder(rt: Runtime, tenant_id: uuid.UUID, meeting_id: uuid.UUID) -> Path:
    base = rt.settings.media_recordings_dir
    assert base is not None
    return base.resolve() / str(tenant_id) / str(meeting_id)


def raw_files(folder: Path, recording_id: uuid.UUID) -> list[Path]:
    """The raw segments Janus wrote for this recording, in name order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{recording_id}_*.mjr") if RAW.match(p.name))


async def _tool(*args: str) -> tuple[int, str, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            "janus-pp-rec",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise ProcessingFailed("janus-pp-rec is not installed (package janus-tools)") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TOOL_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ProcessingFailed(f"janus-pp-rec took longer than {TOOL_TIMEOUT:.0f} s") from None
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def inspect(raw: Path) -> Segment | None:
    """What a raw segment holds (None: nothing was recorded in it)."""
    m = RAW.match(raw.name)
    if m is None:
        raise ProcessingFailed(f"{raw.name}: not a recording segment")
    if (await asyncio.to_thread(raw.stat)).st_size <= EMPTY_MJR:
        return None
    code, out, _ = await _tool("-e", str(raw))
    try:
        report = json.loads(out)
        extended = report["extended"]
        codec, first, duration = report["c"], int(report["u"]), float(extended["duration"])
        packets = int(extended["packets"])
    except (ValueError, KeyError, TypeError):
        raise ProcessingFailed(f"{raw.name}: janus-pp-rec cannot read it (exit {code})") from None
    if packets == 0:
        return None
    if codec not in TARGETS:
        raise ProcessingFailed(f"{raw.name}: codec {codec} is not supported")
    start = datetime.fromtimestamp(first / 1_000_000, UTC)
    return Segment(
        raw=raw,
        participant_id=uuid.UUID(m["participant"]),
        feed=m["feed"],
        media=m["media"],
        codec=codec,
        started_at=start,
        ended_at=start + timedelta(seconds=duration),
        packets=packets,
    )


async def convert(seg: Segment, work: Path) -> Path:
    """The segment as a playable file in ``work``."""
    out = work / (seg.raw.stem + TARGETS[seg.codec][0])
    code, _, err = await _tool("-d", "0", str(seg.raw), str(out))
    try:
        size = (await asyncio.to_thread(out.stat)).st_size if code == 0 else 0
    except FileNotFoundError:
        size = 0
    if size == 0:
        last = err.strip().splitlines()[-1:] or [f"exit {code}"]
        raise ProcessingFailed(f"{seg.raw.name}: conversion failed ({last[0][:200]})")
    return out


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while block := await asyncio.to_thread(f.read, READ_BLOCK):
            yield block


# --- the job ------------------------------------------------------------------------------


async def process_pending(rt: Runtime, *, grace: timedelta = GRACE) -> list[uuid.UUID]:
    """Post-process every recording stopped more than ``grace`` ago (all tenants); the ids
    of those that became ready. Safe on several nodes at once (claims)."""
    due = now() - grace
    async with rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.execute(
                select(Recording.tenant_id, Recording.id).where(
                    Recording.state == "processing",
                    Recording.stopped_at <= due,
                    or_(Recording.claimed_until.is_(None), Recording.claimed_until < now()),
                )
            )
        ).all()
    done = []
    for tenant_id, rec_id in rows:
        if await process_recording(rt, tenant_id, rec_id):
            done.append(rec_id)
    return done


async def _claim(rt: Runtime, tenant_id: uuid.UUID, rec_id: uuid.UUID) -> bool:
    t = now()
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        claimed = await db.execute(
            update(Recording)
            .where(
                Recording.id == rec_id,
                Recording.state == "processing",
                or_(Recording.claimed_until.is_(None), Recording.claimed_until < t),
            )
            .values(claimed_until=t + LEASE, attempts=Recording.attempts + 1)
        )
        return bool(getattr(claimed, "rowcount", 0))


async def process_recording(rt: Runtime, tenant_id: uuid.UUID, rec_id: uuid.UUID) -> bool:
    """Post-process one recording if this node can claim it. True when it became ready;
    False when another node has it or it failed (then it is ``failed`` and alerted)."""
    if not await _claim(rt, tenant_id, rec_id):
        return False
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        rec = await db.get(Recording, rec_id)
        assert rec is not None
        meeting_id = rec.meeting_id
    folder = raw_folder(rt, tenant_id, meeting_id)
    raws = raw_files(folder, rec_id)
    work = folder / f".work-{rec_id}"
    stored: list[str] = []
    try:
        work.mkdir(mode=0o700, parents=True, exist_ok=True)
        segments = [s for s in [await inspect(r) for r in raws] if s is not None]
        outputs = [await convert(s, work) for s in segments]
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            await _finish(db, tenant_id, rec_id, segments, outputs, stored)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ProcessingFailed) else f"{type(exc).__name__}: {exc}"
        log.warning("recording_processing_failed", recording=str(rec_id), error=reason)
        for key in stored:
            await rt.objects.delete(key) if rt.objects else None
        await _failed(rt, tenant_id, rec_id, reason[:500], len(raws))
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for raw in raws:  # only after the sealed copies are committed
        raw.unlink(missing_ok=True)
    return True


async def _finish(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    rec_id: uuid.UUID,
    segments: list[Segment],
    outputs: list[Path],
    stored: list[str],
) -> None:
    rec = await db.get(Recording, rec_id, with_for_update=True)
    if rec is None or rec.state != "processing":
        raise ProcessingFailed("the recording changed state while it was processed")
    m = await db.get(Meeting, rec.meeting_id)
    assert m is not None and rec.stopped_at is not None
    who = {
        p.id: p
        for p in await db.scalars(
            select(MeetingParticipant).where(
                MeetingParticipant.id.in_({s.participant_id for s in segments})
            )
        )
    }
    people: dict[uuid.UUID, ManifestPerson] = {}
    for seg, out in zip(segments, outputs, strict=True):
        file_id = new_id()
        key, key_enc, info = await store.put(db, tenant_id, rec_id, str(file_id), _chunks(out))
        stored.append(key)
        content_type = TARGETS[seg.codec][1]
        db.add(
            RecordingFile(
                id=file_id,
                tenant_id=tenant_id,
                recording_id=rec_id,
                participant_id=seg.participant_id,
                feed=seg.feed,
                media=seg.media,
                content_type=content_type,
                object_key=key,
                key_enc=key_enc,
                size=info.size,
                sha256=info.sha256,
                started_at=seg.started_at,
                ended_at=seg.ended_at,
            )
        )
        p = who.get(seg.participant_id)
        person = people.setdefault(
            seg.participant_id,
            ManifestPerson(
                participant_id=seg.participant_id,
                display_name=p.display_name if p else "(unknown)",
                user_id=p.user_id if p else None,
                ranges=[],
                files=[],
            ),
        )
        person.files.append(
            ManifestFile(
                file_id=file_id,
                feed=seg.feed,
                media=seg.media,
                content_type=content_type,
                codec=seg.codec,
                started_at=seg.started_at,
                ended_at=seg.ended_at,
                size=info.size,
                sha256=info.sha256,
            )
        )
    for person in people.values():
        person.ranges = merge_ranges([(f.started_at, f.ended_at) for f in person.files])
    manifest = Manifest(
        recording_id=rec_id,
        meeting_id=m.id,
        subject=m.subject,
        started_at=rec.started_at,
        stopped_at=rec.stopped_at,
        people=sorted(people.values(), key=lambda x: (x.display_name, str(x.participant_id))),
    )

    async def one(data: bytes) -> AsyncIterator[bytes]:
        yield data

    key, key_enc, _ = await store.put(
        db, tenant_id, rec_id, store.MANIFEST, one(manifest.model_dump_json().encode())
    )
    stored.append(key)
    rec.manifest_object, rec.manifest_key_enc = key, key_enc
    rec.state, rec.claimed_until, rec.error = "ready", None, None
    actor = for_tenant(system(job="recordings.process"), tenant_id)
    minutes = max(1, round((rec.stopped_at - rec.started_at).total_seconds() / 60))
    await post_recording_item(
        actor,
        db,
        m,
        recording_id=rec_id,
        participant_id=rec.started_by_participant_id,
        text=f"Recording of {m.subject} ({minutes} min) is ready.",
    )
    await record(
        actor,
        db,
        "recording.processed",
        target_type="recording",
        target_id=rec_id,
        details={
            "meeting_id": str(m.id),
            "files": len(outputs),
            "people": len(people),
            "segments_raw": len(segments),
        },
    )


async def _failed(
    rt: Runtime, tenant_id: uuid.UUID, rec_id: uuid.UUID, reason: str, raws: int
) -> None:
    actor = for_tenant(system(job="recordings.process"), tenant_id)
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        rec = await db.get(Recording, rec_id)
        if rec is None:
            return
        rec.state, rec.claimed_until, rec.error = "failed", None, reason
        await raise_alert(
            db,
            tenant_id=tenant_id,
            kind="recording.processing_failed",
            severity="high",
            title="A meeting recording could not be processed; its raw files are kept",
            details={
                "recording_id": str(rec_id),
                "meeting_id": str(rec.meeting_id),
                "error": reason,
            },
            target_type="recording",
            target_id=str(rec_id),
        )
        await record(
            actor,
            db,
            "recording.processing_failed",
            target_type="recording",
            target_id=rec_id,
            details={"error": reason, "raw_files_kept": raws},
        )


# --- admins ---------------------------------------------------------------------------------


def _admin_view(rec: Recording, raws: int) -> RecordingProcessing:
    return RecordingProcessing(
        id=rec.id,
        meeting_id=rec.meeting_id,
        state=rec.state,
        started_at=rec.started_at,
        stopped_at=rec.stopped_at,
        attempts=rec.attempts,
        error=rec.error,
        raw_files=raws,
    )


async def list_processing(
    principal: Principal, db: AsyncSession, *, state: str | None = None
) -> list[RecordingProcessing]:
    """Recordings waiting for, in, or failed in post-processing (no content, no names)."""
    authorize(principal, Action.RECORDING_MANAGE, Resource("recording"))
    states = [state] if state else ["processing", "failed"]
    rows = await db.scalars(
        select(Recording).where(Recording.state.in_(states)).order_by(Recording.started_at.desc())
    )
    rt = runtime_of(db)
    return [
        _admin_view(r, len(raw_files(raw_folder(rt, r.tenant_id, r.meeting_id), r.id)))
        for r in rows
    ]


async def retry(
    principal: Principal, db: AsyncSession, recording_id: uuid.UUID
) -> RecordingProcessing:
    """Queue a failed recording for post-processing again (its raw files were kept)."""
    authorize(principal, Action.RECORDING_MANAGE, Resource("recording", str(recording_id)))
    rec = await db.get(Recording, recording_id)
    if rec is None:
        raise not_found_denied(principal, "recording.retry", "recording", str(recording_id))
    if rec.state != "failed":
        raise Conflict(f"Only a failed recording can be retried; this one is {rec.state}.")
    rec.state, rec.error, rec.claimed_until = "processing", None, None
    await record(principal, db, "recording.retry", target_type="recording", target_id=recording_id)
    folder = raw_folder(runtime_of(db), rec.tenant_id, rec.meeting_id)
    return _admin_view(rec, len(raw_files(folder, rec.id)))
