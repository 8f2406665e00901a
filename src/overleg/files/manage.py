"""Managing files: versions, rename, move, delete and restore (the recycle bin).

- Versions (listed, downloaded, restored) are in ``files.versions``; a new one is an
  upload with ``file_id``.
- Renaming needs write access (the place's people, or a share to edit); the name is
  checked like an uploaded one and sealed.
- Moving, deleting and restoring are for the people of the file's place who may write in
  it (for one's own files: oneself), not for people it was shared with (SharePoint: "can
  edit" shares do not move a file out of its library). Files move only between channels
  of the same team: another team has other people in it.
- Deleting is soft: the file leaves its place's list, its links and shares stop working,
  and its place's people may restore it for ``RECYCLE_DAYS`` (with its shares and links).
  Then ``files.purge`` removes it for good, unless retention or a legal hold keeps it.
  Deleted files still count against quotas until they are purged (as in SharePoint).
- Search: deleting drops the file from the search index at once. Renaming and restoring
  mark it ``index_due``: the ``files.reindex`` job indexes it again (its new name, its
  current version's text) within a round, in a transaction of its own; until then its
  old name finds it, and a restored file is not found. Moving moves its search document
  along.

Every change is audited, and so are refusals. Names are never written to the audit log
(they are sealed like message bodies).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files.access import Need, Place, access_file, access_place
from overleg.files.content import clean_name
from overleg.files.models import FileItem, FileVersion
from overleg.files.reindex import mark_due
from overleg.files.schemas import (
    ContainerType,
    DeletedFilePublic,
    FileMove,
    FilePublic,
    FileRename,
)
from overleg.files.uploads import file_public, seal_name
from overleg.kernel.clock import now
from overleg.kernel.errors import NotFound, ValidationFailed
from overleg.search import index as search_index
from overleg.security.authz.enforce import not_found_denied, refuse
from overleg.security.principal import Principal

#: how long a deleted file stays in its place's recycle bin (SharePoint's first stage: 93
#: days in all; we keep one stage, as long as recordings' default recycle period)
RECYCLE_DAYS = 30


def recycle_period() -> timedelta:
    return timedelta(days=RECYCLE_DAYS)


def _writer_of_place(principal: Principal, place: Place, f: FileItem, action: str) -> None:
    """Refuse people who reach the file only through a share."""
    if place.shared is not None:
        raise refuse(
            principal,
            action,
            "only the people of the file's place may do this",
            target_type="file",
            target_id=str(f.id),
        )


async def rename_file(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, data: FileRename
) -> FilePublic:
    action = "file.rename"
    try:
        name = clean_name(data.name)
    except ValueError as e:
        raise ValidationFailed(f"name: {e}", extra={"field": "name"}) from None
    f, v, _ = await access_file(principal, db, file_id, action=action, need=Need.WRITE)
    f.name_enc = await seal_name(db, f.tenant_id, f.id, name)
    f.updated_at = now()
    await mark_due(db, f)
    await record(principal, db, action, target_type="file", target_id=f.id)
    return await file_public(db, f, v)


async def move_file(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, data: FileMove
) -> FilePublic:
    """Move a channel's file to another channel of the same team, where the caller may
    write too (403 for another team, audited; 422 for a file that is not a channel's)."""
    action = "file.move"
    f, v, place = await access_file(principal, db, file_id, action=action, need=Need.WRITE)
    _writer_of_place(principal, place, f, action)
    if f.container_type != "channel":
        raise ValidationFailed(
            "Only a channel's files move (to another channel of the same team).",
            extra={"field": "container_id"},
        )
    if data.container_id == f.container_id:
        raise ValidationFailed(
            "container_id: the file is in that channel already.", extra={"field": "container_id"}
        )
    to = await access_place(principal, db, "channel", data.container_id, action=action)
    if to.team_id != f.team_id:
        raise refuse(
            principal,
            action,
            "files move only between channels of the same team",
            target_type="file",
            target_id=str(f.id),
        )
    if not to.writable:
        raise refuse(
            principal,
            action,
            "the channel you move it to is read-only",
            target_type="file",
            target_id=str(f.id),
        )
    was = f"{f.container_type}:{f.container_id}"
    f.container_id = to.id
    await search_index.move_document(db, f.tenant_id, f.id, "channel", to.id)
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"from": was, "to": f"channel:{to.id}"},
    )
    return await file_public(db, f, v)


async def delete_file(principal: Principal, db: AsyncSession, file_id: uuid.UUID) -> None:
    """Into the recycle bin of its place (see the module docstring)."""
    action = "file.delete"
    f, v, place = await access_file(principal, db, file_id, action=action, need=Need.WRITE)
    _writer_of_place(principal, place, f, action)
    f.deleted_at, f.deleted_by = now(), principal.label
    await search_index.remove_message(db, f.tenant_id, f.id)
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"container": f"{f.container_type}:{f.container_id}", "version": v.number},
    )


def _restorable(f: FileItem | None) -> bool:
    return (
        f is not None
        and f.deleted_at is not None
        and f.current_version_id is not None  # a quarantine deletion leaves no version
        and f.deleted_at > now() - recycle_period()
    )


async def restore_file(principal: Principal, db: AsyncSession, file_id: uuid.UUID) -> FilePublic:
    """Back into its place, within the recycle period (404 after it, as for a file that
    was never deleted: it is not in the recycle bin)."""
    action = "file.restore"
    f = await db.get(FileItem, file_id)
    if f is None or not _restorable(f):
        raise not_found_denied(principal, action, "file", str(file_id))
    try:
        place = await access_place(principal, db, f.container_type, f.container_id, action=action)
    except NotFound:
        raise not_found_denied(principal, action, "file", str(file_id)) from None
    if not place.writable:
        raise refuse(
            principal, action, "this place is read-only", target_type="file", target_id=str(f.id)
        )
    deleted = f.deleted_at
    f.deleted_at, f.deleted_by = None, None
    await mark_due(db, f)
    assert f.current_version_id is not None and deleted is not None
    v = await db.get(FileVersion, f.current_version_id)
    assert v is not None
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"deleted_at": deleted.isoformat()},
    )
    return await file_public(db, f, v)


async def recycle_bin(
    principal: Principal, db: AsyncSession, container_type: ContainerType, container_id: uuid.UUID
) -> list[DeletedFilePublic]:
    """The deleted files of a place that may still be restored, last deleted first; for
    whoever uses the place."""
    place = await access_place(
        principal, db, container_type, container_id, action="file.recycle_bin"
    )
    rows = (
        await db.execute(
            select(FileItem, FileVersion)
            .join(FileVersion, FileVersion.id == FileItem.current_version_id)
            .where(
                FileItem.container_type == place.type,
                FileItem.container_id == place.id,
                FileItem.deleted_at.is_not(None),
                FileItem.deleted_at > now() - recycle_period(),
            )
            .order_by(FileItem.deleted_at.desc(), FileItem.id)
        )
    ).all()
    out = []
    for f, v in rows:
        assert f.deleted_at is not None
        base = await file_public(db, f, v)
        out.append(
            DeletedFilePublic(
                **base.model_dump(),
                deleted_at=f.deleted_at,
                deleted_by=f.deleted_by,
                purge_after=f.deleted_at + recycle_period(),
            )
        )
    return out
