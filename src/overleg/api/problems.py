"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from overleg.kernel.errors import OverlegError, TooManyAttempts

PROBLEM_BASE = "https://overleg.invalid/problems/"
MEDIA_TYPE = "application/problem+json"
NOT_JSON = "the body is not valid JSON (or not UTF-8)"
log = structlog.get_logger("overleg.api")


def problem(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    rid = getattr(request.state, "request_id", None)
    if rid:
        body["request_id"] = rid
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _validation_failed(request: Request, params: list[dict[str, str]]) -> JSONResponse:
    first = params[0] if params else {"name": "body", "reason": "invalid"}
    return problem(
        request,
        422,
        "validation-failed",
        "The request is not valid",
        f"{first['name']}: {first['reason']}",
        invalid_params=params,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(OverlegError)
    async def _overleg(request: Request, exc: OverlegError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after)}
        extra = {k: v for k, v in exc.extra.items() if k not in ("type", "status", "title")}
        return problem(request, exc.status, exc.type, exc.title, exc.detail, headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        params = []
        for err in exc.errors():
            msg = err.get("msg", "invalid")
            name = _loc(tuple(err.get("loc", ())))
            if err.get("type") == "json_invalid":
                # the location is a character offset, not a field
                name, msg = "body", f"{NOT_JSON} (at character {name})"
            elif err.get("type") == "extra_forbidden":
                msg = "unknown field"
            params.append({"name": name, "reason": msg})
        return _validation_failed(request, params)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI answers a JSON body that is not UTF-8 with a bare 400; say what is wrong.
            return _validation_failed(request, [{"name": "body", "reason": NOT_JSON}])
        slug = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            exc.status_code, "http-error"
        )
        return problem(
            request,
            exc.status_code,
            slug,
            str(exc.detail),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity_conflict", error=type(exc.orig).__name__)
        return problem(
            request,
            409,
            "conflict",
            "Conflict",
            "This conflicts with data that exists already (a name or address "
            "that must be unique is taken).",
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _db_down(request: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc, DataError) or str(getattr(exc.orig, "sqlstate", "")).startswith("22"):
            # SQLSTATE class 22, "data exception": the database refused a value (a NUL
            # character in text, a number out of range). The request is at fault, not the
            # database, and the transaction was rolled back.
            log.info("data_error", sqlstate=getattr(exc.orig, "sqlstate", None))
            reason = "a value cannot be stored (such as a NUL character in text)"
            return _validation_failed(request, [{"name": "body", "reason": reason}])
        log.error("database_unavailable", error=type(exc.orig).__name__)
        return problem(
            request,
            503,
            "service-unavailable",
            "Service unavailable",
            "The database is not reachable right now; nothing was changed. Try again shortly.",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(ConnectionError)
    @app.exception_handler(OSError)
    async def _conn(request: Request, exc: OSError) -> JSONResponse:
        log.error("backend_unavailable", error=type(exc).__name__)
        return problem(
            request,
            503,
            "service-unavailable",
            "Service unavailable",
            "A backend service is not reachable right now; nothing was changed.",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error")
        return problem(
            request,
            500,
            "internal-error",
            "Internal error",
            "Something went wrong on the server; it was logged with this request's id.",
        )
