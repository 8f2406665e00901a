"""Files: resumable uploads, listing, details and downloads (with byte ranges); sharing
with people and by link; versions, rename, move, delete and restore; file search.

Routes with a fixed second segment (``/shared``, ``/deleted``, ``/links/{token}``) are
declared before the ``/{file_id}`` ones, which would take them otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from overleg.api.deps import (
    CurrentPrincipal,
    Db,
    anonymous_principal,
    current_principal,
    request_token,
    runtime,
    session_principal,
    unit_of_work,
)
from overleg.api.streaming import MEDIA_RESPONSES, send_stream
from overleg.files import links, manage, search, service, sharing, uploads
from overleg.files import versions as history
from overleg.files.schemas import (
    ContainerType,
    DeletedFilePublic,
    FileMove,
    FilePublic,
    FileRename,
    FileSearchResults,
    LinkCreate,
    LinkCreated,
    LinkPublic,
    LinkView,
    SharedFilePublic,
    SharePublic,
    ShareSet,
    UploadPublic,
    UploadStart,
    VersionPublic,
)
from overleg.files.streams import Stream
from overleg.kernel.errors import Forbidden, MfaRequired, Unauthenticated
from overleg.security.principal import Principal

router = APIRouter(prefix="/api/v1/files", tags=["files"])
search_router = APIRouter(prefix="/api/v1/search", tags=["files"])


@search_router.get("/files", response_model=FileSearchResults)
async def search_files(
    p: CurrentPrincipal,
    db: Db,
    q: str = Query(
        min_length=1,
        max_length=500,
        description='words of the name or text, "exact phrase", OR, NOT/-word, from:, in:, '
        "before:, after:",
        examples=['budget "quarterly review" in:sales -draft'],
    ),
    limit: int = Query(default=50, ge=1, le=200),
) -> FileSearchResults:
    """Clean files you may see (in your channels and chats, your own, and files shared
    with you by name) whose name or text matches `q`, newest upload first."""
    return await search.search_files(p, db, q, limit=limit)


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


@router.get("/shared", response_model=list[SharedFilePublic])
async def shared_with_me(p: CurrentPrincipal, db: Db) -> list[SharedFilePublic]:
    """Files shared with you by name, newest share first."""
    return await sharing.shared_with_me(p, db)


@router.get("/deleted", response_model=list[DeletedFilePublic])
async def recycle_bin(
    container_type: ContainerType, container_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> list[DeletedFilePublic]:
    """The recycle bin of a place: its deleted files that may still be restored."""
    return await manage.recycle_bin(p, db, container_type, container_id)


async def link_caller(request: Request) -> Principal:
    """The signed-in caller, or an anonymous one (no session, or one that is not usable:
    an ``anyone`` link works all the same, a ``people`` link asks to sign in)."""
    if request_token(request) is None:
        return anonymous_principal(request)
    try:
        return await current_principal(await session_principal(request))
    except (Unauthenticated, MfaRequired, Forbidden):
        return anonymous_principal(request)


LinkCaller = Annotated[Principal, Depends(link_caller)]
LinkPassword = Annotated[
    str | None,
    Header(alias="X-Link-Password", max_length=256, description="the link's password, if any"),
]


@router.get("/links/{token}", response_model=LinkView, summary="What a sharing link shows")
async def open_link(
    token: str, request: Request, p: LinkCaller, password: LinkPassword = None
) -> LinkView:
    """Public: `anyone` links work without a session; `people` links need a signed-in
    account of the organisation (not a guest). 404 for a revoked or expired link exactly as
    for one that never existed; 401 without the link's password, 403 with a wrong one, 429
    after too many."""
    rt = runtime(request)
    async with rt.database.session(unscoped=True, readonly=True) as db:
        tenant_id = await links.tenant_of_link(db, token)
    async with unit_of_work(request, replace(p, tenant_id=tenant_id)) as db:
        attempt = await links.view_link(p, db, token, password)
    return attempt.get()  # a refusal is raised after its record and count are committed


@router.get(
    "/links/{token}/content",
    responses=MEDIA_RESPONSES,
    summary="Download through a sharing link (whole or a byte range)",
)
async def download_by_link(
    token: str, request: Request, p: LinkCaller, password: LinkPassword = None
) -> Response:
    """As the link's details, and only for a clean file; audited as `file.download`."""

    async def opening() -> Stream:
        rt = runtime(request)
        async with rt.database.session(unscoped=True, readonly=True) as db:
            tenant_id = await links.tenant_of_link(db, token)
        async with unit_of_work(request, replace(p, tenant_id=tenant_id)) as db:
            attempt = await links.open_link(p, db, token, password, request.headers.get("range"))
        return attempt.get()

    return await send_stream(request, opening(), attachment=True)


@router.post(
    "/links/{token}/redeem",
    response_model=SharedFilePublic,
    summary="Keep a sharing link: reach its file with the link's role",
)
async def redeem_link(
    token: str, request: Request, p: CurrentPrincipal, password: LinkPassword = None
) -> SharedFilePublic:
    """For a signed-in account of the link's organisation (for a `people` link: not a
    guest). From then on the file's routes (`GET /files/{id}`, its content; for `edit`
    new versions by upload with `file_id`, and a new name) work for you as for a share,
    for as long as the link is active. Redeeming again changes nothing. 403 for accounts
    of other organisations, 404 for a revoked or expired link."""
    rt = runtime(request)
    async with rt.database.session(unscoped=True, readonly=True) as db:
        tenant_id = await links.tenant_of_link(db, token)
    async with unit_of_work(request, replace(p, tenant_id=tenant_id)) as db:
        attempt = await links.redeem_link(p, db, token, password)
    return attempt.get()


