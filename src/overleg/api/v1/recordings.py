"""Meeting recordings: list, details, expiry, delete and restore, access per person, and
the files themselves (streamed with byte ranges for players, or downloaded)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from overleg.api.deps import CurrentPrincipal, Db
from overleg.api.streaming import MEDIA_RESPONSES, send_stream
from overleg.meetings.recordings import service
from overleg.meetings.recordings.schemas import (
    RecordingAccessEntry,
    RecordingAccessSet,
    RecordingPublic,
    RecordingRestore,
    RecordingUpdate,
)

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])
meeting_router = APIRouter(prefix="/api/v1/meetings", tags=["recordings"])

_MEDIA = MEDIA_RESPONSES


@meeting_router.get("/{meeting_id}/recordings", response_model=list[RecordingPublic])
async def list_recordings(
    meeting_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> list[RecordingPublic]:
    """The meeting's recordings I may see: ready ones I may watch, and (for their owners)
    recycled ones and ones still processing, failed or purged, with their state."""
    return await service.list_for_meeting(p, db, meeting_id)


@router.get("/{recording_id}", response_model=RecordingPublic)
async def get_recording(recording_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> RecordingPublic:
    return await service.get_recording(p, db, recording_id)


@router.patch("/{recording_id}", response_model=RecordingPublic)
async def update_recording(
    recording_id: uuid.UUID, body: RecordingUpdate, p: CurrentPrincipal, db: Db
) -> RecordingPublic:
    """An owner changes when it expires (null: never)."""
    return await service.update_recording(p, db, recording_id, body)


@router.delete("/{recording_id}", status_code=204)
async def delete_recording(recording_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    """An owner deletes it: it goes to the recycle state, restorable until it is purged."""
    await service.delete_recording(p, db, recording_id)


@router.post("/{recording_id}/restore", response_model=RecordingPublic)
async def restore_recording(
    recording_id: uuid.UUID, body: RecordingRestore, p: CurrentPrincipal, db: Db
) -> RecordingPublic:
    """An owner brings a recycled recording back (with a new expiry if its own passed)."""
    return await service.restore_recording(p, db, recording_id, body)


async def _send(
    request: Request,
    p: CurrentPrincipal,
    db: Db,
    recording_id: uuid.UUID,
    file_id: uuid.UUID,
    *,
    download: bool,
) -> Response:
    opening = service.open_stream(
        p, db, recording_id, file_id, request.headers.get("range"), download=download
    )
    return await send_stream(request, opening, attachment=download)


@router.get("/{recording_id}/files/{file_id}", response_class=StreamingResponse, responses=_MEDIA)
async def stream_file(
    recording_id: uuid.UUID, file_id: uuid.UUID, request: Request, p: CurrentPrincipal, db: Db
) -> Response:
    """Watch: the file inline, whole or one byte range (`Range: bytes=a-b`, `a-`, `-n`).
    Several ranges in one request are answered with the whole file."""
    return await _send(request, p, db, recording_id, file_id, download=False)


@router.get(
    "/{recording_id}/files/{file_id}/download",
    response_class=StreamingResponse,
    responses=_MEDIA,
)
async def download_file(
    recording_id: uuid.UUID, file_id: uuid.UUID, request: Request, p: CurrentPrincipal, db: Db
) -> Response:
    """Download (as an attachment named by ids); needs the download right; audited."""
    return await _send(request, p, db, recording_id, file_id, download=True)


@router.get("/{recording_id}/access", response_model=list[RecordingAccessEntry])
async def list_access(
    recording_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> list[RecordingAccessEntry]:
    """The owners' explicit grants and denials."""
    return await service.list_access(p, db, recording_id)


@router.put("/{recording_id}/access/{user_id}", response_model=RecordingAccessEntry)
async def set_access(
    recording_id: uuid.UUID,
    user_id: uuid.UUID,
    body: RecordingAccessSet,
    p: CurrentPrincipal,
    db: Db,
) -> RecordingAccessEntry:
    """Grant viewing to someone of the organisation (guests included), or deny it to
    someone who would have it (not to an owner)."""
    return await service.set_access(p, db, recording_id, user_id, body)


@router.delete("/{recording_id}/access/{user_id}", status_code=204)
async def clear_access(
    recording_id: uuid.UUID, user_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> None:
    """Remove the explicit choice for someone (back to what the meeting gives them)."""
    await service.clear_access(p, db, recording_id, user_id)
