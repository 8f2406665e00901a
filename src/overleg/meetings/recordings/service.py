"""Recordings for the people who may see them: list, details, streaming with byte ranges,
downloads (audited), access per person, expiry, delete to the recycle state, restore.

Rights come from ``rules`` through ``access``. Watching is streaming the sealed file in
plaintext ranges; each range request is not audited (a player sends many), each download
request is. Every change is audited in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files.streams import Stream, byte_range, primed
from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound
from overleg.meetings.access import can_see
from overleg.meetings.models import Meeting, Recording, RecordingAccess, RecordingFile
from overleg.meetings.recordings import store
from overleg.meetings.recordings.access import (
    access_recording,
    has_full_rights,
    recording_policy,
    rights_of,
)
from overleg.meetings.recordings.manifest import Manifest
from overleg.meetings.recordings.rules import Need, RecordingState, Rights
from overleg.meetings.recordings.schemas import (
    RecordingAccessEntry,
    RecordingAccessSet,
    RecordingFilePublic,
    RecordingPerson,
    RecordingPublic,
    RecordingRestore,
    RecordingRights,
    RecordingUpdate,
)
from overleg.security.authz.enforce import not_found_denied
from overleg.security.principal import Principal

TARGET = "recording"


# --- the expiry of new recordings -----------------------------------------------------------


async def expiry_for_new_recording(db: AsyncSession) -> datetime | None:
    """When a recording that starts now expires, by the tenant's recording policy as it is
    now (None: never). Called once when recording starts: a later policy change does not
    touch recordings made before it."""
    days = (await recording_policy(db)).expiry_days
    return None if days is None else now() + timedelta(days=days)


# --- reading ---------------------------------------------------------------------------------


async def _manifest(db: AsyncSession, rec: Recording) -> Manifest | None:
    if rec.manifest_object is None or rec.manifest_key_enc is None:
        return None
    raw = await store.read_all(db, rec.tenant_id, rec.id, store.MANIFEST, rec.manifest_key_enc)
    return Manifest.model_validate_json(raw)


async def _files(db: AsyncSession, rec: Recording) -> list[RecordingFile]:
    rows = await db.scalars(
        select(RecordingFile)
        .where(RecordingFile.recording_id == rec.id)
        .order_by(RecordingFile.started_at, RecordingFile.id)
    )
    return list(rows)


async def _public(
    db: AsyncSession, rec: Recording, got: Rights, subject: str | None = None
) -> RecordingPublic:
    manifest = await _manifest(db, rec)
    names = {p.participant_id: p.display_name for p in manifest.people} if manifest else {}
    if manifest is not None:
        subject = manifest.subject
    elif subject is None:
        meeting = await db.get(Meeting, rec.meeting_id)
        subject = meeting.subject if meeting else None
    files = [
        RecordingFilePublic(
            id=f.id,
            participant_id=f.participant_id,
            display_name=names.get(f.participant_id),
            feed=f.feed,
            media=f.media,
            content_type=f.content_type,
            size=f.size,
            started_at=f.started_at,
            ended_at=f.ended_at,
        )
        for f in await _files(db, rec)
    ]
    people = [
        RecordingPerson(
            participant_id=p.participant_id,
            display_name=p.display_name,
            user_id=p.user_id,
            ranges=p.ranges,
        )
        for p in (manifest.people if manifest else [])
    ]
    return RecordingPublic(
        id=rec.id,
        meeting_id=rec.meeting_id,
        subject=subject,
        state=RecordingState(rec.state).value,
        started_at=rec.started_at,
        stopped_at=rec.stopped_at,
        expires_at=rec.expires_at,
        recycled_at=rec.recycled_at,
        purged_at=rec.purged_at,
        files=files,
        people=people,
        my_rights=RecordingRights(view=got.view, download=got.download, manage=got.manage),
    )


async def list_for_meeting(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> list[RecordingPublic]:
    """The meeting's recordings the caller may see, oldest first. 404 (audited) for a
    meeting the caller neither sees nor has a recording of."""
    action = "recording.list"
    m = await db.get(Meeting, meeting_id)
    if m is None:
        raise not_found_denied(principal, action, "meeting", str(meeting_id))
    policy = await recording_policy(db)
    out: list[RecordingPublic] = []
    rows = await db.scalars(
        select(Recording)
        .where(Recording.meeting_id == m.id)
        .order_by(Recording.started_at, Recording.id)
    )
    for rec in list(rows):
        got = await rights_of(principal, db, rec, policy)
        if got.listed:
            out.append(await _public(db, rec, got, m.subject))
    if not out and not await can_see(principal, db, m):
        raise not_found_denied(principal, action, "meeting", str(meeting_id))
    return out


async def get_recording(
    principal: Principal, db: AsyncSession, recording_id: uuid.UUID
) -> RecordingPublic:
    rec, got = await access_recording(
        principal, db, recording_id, action="recording.read", need=Need.SEE
    )
    return await _public(db, rec, got)


# --- streaming and downloads ------------------------------------------------------------------

#: file name extensions by media type (downloads are named by ids, never by people)
EXTENSIONS = {
    "video/webm": "webm",
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "video/mp4": "mp4",
    "audio/mp4": "m4a",
}


async def open_stream(
    principal: Principal,
    db: AsyncSession,
    recording_id: uuid.UUID,
    file_id: uuid.UUID,
    range_header: str | None,
    *,
    download: bool,
) -> Stream:
    """One file of a recording, whole or one byte range. Downloads need the download
    right and are audited (``recording.download``); watching needs the view right."""
    action = "recording.download" if download else "recording.view"
    need = Need.DOWNLOAD if download else Need.VIEW
    rec, _ = await access_recording(principal, db, recording_id, action=action, need=need)
    f = await db.get(RecordingFile, file_id)
    if f is None or f.recording_id != rec.id:
        raise NotFound(f"No file with id {file_id} in this recording.")
    span = byte_range(range_header, f.size)
    start, end = span if span is not None else (0, f.size - 1)
    body = await primed(
        await store.reader(db, rec.tenant_id, rec.id, str(f.id), f.key_enc, start, end + 1)
    )
    filename = None
    if download:
        ext = EXTENSIONS.get(f.content_type.split(";", 1)[0].strip().lower(), "bin")
        filename = f"recording-{rec.id}-{f.id}.{ext}"
        details: dict[str, object] = {"file_id": str(f.id), "size": f.size}
        if span is not None:
            details["range"] = f"{start}-{end}"
        await record(principal, db, action, target_type=TARGET, target_id=rec.id, details=details)
    return Stream(
        content_type=f.content_type,
        size=f.size,
        start=start,
        end=end,
        status=206 if span is not None else 200,
        body=body,
        filename=filename,
    )


# --- access per person --------------------------------------------------------------------


async def _entries(db: AsyncSession, rows: list[RecordingAccess]) -> list[RecordingAccessEntry]:
    people = await identity.people(db, [r.user_id for r in rows])
    out = []
    for r in rows:
        person = people.get(r.user_id)
        out.append(
            RecordingAccessEntry(
                user_id=r.user_id,
                display_name=person.display_name if person else None,
                kind=person.kind if person else None,
                allowed=r.allowed,
                by=r.by,
                at=r.at,
            )
        )
    return out


async def list_access(
    principal: Principal, db: AsyncSession, recording_id: uuid.UUID
) -> list[RecordingAccessEntry]:
    """The owners' explicit choices (grants and denials), for those who manage it."""
    rec, _ = await access_recording(
        principal, db, recording_id, action="recording.access_list", need=Need.MANAGE
    )
    rows = await db.scalars(
        select(RecordingAccess)
        .where(RecordingAccess.recording_id == rec.id)
        .order_by(RecordingAccess.at, RecordingAccess.id)
    )
    return await _entries(db, list(rows))


