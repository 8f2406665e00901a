"""File search: the files the caller may see whose name or text matches a query.

The query language is message search's (docs/search.md): ``from:`` is the uploader of the
file's current version, ``before:``/``after:`` its upload time, ``in:`` a channel, team or
chat by name. The places searched are the channels and chats the caller reads (their
whole history: a file's visibility follows its place, not the member's history) and the
caller's own files.

Files shared with the caller by name (``FileShare``) or reached through a sharing link they
redeemed (``FileLinkGrant``, while the link is active) are searched too, unless their
channel or team is deleted. The index filters
by place, so the places of those files are searched as well, in a search of their own
(the caller's places' newest hits cannot crowd them out), and of their hits only the
shared files are kept: a share opens one file, not its place. Such places carry no name
for ``in:`` (the caller does not read them; their names are not theirs to match).

Only files scanned clean are indexed (``files.scan``, ``files.reindex``); every hit is
checked again against its file row (clean, not deleted, still in a searched place or
still shared with the caller) before it is shown. Every search is audited
(``file.search``) with the number of results, never the query.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files.models import FileItem, FileLinkGrant, FileShare, FileVersion, ShareLink
from overleg.files.schemas import FileSearchResults
from overleg.files.uploads import file_public
from overleg.kernel.clock import now
from overleg.messaging.service import person_resolver, readable_containers
from overleg.search import service as search_service
from overleg.search.schemas import Readable, SearchHit
from overleg.security.principal import Principal
from overleg.workspace.access import channel_state


async def search_files(
    principal: Principal, db: AsyncSession, q: str, *, limit: int = 50
) -> FileSearchResults:
    """Clean files the caller may see that match ``q``, newest upload first."""
    places = [replace(r, since=None) for r in await readable_containers(principal, db)]
    if principal.user_id is not None:
        places.append(Readable("user", principal.user_id, ()))
    where = {(r.container_type, r.container_id) for r in places}
    shared = await _shared_with(principal, db)
    elsewhere = sorted({p for p in shared.values() if p not in where}, key=str)

    async def hits_in(readable: list[Readable], at_most: int) -> list[SearchHit]:
        return await search_service.search_files(
            db,
            tenant_id=principal.tenant_id,
            query=q,
            readable=readable,
            resolve_person=person_resolver(principal, db),
            limit=at_most,
        )

    hits = await hits_in(places, limit)
    if elsewhere:
        # the places of files shared with the caller: only those files count (MAX_LIMIT:
        # the place's other files may be newer matches)
        others = await hits_in([Readable(t, i, ()) for t, i in elsewhere], search_service.MAX_LIMIT)
        seen = {h.message_id for h in hits}
        hits += [h for h in others if h.message_id in shared and h.message_id not in seen]
        hits = sorted(hits, key=lambda h: (h.created_at, h.message_id), reverse=True)[:limit]
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
        if (f.container_type, f.container_id) in where or f.id in shared
    }
    found = [rows[h.message_id] for h in hits if h.message_id in rows]
    await record(principal, db, "file.search", details={"results": len(found)})
    return FileSearchResults(query=q, files=[await file_public(db, f, v) for f, v in found])


async def _shared_with(
    principal: Principal, db: AsyncSession
) -> dict[uuid.UUID, tuple[str, uuid.UUID]]:
    """The files shared with the caller by name or through a link they redeemed that is
    still active, not deleted and not in a deleted place: file id -> its place."""
    if principal.user_id is None:
        return {}
    live = FileItem.deleted_at.is_(None)
    shared = select(FileItem.id, FileItem.container_type, FileItem.container_id).where(live)
    by_name = await db.execute(
        shared.join(FileShare, FileShare.file_id == FileItem.id).where(
            FileShare.user_id == principal.user_id
        )
    )
    by_link = await db.execute(
        shared.join(FileLinkGrant, FileLinkGrant.file_id == FileItem.id)
        .join(ShareLink, ShareLink.id == FileLinkGrant.link_id)
        .where(
            FileLinkGrant.user_id == principal.user_id,
            ShareLink.revoked_at.is_(None),
            or_(ShareLink.expires_at.is_(None), ShareLink.expires_at > now()),
        )
    )
    found = {file_id: (ctype, cid) for file_id, ctype, cid in [*by_name.all(), *by_link.all()]}
    # a deleted channel's files open through no share or link (files.access.place_state)
    channels = {cid for ctype, cid in found.values() if ctype == "channel"}
    gone = {cid for cid in channels if await channel_state(db, cid) == "deleted"}
    return {f: place for f, place in found.items() if place[1] not in gone}
