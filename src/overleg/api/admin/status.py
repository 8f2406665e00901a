"""Service status: whether the database, Redis, Janus and clamd answer."""

from __future__ import annotations

from fastapi import APIRouter

from overleg.api.deps import CurrentPrincipal, Db
from overleg.status import service
from overleg.status.schemas import ServiceStatus

router = APIRouter(prefix="/api/admin", tags=["admin: status"])


@router.get("/status", response_model=ServiceStatus)
async def status(p: CurrentPrincipal, db: Db) -> ServiceStatus:
    """Checked now, each service within a few seconds (`timeout_seconds`): one that hangs is
    reported `down`, never waited for. Global and security admins."""
    return await service.service_status(p, db)