async def _access_row(
    db: AsyncSession, recording_id: uuid.UUID, user_id: uuid.UUID
) -> RecordingAccess | None:
    row: RecordingAccess | None = await db.scalar(
        select(RecordingAccess).where(
            RecordingAccess.recording_id == recording_id, RecordingAccess.user_id == user_id
        )
    )
    return row


async def set_access(
    principal: Principal,
    db: AsyncSession,
    recording_id: uuid.UUID,
    user_id: uuid.UUID,
    data: RecordingAccessSet,
) -> RecordingAccessEntry:
    """Grant (``allowed``) or deny viewing to one account of the organisation. Owners keep
    full rights: denying one is a 409."""
    action = "recording.access_set"
    rec, _ = await access_recording(principal, db, recording_id, action=action, need=Need.MANAGE)
    if user_id not in await identity.people(db, [user_id]):
        raise NotFound(f"No user with id {user_id}.")
    if not data.allowed and await has_full_rights(db, rec, user_id):
        raise Conflict("The recording's owners keep full rights: they cannot be denied.")
    row = await _access_row(db, rec.id, user_id)
    before = row.allowed if row is not None else None
    if row is None:
        row = RecordingAccess(tenant_id=rec.tenant_id, recording_id=rec.id, user_id=user_id)
        db.add(row)
    row.allowed, row.by, row.at = data.allowed, principal.label, now()
    await db.flush()
    await record(
        principal,
        db,
        action,
        target_type=TARGET,
        target_id=rec.id,
        details={"user_id": str(user_id), "allowed": data.allowed, "before": before},
    )
    return (await _entries(db, [row]))[0]


