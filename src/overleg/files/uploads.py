"""Resumable uploads: start with the name and exact size, send parts (in any order, again
if a part failed), complete. Nothing is visible before ``complete``; an upload that is
aborted or left unfinished leaves nothing behind (``purge_expired_uploads``).

Completing checks the content's real type (not the name's extension) against the
organisation's deny-list and makes the file, or a new version of it, in state
``scan_pending``: the scan job decides what happens next.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import blobs
from overleg.files.access import Need, Place, access_file, access_place
from overleg.files.content import blocked, clean_name, detect, detect_full
from overleg.files.models import Blob, FileItem, FileVersion, UploadSession
from overleg.files.schemas import FilePublic, UploadPublic, UploadStart
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound, OverlegError, ValidationFailed
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import Runtime, runtime_of
from overleg.policy.schemas import FilePolicy
from overleg.policy.service import effective
from overleg.security.authz.enforce import not_found_denied, refuse
from overleg.security.principal import Principal, for_tenant, system

HEAD = 8192  # bytes read to tell the content's type
FULL_DETECT_MAX = 64 * 1024 * 1024  # files up to this size are typed from all of their bytes


class QuotaExceeded(OverlegError):
    status = 507
    type = "quota-exceeded"
    title = "Storage quota exceeded"


def name_aad(tenant_id: uuid.UUID, owner_id: uuid.UUID) -> bytes:
    """``owner_id``: the file's id (files) or the upload's id (uploads)."""
    return b"overleg:file-name:" + tenant_id.bytes + owner_id.bytes


async def seal_name(
    db: AsyncSession, tenant_id: uuid.UUID, owner_id: uuid.UUID, name: str
) -> bytes:
    body = json.dumps({"name": name}, ensure_ascii=False).encode()
    return await runtime_of(db).keys.encrypt(db, tenant_id, body, name_aad(tenant_id, owner_id))


async def open_name(
    db: AsyncSession, tenant_id: uuid.UUID, owner_id: uuid.UUID, sealed: bytes
) -> str:
    raw = await runtime_of(db).keys.decrypt(db, tenant_id, sealed, name_aad(tenant_id, owner_id))
    name: str = json.loads(raw)["name"]
    return name


async def policy(db: AsyncSession) -> FilePolicy:
    return await effective(db, FilePolicy, "files")


async def file_public(db: AsyncSession, f: FileItem, v: FileVersion) -> FilePublic:
    return FilePublic(
        id=f.id,
        container_type=f.container_type,
        container_id=f.container_id,
        name=await open_name(db, f.tenant_id, f.id, f.name_enc),
        size=f.size,
        content_type=f.content_type,
        state=v.scan_state,
        version=v.number,
        owner_id=f.owner_id,
        created_at=f.created_at,
        updated_at=f.updated_at,
    )


def _public(u: UploadSession, b: Blob) -> UploadPublic:
    return UploadPublic(
        id=u.id,
        size=b.size,
        part_size=b.part_size,
        parts=b.parts,
        received=list(b.received),
        expires_at=u.expires_at,
    )


async def _used(db: AsyncSession, user_id: uuid.UUID | None = None) -> int:
    """Bytes held by the organisation's file versions and unfinished uploads (or by those
    one person uploaded)."""
    versions = select(func.coalesce(func.sum(FileVersion.size), 0))
    pending = select(func.coalesce(func.sum(Blob.size), 0)).join(
        UploadSession, UploadSession.blob_id == Blob.id
    )
    if user_id is not None:
        versions = versions.where(FileVersion.uploaded_by == user_id)
        pending = pending.where(UploadSession.user_id == user_id)
    return int(await db.scalar(versions) or 0) + int(await db.scalar(pending) or 0)


async def _check_room(db: AsyncSession, pol: FilePolicy, user_id: uuid.UUID, size: int) -> None:
    if size > pol.max_file_bytes:
        raise ValidationFailed(
            f"size: the file is larger than the organisation allows ({pol.max_file_bytes} bytes).",
            extra={"field": "size"},
        )
    if pol.tenant_quota_bytes is not None and await _used(db) + size > pol.tenant_quota_bytes:
        raise QuotaExceeded("The organisation's storage is full: delete files or ask an admin.")
    if pol.user_quota_bytes is not None and await _used(db, user_id) + size > pol.user_quota_bytes:
        raise QuotaExceeded(
            f"Your files would exceed your {pol.user_quota_bytes} bytes of storage."
        )


async def start_upload(principal: Principal, db: AsyncSession, data: UploadStart) -> UploadPublic:
    action = "file.upload"
    try:
        name = clean_name(data.name)
    except ValueError as e:
        raise ValidationFailed(f"name: {e}", extra={"field": "name"}) from None
    if data.size == 0:
        raise ValidationFailed("size: the file is empty.", extra={"field": "size"})
    if data.file_id is not None:
        f, _, place = await access_file(principal, db, data.file_id, action=action, need=Need.WRITE)
        if (f.container_type, f.container_id) != (data.container_type, data.container_id):
            raise ValidationFailed(
                "file_id: that file is somewhere else.", extra={"field": "file_id"}
            )
    else:
        place = await access_place(
            principal, db, data.container_type, data.container_id, action=action
        )
    if not place.writable:
        raise refuse(
            principal,
            action,
            "this place is read-only",
            target_type=place.type,
            target_id=str(place.id),
        )
    assert principal.user_id is not None
    await _check_room(db, await policy(db), principal.user_id, data.size)
    blob = await blobs.new_blob(db, principal.tenant_id, data.size)
    upload_id = new_id()
    u = UploadSession(
        id=upload_id,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        container_type=place.type,
        container_id=place.id,
        file_id=data.file_id,
        name_enc=await seal_name(db, principal.tenant_id, upload_id, name),
        blob_id=blob.id,
        expires_at=now() + timedelta(hours=runtime_of(db).settings.files_upload_hours),
    )
    db.add(u)
    await db.flush()
    await record(
        principal,
        db,
        "file.upload_start",
        target_type="upload",
        target_id=upload_id,
        details={
            "container": f"{place.type}:{place.id}",
            "size": data.size,
            "file_id": str(data.file_id) if data.file_id else None,
        },
    )
    return _public(u, blob)


async def _mine(
    principal: Principal, db: AsyncSession, upload_id: uuid.UUID, action: str
) -> tuple[UploadSession, Blob]:
    u = await db.get(UploadSession, upload_id)
    if u is None or u.user_id != principal.user_id or u.expires_at <= now():
        raise not_found_denied(principal, action, "upload", str(upload_id))
    b = await db.get(Blob, u.blob_id)
    assert b is not None
    return u, b


async def upload_status(
    principal: Principal, db: AsyncSession, upload_id: uuid.UUID
) -> UploadPublic:
    u, b = await _mine(principal, db, upload_id, "file.upload")
    return _public(u, b)


async def put_part(
    principal: Principal,
    db: AsyncSession,
    upload_id: uuid.UUID,
    n: int,
    chunks: AsyncIterable[bytes],
) -> UploadPublic:
    """Store part ``n`` (exactly its size: 422 otherwise, and nothing is kept)."""
    u, b = await _mine(principal, db, upload_id, "file.upload")
    await blobs.put_part(db, b, n, chunks)
    await record(
        principal,
        db,
        "file.upload_part",
        target_type="upload",
        target_id=upload_id,
        details={"part": n, "size": blobs.part_length(b, n)},
    )
    return _public(u, b)


async def complete_upload(
    principal: Principal, db: AsyncSession, upload_id: uuid.UUID
) -> FilePublic:
    action = "file.upload"
    u, b = await _mine(principal, db, upload_id, action)
    missing = sorted(set(range(b.parts)) - set(b.received))
    if missing:
        raise Conflict(
            f"Parts {missing[:10]} have not arrived yet.", extra={"missing": missing[:100]}
        )
    name = await open_name(db, u.tenant_id, u.id, u.name_enc)
    # the whole file tells a .docm from a .docx, and a jar hidden in a zip or an image:
    # detect_full reads what it needs of it (the head, a zip's directory and a member or
    # two), not every byte; a larger file is told by its first bytes (a zip's directory
    # may be as large as the file; the scanners see all of it)
    if b.size <= FULL_DETECT_MAX:
        detected = await blobs.in_worker(db, b, lambda file: detect_full(file, name))
    else:
        head = b"".join([p async for p in await blobs.reader(db, b, 0, HEAD)])
        detected = detect(head, name)
    pol = await policy(db)
    why = blocked(detected, pol.blocked_kinds)
    if why is not None:
        # the parts stay until the uploader aborts or the upload expires (a refusal
        # rolls this transaction back; deleting them here would outlive that)
        raise refuse(
            principal,
            action,
            f"this kind of file is not allowed here ({why})",
            target_type="upload",
            target_id=str(upload_id),
        )
    t = now()
    b.complete = True
    if u.file_id is not None:
        f, _, _ = await access_file(principal, db, u.file_id, action=action, need=Need.WRITE)
    else:
        f = FileItem(
            id=new_id(),
            tenant_id=u.tenant_id,
            container_type=u.container_type,
            container_id=u.container_id,
            team_id=await _team_of(principal, db, u),
            owner_id=u.user_id,
            name_enc=b"",
            updated_at=t,
        )
        f.name_enc = await seal_name(db, u.tenant_id, f.id, name)
        db.add(f)
    v = await add_version(db, f, b, content_type=detected.mime, uploaded_by=u.user_id, at=t)
    number = v.number
    await db.delete(u)
    await record(
        principal,
        db,
        "file.upload",
        target_type="file",
        target_id=f.id,
        details={
            "version": number,
            "size": b.size,
            "content_type": detected.mime,
            "container": f"{f.container_type}:{f.container_id}",
        },
    )
    return await file_public(db, f, v)


async def add_version(
    db: AsyncSession,
    f: FileItem,
    blob: Blob,
    *,
    content_type: str,
    uploaded_by: uuid.UUID,
    at: datetime,
    via_link_id: uuid.UUID | None = None,
    copy_of: FileVersion | None = None,
) -> FileVersion:
    """Add the next version of ``f`` with ``blob`` as its content and make it current.

    A new upload starts ``scan_pending`` (the scan job decides); ``copy_of`` (a restore)
    takes that version's scan verdict along with its blob, and marks the file for the
    search index again. The caller checks access and audits."""
    last = await db.scalar(select(func.max(FileVersion.number)).where(FileVersion.file_id == f.id))
    v = FileVersion(
        id=new_id(),
        tenant_id=f.tenant_id,
        file_id=f.id,
        number=int(last or 0) + 1,
        blob_id=blob.id,
        size=blob.size,
        content_type=content_type,
        uploaded_by=uploaded_by,
        uploaded_at=at,
        scan_state="scan_pending",
        scan_findings=[],
        scan_attempts=0,
        via_link_id=via_link_id,
    )
    if copy_of is not None:
        v.scan_state, v.scan_findings = copy_of.scan_state, list(copy_of.scan_findings)
        v.scanned_at, v.scan_fingerprint = copy_of.scanned_at, copy_of.scan_fingerprint
        v.restored_from = copy_of.number
    db.add(v)
    await db.flush()
    f.current_version_id, f.size, f.content_type, f.state, f.updated_at = (
        v.id,
        blob.size,
        content_type,
        v.scan_state,
        at,
    )
    f.index_due = v.scan_state == "clean"
    return v


async def _team_of(principal: Principal, db: AsyncSession, u: UploadSession) -> uuid.UUID | None:
    if u.container_type != "channel":
        return None
    place: Place = await access_place(
        principal, db, "channel", u.container_id, action="file.upload"
    )
    return place.team_id


async def _discard(db: AsyncSession, u: UploadSession, b: Blob) -> None:
    await blobs.delete_parts(blobs.store_of(db), b)
    await db.delete(u)
    await db.flush()
    await db.delete(b)


async def abort_upload(principal: Principal, db: AsyncSession, upload_id: uuid.UUID) -> None:
    u, b = await _mine(principal, db, upload_id, "file.upload_abort")
    await _discard(db, u, b)
    await record(principal, db, "file.upload_abort", target_type="upload", target_id=upload_id)


async def purge_expired_uploads(rt: Runtime) -> int:
    """Remove every upload left unfinished past its expiry, with its parts (all tenants)."""
    async with rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.execute(
                select(UploadSession.tenant_id, UploadSession.id).where(
                    UploadSession.expires_at <= now()
                )
            )
        ).all()
    for tenant_id, upload_id in rows:
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            u = await db.get(UploadSession, upload_id)
            if u is None:
                continue
            b = await db.get(Blob, u.blob_id)
            assert b is not None
            await _discard(db, u, b)
            await record(
                for_tenant(system(job="files.uploads"), tenant_id),
                db,
                "file.upload_expire",
                target_type="upload",
                target_id=upload_id,
            )
    return len(rows)


__all__ = [
    "NotFound",
    "QuotaExceeded",
    "abort_upload",
    "complete_upload",
    "put_part",
    "start_upload",
    "upload_status",
]