@router.put(
    "/links/{token}/content",
    response_model=LinkView,
    summary="A new version through an `anyone` link to edit, without an account",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_by_link(
    token: str, request: Request, p: LinkCaller, password: LinkPassword = None
) -> LinkView:
    """Public: the whole new content as the body, at most one part (`part_size` of an
    upload; 413 otherwise). It becomes the next version, `scan_pending`. 403 for a link to
    view, a kind of file the organisation refuses, an archived place, and for people
    signed in to the organisation (they redeem the link and upload as themselves)."""
    rt = runtime(request)
    async with rt.database.session(unscoped=True, readonly=True) as db:
        tenant_id = await links.tenant_of_link(db, token)
    async with (
        links.discarding(rt) as written,
        unit_of_work(request, replace(p, tenant_id=tenant_id)) as db,
    ):
        attempt = await links.upload_by_link(p, db, token, password, request.stream(), written)
    return attempt.get()


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


@router.patch("/{file_id}", response_model=FilePublic, summary="Rename a file")
async def rename_file(
    file_id: uuid.UUID, body: FileRename, p: CurrentPrincipal, db: Db
) -> FilePublic:
    return await manage.rename_file(p, db, file_id, body)


@router.delete("/{file_id}", status_code=204, summary="Delete a file (to the recycle bin)")
async def delete_file(file_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    """Its place's people may restore it for 30 days; then it is purged for good."""
    await manage.delete_file(p, db, file_id)


@router.post("/{file_id}/restore", response_model=FilePublic)
async def restore_file(file_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> FilePublic:
    return await manage.restore_file(p, db, file_id)


@router.post("/{file_id}/move", response_model=FilePublic)
async def move_file(file_id: uuid.UUID, body: FileMove, p: CurrentPrincipal, db: Db) -> FilePublic:
    """To another channel of the same team, where you may write too."""
    return await manage.move_file(p, db, file_id, body)


@router.get("/{file_id}/versions", response_model=list[VersionPublic])
async def versions(file_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[VersionPublic]:
    """The file's versions, newest first (`restored_from`: a restore of that version)."""
    return await history.list_versions(p, db, file_id)


@router.get("/{file_id}/versions/{number}/content", responses=MEDIA_RESPONSES)
async def download_version(
    file_id: uuid.UUID,
    request: Request,
    p: CurrentPrincipal,
    db: Db,
    number: int = Path(ge=1, le=1_000_000),
) -> Response:
    """An older (or the current) version's content, whole or one byte range, for whoever
    sees the file; that version must be clean (pending: for its uploader). Audited."""
    opening = history.open_version(p, db, file_id, number, request.headers.get("range"))
    return await send_stream(request, opening, attachment=True)


@router.post("/{file_id}/versions/{number}/restore", response_model=FilePublic)
async def restore_version(
    file_id: uuid.UUID, p: CurrentPrincipal, db: Db, number: int = Path(ge=1, le=1_000_000)
) -> FilePublic:
    """Make a copy of an older, clean version the current one (a new version; the
    history is kept). For whoever may write the file; 422 for the current version, 409
    for one that is not clean."""
    return await history.restore_version(p, db, file_id, number)


@router.get("/{file_id}/shares", response_model=list[SharePublic])
async def shares(file_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[SharePublic]:
    """The people the file is shared with by name (for those who may share it)."""
    return await sharing.list_shares(p, db, file_id)


@router.put("/{file_id}/shares/{user_id}", response_model=SharePublic)
async def share_file(
    file_id: uuid.UUID, user_id: uuid.UUID, body: ShareSet, p: CurrentPrincipal, db: Db
) -> SharePublic:
    """Share with a person of the organisation (`view` or `edit`), or change their role.
    Whoever may write the file may share it, except guests."""
    return await sharing.share_file(p, db, file_id, user_id, body)


@router.delete("/{file_id}/shares/{user_id}", status_code=204)
async def unshare_file(file_id: uuid.UUID, user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await sharing.unshare_file(p, db, file_id, user_id)


@router.get("/{file_id}/links", response_model=list[LinkPublic])
async def list_links(file_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[LinkPublic]:
    """The file's sharing links, revoked and expired ones too (never their tokens)."""
    return await sharing.list_links(p, db, file_id)


@router.post("/{file_id}/links", response_model=LinkCreated, status_code=201)
async def create_link(
    file_id: uuid.UUID, body: LinkCreate, p: CurrentPrincipal, db: Db
) -> LinkCreated:
    """A sharing link, where the organisation's policy allows it; its token is shown this
    once. Expiry and password follow the policy (`link_max_days`, `link_password_required`)."""
    return await sharing.create_link(p, db, file_id, body)


@router.delete("/{file_id}/links/{link_id}", status_code=204)
async def revoke_link(file_id: uuid.UUID, link_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await sharing.revoke_link(p, db, file_id, link_id)