async def clear_access(
    principal: Principal, db: AsyncSession, recording_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove the explicit choice for one person (they are back to what invitation and
    channel membership give them). Idempotent."""
    action = "recording.access_clear"
    rec, _ = await access_recording(principal, db, recording_id, action=action, need=Need.MANAGE)
    row = await _access_row(db, rec.id, user_id)
    before = row.allowed if row is not None else None
    if row is not None:
        await db.delete(row)
        await db.flush()
    await record(
        principal,
        db,
        action,
        target_type=TARGET,
        target_id=rec.id,
        details={"user_id": str(user_id), "before": before},
    )


# --- expiry, delete, restore -----------------------------------------------------------------


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


async def update_recording(
    principal: Principal, db: AsyncSession, recording_id: uuid.UUID, data: RecordingUpdate
) -> RecordingPublic:
    """An owner changes the expiry (null: never). A recycled recording gets its new expiry
    when it is restored (409 here)."""
    action = "recording.update"
    rec, got = await access_recording(principal, db, recording_id, action=action, need=Need.MANAGE)
    if rec.state == RecordingState.RECYCLED:
        raise Conflict("The recording is recycled: restore it with a new expiry instead.")
    before = rec.expires_at
    rec.expires_at = data.expires_at
    await db.flush()
    await record(
        principal,
        db,
        action,
        target_type=TARGET,
        target_id=rec.id,
        details={"expires_at": {"before": _iso(before), "after": _iso(data.expires_at)}},
    )
    return await _public(db, rec, got)


async def delete_recording(principal: Principal, db: AsyncSession, recording_id: uuid.UUID) -> None:
    """An owner deletes a ready recording: it goes to the recycle state at once (listed
    to owners, restorable until it is purged)."""
    action = "recording.delete"
    rec, _ = await access_recording(principal, db, recording_id, action=action, need=Need.MANAGE)
    if rec.state != RecordingState.READY:
        raise Conflict(f"The recording is {rec.state}: only a ready recording is deleted.")
    rec.state, rec.recycled_at = RecordingState.RECYCLED.value, now()
    await db.flush()
    await record(principal, db, action, target_type=TARGET, target_id=rec.id)


async def restore_recording(
    principal: Principal, db: AsyncSession, recording_id: uuid.UUID, data: RecordingRestore
) -> RecordingPublic:
    """An owner brings a recycled recording back. If its expiry has passed, the body must
    give a new one (null: never), else 409."""
    action = "recording.restore"
    rec, _ = await access_recording(principal, db, recording_id, action=action, need=Need.MANAGE)
    if rec.state != RecordingState.RECYCLED:
        raise Conflict(f"The recording is {rec.state}: only a recycled recording is restored.")
    before = rec.expires_at
    if "expires_at" in data.model_fields_set:
        rec.expires_at = data.expires_at
    elif rec.expires_at is not None and rec.expires_at <= now():
        raise Conflict(
            "The recording's expiry has passed: give a new one (expires_at) to restore it."
        )
    rec.state, rec.recycled_at = RecordingState.READY.value, None
    rec.error = None  # a purge hold noted by the expiry job no longer applies
    await db.flush()
    await record(
        principal,
        db,
        action,
        target_type=TARGET,
        target_id=rec.id,
        details={"expires_at": {"before": _iso(before), "after": _iso(rec.expires_at)}},
    )
    got = await rights_of(principal, db, rec)
    return await _public(db, rec, got)
