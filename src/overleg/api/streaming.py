"""Streaming answers for file contents: a ``files.streams.Stream`` as a 200/206 response
with its range headers, or a 416 problem for a range the file cannot satisfy."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from overleg.api import problems
from overleg.files.streams import RangeNotSatisfiable, Stream

#: the OpenAPI description of a streamed file
MEDIA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the whole file"},
    206: {"description": "the byte range asked for (`Range: bytes=...`)"},
    416: {"description": "the range is malformed or outside the file"},
}


async def send_stream(
    request: Request, opening: Awaitable[Stream], *, attachment: bool
) -> Response:
    """Await ``opening`` (the service call) and answer with the stream it returns."""
    try:
        s = await opening
    except RangeNotSatisfiable as e:
        return problems.problem(
            request,
            e.status,
            e.type,
            e.title,
            e.detail,
            headers={"Content-Range": f"bytes */{e.size}", "Accept-Ranges": "bytes"},
            size=e.size,
        )
    # Cache-Control: no-store and X-Content-Type-Options: nosniff come with every /api/
    # answer (api.middleware); setting them here would send each header twice
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(s.length)}
    if s.status == 206:
        headers["Content-Range"] = s.content_range
    headers["Content-Disposition"] = (
        f'attachment; filename="{s.filename}"' if attachment and s.filename else "inline"
    )
    return StreamingResponse(
        s.body, status_code=s.status, media_type=s.content_type, headers=headers
    )
