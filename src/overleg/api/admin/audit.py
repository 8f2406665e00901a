"""Audit log search, export (JSON Lines, streamed) and chain verification."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from overleg.api.deps import CurrentPrincipal, Db, runtime
from overleg.audit import service
from overleg.audit.schemas import AuditPage, AuditQuery, VerifyResult

router = APIRouter(prefix="/api/admin/audit", tags=["admin: audit"])


@router.get("", response_model=AuditPage)
async def search(q: Annotated[AuditQuery, Query()], p: CurrentPrincipal, db: Db) -> AuditPage:
    """Filter by actor (id or e-mail), action (exact, or a prefix ending in '.'), target,
    outcome and time range; page with `after_seq`."""
    return await service.search(p, db, q)


@router.get("/export", response_class=StreamingResponse)
async def export(
    request: Request, q: Annotated[AuditQuery, Query()], p: CurrentPrincipal, db: Db
) -> StreamingResponse:
    """All matching records as JSON Lines, streamed (no page limit)."""
    await service.start_export(p, db, q)
    database = runtime(request).database

    async def lines() -> AsyncIterator[bytes]:
        async for line in service.export_stream(database, p.tenant_id, q):
            yield line

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"content-disposition": "attachment; filename=audit.jsonl"},
    )


@router.post("/verify", response_model=VerifyResult)
async def verify(p: CurrentPrincipal, db: Db) -> VerifyResult:
    return await service.verify(p, db)
