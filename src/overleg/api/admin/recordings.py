"""Meeting recordings whose post-processing waits or failed: look, and retry."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter

from overleg.api.deps import CurrentPrincipal, Db
from overleg.meetings.recordings import process
from overleg.meetings.recordings.manifest import RecordingProcessing

router = APIRouter(prefix="/api/admin/recordings", tags=["admin: recordings"])


@router.get("", response_model=list[RecordingProcessing])
async def list_processing(
    p: CurrentPrincipal, db: Db, state: Literal["processing", "failed"] | None = None
) -> list[RecordingProcessing]:
    """Recordings waiting for post-processing or failed in it (both without ``state``)."""
    return await process.list_processing(p, db, state=state)


@router.post("/{recording_id}/retry", response_model=RecordingProcessing)
async def retry(recording_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> RecordingProcessing:
    """Post-process a failed recording again (its raw files were kept)."""
    return await process.retry(p, db, recording_id)
