"""Quarantined uploads: security admins look, examine, release, delete or rescan."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from overleg.api.deps import CurrentPrincipal, Db
from overleg.api.streaming import MEDIA_RESPONSES, send_stream
from overleg.files import quarantine
from overleg.files.schemas import QuarantineDecision, QuarantinedPublic

router = APIRouter(prefix="/api/admin/quarantine", tags=["admin: quarantine"])


@router.get("", response_model=list[QuarantinedPublic])
async def list_quarantined(p: CurrentPrincipal, db: Db) -> list[QuarantinedPublic]:
    """Infected and scan-failed uploads, newest first, with what the scanners found."""
    return await quarantine.list_quarantined(p, db)


@router.post("/{version_id}", response_model=QuarantinedPublic)
async def decide(
    version_id: uuid.UUID, body: QuarantineDecision, p: CurrentPrincipal, db: Db
) -> QuarantinedPublic:
    """`release` (a false positive: it becomes clean), `rescan`, or `delete`."""
    return await quarantine.decide(p, db, version_id, body)


@router.get("/{version_id}/content", responses=MEDIA_RESPONSES)
async def download(
    version_id: uuid.UUID, request: Request, p: CurrentPrincipal, db: Db
) -> Response:
    """The quarantined content, to examine it in a safe place; audited."""
    opening = quarantine.open_quarantined(p, db, version_id, request.headers.get("range"))
    return await send_stream(request, opening, attachment=True)
