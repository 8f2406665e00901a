"""Files: resumable uploads, listing, details and downloads (with byte ranges)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Path, Request, Response

from overleg.api.deps import CurrentPrincipal, Db
from overleg.api.streaming import MEDIA_RESPONSES, send_stream
from overleg.files import service, uploads
from overleg.files.schemas import ContainerType, FilePublic, UploadPublic, UploadStart

router = APIRouter(prefix="/api/v1/files", tags=["files"])


@router.post("/uploads", response_model=UploadPublic, status_code=201)
async def start_upload(body: UploadStart, p: CurrentPrincipal, db: Db) -> UploadPublic:
    """Start an upload: then PUT each part (`part_size` bytes, the last one shorter) and
    complete it. Nothing is visible before that."""
    return await uploads.start_upload(p, db, body)


@router.get("/uploads/{upload_id}", response_model=UploadPublic)
async def upload_status(upload_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UploadPublic:
    """Which parts have arrived (to resume after an interruption)."""
    return await uploads.upload_status(p, db, upload_id)


@router.put(
    "/uploads/{upload_id}/parts/{n}",
    response_model=UploadPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_part(
    upload_id: uuid.UUID,
    request: Request,
    p: CurrentPrincipal,
    db: Db,
    n: int = Path(ge=0, le=1_000_000),
) -> UploadPublic:
    """Send part `n` (the raw bytes as the body). Sending a part again replaces it."""
    return await uploads.put_part(p, db, upload_id, n, request.stream())


@router.post("/uploads/{upload_id}/complete", response_model=FilePublic, status_code=201)
async def complete_upload(upload_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> FilePublic:
    """Every part arrived: the file (or its new version) exists now, `scan_pending` until
    the malware scan has looked at it; only you may open it meanwhile."""
    return await uploads.complete_upload(p, db, upload_id)


@router.delete("/uploads/{upload_id}", status_code=204)
async def abort_upload(upload_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await uploads.abort_upload(p, db, upload_id)


@router.get("", response_model=list[FilePublic])
async def list_files(
    container_type: ContainerType, container_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> list[FilePublic]:
    """The files of a channel, a chat, or your own (`user` and your id)."""
    return await service.list_files(p, db, container_type, container_id)


@router.get("/{file_id}", response_model=FilePublic)
async def get_file(file_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> FilePublic:
    return await service.get_file(p, db, file_id)


@router.get("/{file_id}/content", responses=MEDIA_RESPONSES)
async def download(file_id: uuid.UUID, request: Request, p: CurrentPrincipal, db: Db) -> Response:
    """The content, whole or one byte range (`Range: bytes=a-b`, `a-`, `-n`); audited.
    Only clean files, and pending ones for their uploader."""
    opening = service.open_content(p, db, file_id, request.headers.get("range"))
    return await send_stream(request, opening, attachment=True)


@router.get(
    "/{file_id}/preview",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}}, "description": "a small image"}},
)
async def preview(file_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> Response:
    """A small image of an image or of a PDF's first page (no metadata, nothing in the
    file run); 422 for other kinds of files."""
    made = await service.make_preview(p, db, file_id)
    return Response(made.data, media_type=made.content_type)
