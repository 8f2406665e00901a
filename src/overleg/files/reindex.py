"""Search upkeep: files whose search document is out of date are indexed again.

A rename, a restore from the recycle bin, a release from quarantine and a restored version
mark the file ``index_due`` (``mark_due``, in the change's own transaction); the
``files.reindex`` job (``reindex_due``) then, per file:

- drops it from the index when it is deleted or its current version is not clean;
- else indexes it as the scan does (``scan._index``): its name, and the text of its current
  version for textual types up to ``scan_deep_max_bytes`` (extracted as the scan extracts
  it; the content gate saw that text when the version was scanned);
- clears the flag, audited ``file.reindex``.

The text is read and extracted outside any transaction; the file is then locked (``FOR
UPDATE`` on PostgreSQL; SQLite has one writer) and the flag checked again, so several
nodes may run the job at once and a file is indexed once. A file whose current version
changed meanwhile is left for the next round (with the flag still set), and one renamed
meanwhile is indexed under the name it has under the lock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import blobs
from overleg.files.content import detect_full
from overleg.files.extract import extract_text
from overleg.files.models import Blob, FileItem, FileVersion
from overleg.files.scan import _has_text, _index
from overleg.files.uploads import open_name
from overleg.kernel.runtime import Runtime
from overleg.search import index as search_index
from overleg.security.principal import for_tenant, system


async def mark_due(db: AsyncSession, f: FileItem) -> None:
    """Mark ``f`` for the index. Written as a statement of its own (not left to the ORM,
    which skips a value that looks unchanged), so a reindex that clears the flag while
    this transaction is open cannot swallow the change."""
    await db.execute(
        update(FileItem)
        .where(FileItem.id == f.id)
        .values(index_due=True)
        .execution_options(synchronize_session="fetch")
    )


@dataclass(frozen=True)
class _Due:
    """What the first look at a due file found: its current version, and (for a clean
    textual one) a reader of its content."""

    version_id: uuid.UUID | None
    name: str
    content: AsyncIterator[bytes] | None


async def _look(rt: Runtime, tenant_id: uuid.UUID, file_id: uuid.UUID) -> _Due | None:
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        f = await db.get(FileItem, file_id)
        if f is None or not f.index_due:
            return None
        v = await db.get(FileVersion, f.current_version_id) if f.current_version_id else None
        name = await open_name(db, tenant_id, f.id, f.name_enc)
        if (
            v is None
            or f.deleted_at is not None
            or v.scan_state != "clean"
            or not _has_text(v.content_type)
            or v.size > rt.settings.scan_deep_max_bytes
        ):
            return _Due(v.id if v else None, name, None)
        blob = await db.get(Blob, v.blob_id)
        assert blob is not None
        # the reader needs no session once made: the content is read after this commits
        return _Due(v.id, name, await blobs.reader(db, blob))


async def _text(due: _Due) -> str:
    """The text of the version, extracted as ``scan._gate`` extracts it ("" for none)."""
    if due.content is None:
        return ""
    data = b"".join([part async for part in due.content])
    extracted = await asyncio.to_thread(lambda: extract_text(data, detect_full(data, due.name)))
    return extracted.text if extracted.text.strip() else ""


async def _apply(
    rt: Runtime, tenant_id: uuid.UUID, file_id: uuid.UUID, due: _Due, text: str
) -> bool:
    """Index (or drop) the file under its lock and clear the flag; False when another node
    did it already or its current version changed meanwhile."""
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        f = await db.scalar(
            select(FileItem)
            .where(FileItem.id == file_id, FileItem.index_due.is_(True))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if f is None or f.current_version_id != due.version_id:
            return False
        v = await db.get(FileVersion, f.current_version_id) if f.current_version_id else None
        if v is None:
            await search_index.remove_message(db, tenant_id, f.id)
        else:
            # the name as it is now, under the lock (a rename may have come meanwhile)
            name = await open_name(db, tenant_id, f.id, f.name_enc)
            await _index(db, f, v, name, text)
        f.index_due = False
        indexed = v is not None and v.scan_state == "clean" and f.deleted_at is None
        await record(
            for_tenant(system(job="files.reindex"), tenant_id),
            db,
            "file.reindex",
            target_type="file",
            target_id=f.id,
            details={"version": v.number if v else None, "indexed": indexed},
        )
        return True


async def reindex_due(rt: Runtime, *, limit: int = 100) -> int:
    """Index again up to ``limit`` files marked ``index_due`` (all tenants, the longest
    waiting first); how many were done."""
    async with rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.execute(
                select(FileItem.tenant_id, FileItem.id)
                .where(FileItem.index_due.is_(True))
                .order_by(FileItem.updated_at, FileItem.id)
                .limit(limit)
            )
        ).all()
    done = 0
    for tenant_id, file_id in rows:
        due = await _look(rt, tenant_id, file_id)
        if due is None:
            continue  # done by another node meanwhile
        text = await _text(due)
        done += await _apply(rt, tenant_id, file_id, due, text)
    return done
