"""Quarantine: infected and scan-failed versions, for security admins only. They see the
findings (never the name), may download the content to examine it (audited), and
release it (it becomes clean: a false positive), delete it, or have it scanned again.

A released current version is marked for the search index (``files.reindex``), and so is
a clean version that becomes current again when the quarantined one is deleted. A deleted
version's content stays while another version shares it (a restore's copy).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import blobs
from overleg.files.models import Blob, FileItem, FileVersion
from overleg.files.reindex import mark_due
from overleg.files.schemas import Finding, QuarantineDecision, QuarantinedPublic
from overleg.files.streams import Stream
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied
from overleg.security.authz.pdp import Resource
from overleg.security.principal import Principal

HELD = ("infected", "scan_failed")


def _public(f: FileItem, v: FileVersion) -> QuarantinedPublic:
    return QuarantinedPublic(
        file_id=f.id,
        version_id=v.id,
        version=v.number,
        container_type=f.container_type,
        container_id=f.container_id,
        uploaded_by=v.uploaded_by,
        uploaded_at=v.uploaded_at,
        size=v.size,
        content_type=v.content_type,
        scan_state=v.scan_state,
        findings=[Finding(**x) for x in v.scan_findings],
        scanned_at=v.scanned_at,
    )


async def list_quarantined(principal: Principal, db: AsyncSession) -> list[QuarantinedPublic]:
    authorize(principal, Action.FILE_QUARANTINE, Resource("file"))
    rows = (
        await db.execute(
            select(FileItem, FileVersion)
            .join(FileItem, FileItem.id == FileVersion.file_id)
            .where(FileVersion.scan_state.in_(HELD), FileItem.deleted_at.is_(None))
            .order_by(FileVersion.uploaded_at.desc())
        )
    ).all()
    return [_public(f, v) for f, v in rows]


async def _held(
    principal: Principal, db: AsyncSession, version_id: uuid.UUID, action: str
) -> tuple[FileItem, FileVersion]:
    authorize(principal, Action.FILE_QUARANTINE, Resource("file_version", str(version_id)))
    v = await db.get(FileVersion, version_id)
    f = await db.get(FileItem, v.file_id) if v else None
    if v is None or f is None or f.deleted_at is not None:
        raise not_found_denied(principal, action, "file_version", str(version_id))
    if v.scan_state not in HELD:
        raise Conflict(f"This version is {v.scan_state}, not quarantined.")
    return f, v


async def decide(
    principal: Principal, db: AsyncSession, version_id: uuid.UUID, body: QuarantineDecision
) -> QuarantinedPublic:
    """``release``: a false positive, the version becomes clean; ``rescan``: back to
    ``scan_pending``; ``delete``: the file is deleted (all of it, when this is its only
    version, else this version and its content)."""
    action = f"file.quarantine_{body.action}"
    f, v = await _held(principal, db, version_id, action)
    out = _public(f, v)
    findings = [x["name"] for x in v.scan_findings][:20]
    if body.action == "release":
        v.scan_state, v.released_by, v.released_at = "clean", principal.label, now()
    elif body.action == "rescan":
        v.scan_state, v.scan_claimed_until = "scan_pending", None
    else:
        others = list(
            await db.scalars(
                select(FileVersion)
                .where(FileVersion.file_id == f.id, FileVersion.id != v.id)
                .order_by(FileVersion.number.desc())
            )
        )
        blob = await db.get(Blob, v.blob_id)
        await db.delete(v)
        # a restored version shares its blob with the version it copied: the content
        # goes only when no other version holds it
        if blob is not None and all(o.blob_id != blob.id for o in others):
            await blobs.delete_parts(blobs.store_of(db), blob)
            await db.flush()
            await db.delete(blob)
        if not others:
            f.deleted_at, f.deleted_by, f.current_version_id = now(), principal.label, None
        elif f.current_version_id == v.id:
            prev = others[0]
            f.current_version_id, f.size, f.content_type = prev.id, prev.size, prev.content_type
            f.state = prev.scan_state
            if prev.scan_state == "clean":
                await mark_due(db, f)  # found again by the previous version
    if body.action != "delete" and f.current_version_id == v.id:
        f.state = v.scan_state
        if v.scan_state == "clean":
            await mark_due(db, f)  # released: found by search again (files.reindex)
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"version": out.version, "findings": findings},
    )
    if body.action != "delete":
        out.scan_state = v.scan_state  # type: ignore[assignment]
    return out


async def open_quarantined(
    principal: Principal, db: AsyncSession, version_id: uuid.UUID, range_header: str | None
) -> Stream:
    """The content of a quarantined version, for a security admin to examine; audited."""
    action = "file.quarantine_download"
    f, v = await _held(principal, db, version_id, action)
    blob = await db.get(Blob, v.blob_id)
    assert blob is not None
    out = await blobs.stream(
        db,
        blob,
        range_header,
        content_type="application/octet-stream",
        filename=f"quarantined-{v.id}",
    )
    await record(
        principal, db, action, target_type="file", target_id=f.id, details={"version": v.number}
    )
    return out
