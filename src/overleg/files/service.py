"""Files: list a place's files, show one, download its content (whole or a byte range).

Uploads are in ``uploads``, the malware scan in ``scan``, quarantine in ``quarantine``.
Every download is audited (``file.download``); refusals are audited too.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import blobs
from overleg.files.access import Need, access_file, access_place
from overleg.files.content import detect_full
from overleg.files.models import Blob, FileItem, FileVersion
from overleg.files.previews import Preview, PreviewRefused, preview
from overleg.files.schemas import ContainerType, FilePublic
from overleg.files.streams import Stream
from overleg.files.uploads import file_public, open_name
from overleg.kernel.errors import ValidationFailed
from overleg.security.principal import Principal


async def list_files(
    principal: Principal, db: AsyncSession, container_type: ContainerType, container_id: uuid.UUID
) -> list[FilePublic]:
    """The files of a place the caller may use, newest first (quarantined ones too: they
    show their state, and nobody can open them)."""
    place = await access_place(principal, db, container_type, container_id, action="file.list")
    rows = (
        await db.execute(
            select(FileItem, FileVersion)
            .join(FileVersion, FileVersion.id == FileItem.current_version_id)
            .where(
                FileItem.container_type == place.type,
                FileItem.container_id == place.id,
                FileItem.deleted_at.is_(None),
            )
            .order_by(FileItem.updated_at.desc(), FileItem.id)
        )
    ).all()
    return [await file_public(db, f, v) for f, v in rows]


async def get_file(principal: Principal, db: AsyncSession, file_id: uuid.UUID) -> FilePublic:
    f, v, _ = await access_file(principal, db, file_id, action="file.read", need=Need.SEE)
    return await file_public(db, f, v)


async def open_content(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, range_header: str | None
) -> Stream:
    """The current version's content, whole or one byte range; audited."""
    action = "file.download"
    f, v, _ = await access_file(principal, db, file_id, action=action, need=Need.OPEN)
    blob = await db.get(Blob, v.blob_id)
    assert blob is not None
    out = await blobs.stream(
        db, blob, range_header, content_type=v.content_type, filename=f"{f.id}"
    )
    details: dict[str, object] = {"version": v.number, "size": v.size}
    if out.status == 206:
        details["range"] = f"{out.start}-{out.end}"
    await record(principal, db, action, target_type="file", target_id=f.id, details=details)
    return out


#: files larger than this get no preview (it would mean holding them in memory)
PREVIEW_MAX_BYTES = 50 * 1024 * 1024


async def make_preview(principal: Principal, db: AsyncSession, file_id: uuid.UUID) -> Preview:
    """A small image of an image or of a PDF's first page, made here without running
    anything in the file and without its metadata. 422 when the file has none."""
    action = "file.preview"
    f, v, _ = await access_file(principal, db, file_id, action=action, need=Need.OPEN)
    if v.size > PREVIEW_MAX_BYTES:
        raise ValidationFailed("This file is too large for a preview.")
    blob = await db.get(Blob, v.blob_id)
    assert blob is not None
    data = b"".join([part async for part in await blobs.reader(db, blob)])
    name = await open_name(db, f.tenant_id, f.id, f.name_enc)
    try:
        made = await asyncio.to_thread(_render, data, name)
    except PreviewRefused as e:
        raise ValidationFailed(f"No preview: {e}") from None
    if made is None:
        raise ValidationFailed("There is no preview for this kind of file.")
    await record(
        principal, db, action, target_type="file", target_id=f.id, details={"version": v.number}
    )
    return made


def _render(data: bytes, name: str) -> Preview | None:
    return preview(data, detect_full(data, name))


async def missing_attachments(
    db: AsyncSession, container_type: str, container_id: uuid.UUID, file_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Of ``file_ids``, those that are not files of this place (a message may attach only
    files of its own channel or chat: their visibility is the message's)."""
    if not file_ids:
        return []
    found = set(
        await db.scalars(
            select(FileItem.id).where(
                FileItem.id.in_(file_ids),
                FileItem.container_type == container_type,
                FileItem.container_id == container_id,
                FileItem.deleted_at.is_(None),
            )
        )
    )
    return [f for f in file_ids if f not in found]
