"""Load a file or a place for files AND establish what the caller may do with it.

Visibility follows the container: a channel's files are for whoever reads the channel
(the team's members, or a private channel's members), a chat's for its members, one's own
files for oneself. A file may also be shared with named people of the organisation
(``FileShare``), or reached through a sharing link someone redeemed while signed in
(``FileLinkGrant``, for as long as that link is active): they see it, and with the ``edit``
role write it (new versions, a new name), without seeing its place. The strongest of
these roles counts. They follow the place: a file of a deleted channel or team opens
through none of them, and in an archived one they only read. Something the caller may not
see is answered like something missing (404), audited. Opening the content needs more: a
file is opened by everyone who sees it only once it is scanned clean; while the scan is
pending only its uploader may open it; infected and scan-failed files are opened by
nobody here (security admins use the quarantine).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.files.models import FileItem, FileLinkGrant, FileShare, FileVersion, ShareLink
from overleg.kernel.clock import now
from overleg.kernel.errors import NotFound
from overleg.messaging.access import access_chat
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied, refuse
from overleg.security.principal import Principal
from overleg.workspace.access import access_channel, channel_state


class Need(StrEnum):
    SEE = "see"  # listed, its details shown
    OPEN = "open"  # its content downloaded
    WRITE = "write"  # a new version, renamed


@dataclass(frozen=True)
class Place:
    """A container the caller may use (or, with ``shared`` set, the place of a file the
    caller reaches only through a share or a link grant of that role: "view" | "edit")."""

    type: str
    id: uuid.UUID
    team_id: uuid.UUID | None
    writable: bool
    shared: str | None = None


async def access_place(
    principal: Principal,
    db: AsyncSession,
    container_type: str,
    container_id: uuid.UUID,
    *,
    action: str,
) -> Place:
    authorize(principal, Action.WORKSPACE_USE)
    if container_type == "channel":
        ch = await access_channel(principal, db, container_id, action=action)
        return Place("channel", container_id, ch.team.id, ch.writable)
    if container_type == "chat":
        await access_chat(principal, db, container_id, action=action)
        return Place("chat", container_id, None, True)
    if container_type == "user" and container_id == principal.user_id:
        return Place("user", container_id, None, True)
    raise not_found_denied(principal, action, container_type, str(container_id))


def may_open(principal: Principal, f: FileItem, v: FileVersion) -> str | None:
    """Why the caller may not open version ``v`` of ``f`` (None: they may)."""
    if v.scan_state == "clean":
        return None
    if v.scan_state == "scan_pending":
        if v.uploaded_by == principal.user_id:
            return None
        return "the file is still being scanned for malware"
    if v.scan_state == "infected":
        return "the file is quarantined: malware was found in it"
    return "the file could not be scanned; it stays blocked until an admin scans it again"


async def share_of(
    db: AsyncSession, file_id: uuid.UUID, user_id: uuid.UUID | None
) -> FileShare | None:
    if user_id is None:
        return None
    found: FileShare | None = await db.scalar(
        select(FileShare).where(FileShare.file_id == file_id, FileShare.user_id == user_id)
    )
    return found


def link_active(link: ShareLink) -> bool:
    """Neither revoked nor expired."""
    return link.revoked_at is None and (link.expires_at is None or link.expires_at > now())


async def granted_role(
    db: AsyncSession, file_id: uuid.UUID, user_id: uuid.UUID | None
) -> str | None:
    """The strongest role the person has on the file through links they redeemed that are
    still active (None: none). The link's state is read each time: revoking or expiry ends
    what its grants give."""
    if user_id is None:
        return None
    links = await db.scalars(
        select(ShareLink)
        .join(FileLinkGrant, FileLinkGrant.link_id == ShareLink.id)
        .where(
            FileLinkGrant.file_id == file_id,
            FileLinkGrant.user_id == user_id,
            ShareLink.file_id == file_id,
        )
    )
    return strongest(link.role for link in links if link_active(link))


def strongest(roles: Iterable[str | None]) -> str | None:
    """The strongest of ``roles``: edit, then view (None: no role at all)."""
    found = {r for r in roles if r is not None}
    return "edit" if "edit" in found else "view" if "view" in found else None


async def place_state(db: AsyncSession, f: FileItem) -> str:
    """The state of the file's place for people who reach the file without being in it:
    ``deleted``, ``archived`` (read-only) or ``active``. Chats are never deleted or
    archived, and one's own files have no such states."""
    if f.container_type == "channel":
        return await channel_state(db, f.container_id)
    return "active"


async def file_place(principal: Principal, db: AsyncSession, f: FileItem, *, action: str) -> Place:
    """The place of ``f`` as the caller uses it: through its container, or else through a
    share with the caller or an active link they redeemed, the strongest role winning (404
    "no such file" otherwise, and where the file's place is deleted; audited). In an
    archived place the file is read-only, whatever the role."""
    try:
        return await access_place(principal, db, f.container_type, f.container_id, action=action)
    except NotFound:
        pass
    share = await share_of(db, f.id, principal.user_id)
    role = strongest(
        [share.role if share else None, await granted_role(db, f.id, principal.user_id)]
    )
    state = await place_state(db, f) if role is not None else "deleted"
    if role is None or state == "deleted":
        raise not_found_denied(principal, action, "file", str(f.id)) from None
    writable = role == "edit" and state == "active"
    return Place(f.container_type, f.container_id, f.team_id, writable, shared=role)


async def access_file(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, *, action: str, need: Need
) -> tuple[FileItem, FileVersion, Place]:
    """The file, its current version and its place, if the caller sees it (404 otherwise),
    and may do ``need`` with it (403 otherwise, audited)."""
    f = await db.get(FileItem, file_id)
    if f is None or f.deleted_at is not None or f.current_version_id is None:
        raise not_found_denied(principal, action, "file", str(file_id))
    place = await file_place(principal, db, f, action=action)
    v = await db.get(FileVersion, f.current_version_id)
    assert v is not None
    if need is Need.OPEN and (why := may_open(principal, f, v)):
        raise refuse(principal, action, why, target_type="file", target_id=str(file_id))
    if need is Need.WRITE and not place.writable:
        why = "this place is read-only"
        if place.shared == "view":
            why = "the file is shared with you to view only"
        raise refuse(principal, action, why, target_type="file", target_id=str(file_id))
    return f, v, place
