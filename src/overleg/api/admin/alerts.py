"""The alert queue: list (filter by status and kind), open one, resolve with a note."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from overleg.api.deps import CurrentPrincipal, Db
from overleg.threat import service
from overleg.threat.schemas import AlertPublic, AlertQuery, AlertResolve

router = APIRouter(prefix="/api/admin/alerts", tags=["admin: alerts"])


@router.get("", response_model=list[AlertPublic])
async def list_alerts(
    q: Annotated[AlertQuery, Query()], p: CurrentPrincipal, db: Db
) -> list[AlertPublic]:
    """Newest first. Global, security and compliance admins."""
    return await service.list_alerts(p, db, status=q.status, kind=q.kind, limit=q.limit)


@router.get("/{alert_id}", response_model=AlertPublic)
async def get_alert(alert_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> AlertPublic:
    return await service.get_alert(p, db, alert_id)


@router.post("/{alert_id}/resolve", response_model=AlertPublic)
async def resolve_alert(
    alert_id: uuid.UUID, body: AlertResolve, p: CurrentPrincipal, db: Db
) -> AlertPublic:
    """Global and security admins; 409 if it is resolved already."""
    return await service.resolve_alert(p, db, alert_id, body)
