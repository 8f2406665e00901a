"""File jobs that remove content for good, run by the scheduler on every node.

1. ``purge_deleted_everywhere``: a file deleted longer than ``manage.RECYCLE_DAYS`` ago is
   purged: every version's blob parts are deleted from the object store, and its rows
   (versions, blobs, shares, links, the file) go. Nothing of it is kept.
2. ``collect_orphans``: a blob that no version and no upload references, older than
   ``ORPHAN_AGE``, is deleted with its parts (what a crash or a bug may leave behind).

Retention policies and legal holds (a later issue) keep deleted files by registering a check
in ``PURGE_BLOCKERS`` (as for recordings): a reason (not None) keeps the file in the
recycle bin, past its period (it is no longer restorable by its place's people). The
reason is noted on the file (``FileItem.purge_held``) and audited (``file.purge_held``)
once per change of reason, whichever node sees it; the note is cleared when nothing holds
the file any more (it is then purged).

Versions may share a blob (a restored version copies its content by reference): each
distinct blob is deleted once, and ``bytes`` in the audit record counts what was stored.

Both jobs are idempotent and safe on several nodes at once: a file is locked (``FOR
UPDATE`` on PostgreSQL; SQLite has one writer) and checked again before it goes, and a
blob's row is deleted before its parts, so a reference that appears meanwhile makes the
row's deletion fail instead of leaving a version without content. Parts are deleted before
the transaction commits: a failure leaves rows that the next run purges again (deleting a
part that is gone already is no error).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import blobs
from overleg.files.manage import RECYCLE_DAYS, recycle_period
from overleg.files.models import Blob, FileItem, FileShare, FileVersion, ShareLink, UploadSession
from overleg.identity.service import active_tenants
from overleg.kernel.clock import now
from overleg.kernel.runtime import Runtime
from overleg.search import index as search_index
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize
from overleg.security.authz.pdp import Resource
from overleg.security.principal import Principal, for_tenant, system

log = structlog.get_logger("overleg.files")

#: a check that may keep a deleted file from being purged: returns why (None: it does not
#: object). Registered by retention and legal hold; called inside the purge's transaction,
#: on the tenant's scoped session.
PurgeBlocker = Callable[[AsyncSession, FileItem], Awaitable[str | None]]
PURGE_BLOCKERS: list[PurgeBlocker] = []

#: an unreferenced blob younger than this is left alone (nothing makes one, but a blob is
#: never so young that an upload could still be about to reference it)
ORPHAN_AGE = timedelta(hours=1)


async def _held(db: AsyncSession, f: FileItem) -> str | None:
    for check in PURGE_BLOCKERS:
        reason = await check(db, f)
        if reason is not None:
            return reason
    return None


async def _note_hold(db: AsyncSession, principal: Principal, f: FileItem, reason: str) -> None:
    """Note (and audit) why ``f`` is held, unless that is noted already."""
    reason = reason[:500]  # the column's length
    if f.purge_held == reason:
        return
    f.purge_held = reason
    log.info("file_purge_held", file=str(f.id), reason=reason)
    await record(
        principal,
        db,
        "file.purge_held",
        target_type="file",
        target_id=f.id,
        details={"reason": reason},
    )


async def _purge_one(db: AsyncSession, principal: Principal, f: FileItem) -> None:
    versions = list(await db.scalars(select(FileVersion).where(FileVersion.file_id == f.id)))
    distinct = list(dict.fromkeys(v.blob_id for v in versions))
    found = [await db.get(Blob, blob_id) for blob_id in distinct]
    held = [b for b in found if b is not None]
    stored = sum(b.size for b in held)
    file_id, deleted_at = f.id, f.deleted_at
    await db.execute(delete(FileShare).where(FileShare.file_id == file_id))
    await db.execute(delete(ShareLink).where(ShareLink.file_id == file_id))
    await db.execute(delete(FileVersion).where(FileVersion.file_id == file_id))
    await db.delete(f)
    await search_index.remove_message(db, f.tenant_id, file_id)
    await db.flush()
    for b in held:
        await db.delete(b)
    await db.flush()
    store = blobs.store_of(db)
    for b in held:
        await blobs.delete_parts(store, b)
    await record(
        principal,
        db,
        "file.purge",
        target_type="file",
        target_id=file_id,
        details={
            "versions": len(versions),
            "blobs": len(held),
            "bytes": stored,
            "deleted_at": deleted_at.isoformat() if deleted_at else None,
            "recycle_days": RECYCLE_DAYS,
        },
    )


async def purge_deleted(db: AsyncSession, principal: Principal) -> list[uuid.UUID]:
    """Purge the session tenant's files deleted longer than the recycle period that no
    ``PURGE_BLOCKERS`` check holds; their ids."""
    authorize(principal, Action.WORKSPACE_PURGE, Resource("file"))
    cutoff = now() - recycle_period()
    due = list(
        await db.scalars(
            select(FileItem.id)
            .where(FileItem.deleted_at.is_not(None), FileItem.deleted_at <= cutoff)
            .order_by(FileItem.deleted_at, FileItem.id)
        )
    )
    out = []
    for file_id in due:
        f = await db.scalar(
            select(FileItem)
            .where(FileItem.id == file_id, FileItem.deleted_at <= cutoff)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if f is None:
            continue  # restored, or purged by another node
        reason = await _held(db, f)
        if reason is not None:
            await _note_hold(db, principal, f, reason)
            continue
        f.purge_held = None  # nothing holds it any more
        await _purge_one(db, principal, f)
        out.append(file_id)
    return out


async def purge_deleted_everywhere(
    rt: Runtime, *, actor: Principal | None = None
) -> list[tuple[str, uuid.UUID]]:
    """``purge_deleted`` in every tenant, one transaction each; (tenant slug, file id)."""
    who = actor or system(job="files.purge")
    async with rt.database.transaction(unscoped=True) as db:
        tenants = await active_tenants(db)
    out: list[tuple[str, uuid.UUID]] = []
    for t in tenants:
        async with rt.database.transaction(tenant_id=t.id) as db:
            out += [(t.slug, f) for f in await purge_deleted(db, for_tenant(who, t.id))]
    return out


@dataclass
class OrphanRun:
    """What one run of ``collect_orphans`` removed, and what it had to leave."""

    removed: list[uuid.UUID] = field(default_factory=list)
    kept: list[uuid.UUID] = field(default_factory=list)


def _unreferenced() -> list[ColumnElement[bool]]:
    return [
        ~exists().where(FileVersion.blob_id == Blob.id),
        ~exists().where(UploadSession.blob_id == Blob.id),
    ]


async def collect_orphans(rt: Runtime) -> OrphanRun:
    """Delete every blob (row and parts) that nothing references, older than
    ``ORPHAN_AGE`` (all tenants; one transaction per blob, audited in its tenant)."""
    cutoff = now() - ORPHAN_AGE
    async with rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.execute(
                select(Blob.tenant_id, Blob.id)
                .where(Blob.created_at <= cutoff, *_unreferenced())
                .order_by(Blob.created_at, Blob.id)
            )
        ).all()
    run = OrphanRun()
    for tenant_id, blob_id in rows:
        try:
            async with rt.database.transaction(tenant_id=tenant_id) as db:
                b = await db.scalar(select(Blob).where(Blob.id == blob_id, *_unreferenced()))
                if b is None:
                    continue  # referenced (or gone) since
                await db.delete(b)
                await db.flush()  # fails if a reference appeared meanwhile
                await blobs.delete_parts(blobs.store_of(db), b)
                await record(
                    for_tenant(system(job="files.orphans"), tenant_id),
                    db,
                    "file.blob_collect",
                    target_type="blob",
                    target_id=blob_id,
                    details={"size": b.size, "created_at": b.created_at.isoformat()},
                )
        except IntegrityError:
            run.kept.append(blob_id)
            continue
        run.removed.append(blob_id)
    return run
