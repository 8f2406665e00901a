"""File search: the files the caller may see whose name or text matches a query.

The query language is message search's (docs/search.md): ``from:`` is the uploader of the
file's current version, ``before:``/``after:`` its upload time, ``in:`` a channel, team or
chat by name. The places searched are the channels and chats the caller reads (their
whole history: a file's visibility follows its place, not the member's history) and the
caller's own files. Files shared with the caller by name (``FileShare``) are not searched:
the index filters by place, and a share opens one file, not its place.

Only files scanned clean are indexed (``files.scan``); every hit is checked again against
its file row (clean, not deleted, still in a searched place) before it is shown. Every
search is audited (``file.search``) with the number of results, never the query.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files.models import FileItem, FileVersion
from overleg.files.schemas import FileSearchResults
from overleg.files.uploads import file_public
from overleg.messaging.service import person_resolver, readable_containers
from overleg.search import service as search_service
from overleg.search.schemas import Readable
from overleg.security.principal import Principal


async def search_files(
    principal: Principal, db: AsyncSession, q: str, *, limit: int = 50
) -> FileSearchResults:
    """Clean files the caller may see that match ``q``, newest upload first."""
    places = [replace(r, since=None) for r in await readable_containers(principal, db)]
    if principal.user_id is not None:
        places.append(Readable("user", principal.user_id, ()))

    hits = await search_service.search_files(
        db,
        tenant_id=principal.tenant_id,
        query=q,
        readable=places,
        resolve_person=person_resolver(principal, db),
        limit=limit,
    )
    where = {(r.container_type, r.container_id) for r in places}
    rows = {
        f.id: (f, v)
        for f, v in (
            await db.execute(
                select(FileItem, FileVersion)
                .join(FileVersion, FileVersion.id == FileItem.current_version_id)
                .where(
                    FileItem.id.in_([h.message_id for h in hits]),
                    FileItem.deleted_at.is_(None),
                    FileItem.state == "clean",
                )
            )
        ).all()
        if (f.container_type, f.container_id) in where
    }
    found = [rows[h.message_id] for h in hits if h.message_id in rows]
    await record(principal, db, "file.search", details={"results": len(found)})
    return FileSearchResults(query=q, files=[await file_public(db, f, v) for f, v in found])
