"""A file's version history: list the versions, download an older one, restore one (as
SharePoint's version history does).

- Whoever sees the file lists its versions and downloads any of them that they may open
  (``access.may_open`` for that version: clean, or pending for its uploader). Every
  download is audited as ``file.download`` with the version's number.
- Whoever may write the file restores an older, clean version: it becomes a NEW current
  version (the next number) with the same content, its ``restored_from`` says which. The
  history is kept; nothing is overwritten. The restored version shares the old one's blob
  (no bytes are copied) and its scan verdict, and the file is marked for the search index
  again (``files.reindex``).
- Quotas count versions, as SharePoint's do: a restored version counts its size again
  (for the person who restored it), although its content is stored once. A restore that
  would pass a quota is refused (507), as an upload would be.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import blobs
from overleg.files.access import Need, access_file, may_open
from overleg.files.models import Blob, FileItem, FileVersion
from overleg.files.schemas import FilePublic, VersionPublic
from overleg.files.streams import Stream
from overleg.files.uploads import _check_room, add_version, file_public, policy
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound, ValidationFailed
from overleg.security.authz.enforce import refuse
from overleg.security.principal import Principal


def _public(f: FileItem, v: FileVersion) -> VersionPublic:
    return VersionPublic(
        number=v.number,
        size=v.size,
        content_type=v.content_type,
        state=v.scan_state,
        uploaded_by=v.uploaded_by,
        uploaded_at=v.uploaded_at,
        current=v.id == f.current_version_id,
        restored_from=v.restored_from,
    )


async def list_versions(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID
) -> list[VersionPublic]:
    """Every version of the file, newest first (for whoever sees the file)."""
    f, _, _ = await access_file(principal, db, file_id, action="file.versions", need=Need.SEE)
    versions = await db.scalars(
        select(FileVersion).where(FileVersion.file_id == f.id).order_by(FileVersion.number.desc())
    )
    return [_public(f, v) for v in versions]


async def _version(db: AsyncSession, f: FileItem, number: int) -> FileVersion:
    """Version ``number`` of a file the caller sees (404 when it has none of that number:
    the file itself is no secret to them)."""
    v = await db.scalar(
        select(FileVersion).where(FileVersion.file_id == f.id, FileVersion.number == number)
    )
    if v is None:
        raise NotFound(f"This file has no version {number}.")
    return v


async def open_version(
    principal: Principal,
    db: AsyncSession,
    file_id: uuid.UUID,
    number: int,
    range_header: str | None,
) -> Stream:
    """Version ``number``'s content, whole or one byte range, for whoever sees the file
    and may open that version (403 otherwise, audited); audited as ``file.download``."""
    action = "file.download"
    f, _, _ = await access_file(principal, db, file_id, action=action, need=Need.SEE)
    v = await _version(db, f, number)
    if why := may_open(principal, f, v):
        raise refuse(
            principal, action, f"version {number}: {why}", target_type="file", target_id=str(f.id)
        )
    blob = await db.get(Blob, v.blob_id)
    assert blob is not None
    out = await blobs.stream(
        db, blob, range_header, content_type=v.content_type, filename=f"{f.id}-v{v.number}"
    )
    details: dict[str, object] = {"version": v.number, "size": v.size}
    if out.status == 206:
        details["range"] = f"{out.start}-{out.end}"
    await record(principal, db, action, target_type="file", target_id=f.id, details=details)
    return out


async def restore_version(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, number: int
) -> FilePublic:
    """Make a copy of version ``number`` the file's new current version (see the module
    docstring). 422 for the current version, 409 for one that is not clean, 507 when a
    quota would be passed; for whoever may write the file (403 otherwise, audited)."""
    action = "file.version_restore"
    f, current, _ = await access_file(principal, db, file_id, action=action, need=Need.WRITE)
    old = await _version(db, f, number)
    if old.id == current.id:
        raise ValidationFailed(
            f"Version {number} is the current version already.", extra={"field": "number"}
        )
    if old.scan_state != "clean":
        raise Conflict(
            f"Version {number} cannot be restored: it is {old.scan_state.replace('_', ' ')}, "
            "and only a version scanned clean can become the current one again."
        )
    assert principal.user_id is not None
    await _check_room(db, await policy(db), principal.user_id, old.size)
    blob = await db.get(Blob, old.blob_id)
    assert blob is not None
    new = await add_version(
        db,
        f,
        blob,
        content_type=old.content_type,
        uploaded_by=principal.user_id,
        at=now(),
        copy_of=old,
    )
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"from": old.number, "to": new.number, "size": new.size},
    )
    return await file_public(db, f, new)
