"""Liveness, readiness and metrics. Public (see PUBLIC_ROUTES)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from overleg.api.deps import runtime
from overleg.api.problems import problem
from overleg.bootstrap import schema_status

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The process can serve requests", response_model=None)
async def readyz(request: Request) -> Response | dict[str, object]:
    rt = runtime(request)
    checks: dict[str, str] = {}
    try:
        async with rt.database.engine.connect() as conn:
            await conn.execute(text("select 1"))
        current, head = await schema_status(rt.database)
        checks["database"] = "ok" if current == head else f"schema at {current}, needs {head}"
    except Exception as e:  # readiness must answer, whatever broke
        checks["database"] = f"unreachable ({type(e).__name__})"
    try:
        rt.keys.provider.check()
        checks["keys"] = "ok"
    except Exception as e:
        checks["keys"] = f"unavailable ({type(e).__name__})"
    if all(v == "ok" for v in checks.values()):
        return {"status": "ok", "checks": checks}
    return problem(
        request,
        503,
        "not-ready",
        "Not ready",
        "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"),
        checks=checks,
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
