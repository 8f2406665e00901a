"""Sharing a file: with named people of the organisation, and by link.

Who shares: whoever may write the file (its place's people, and people it was shared with
to edit), except guests (SharePoint's default: guests do not share what they do not own).
Named shares go to active accounts of the organisation; to guest accounts only when the
policy lets links reach guests and outsiders (``sharing_links: anyone``, SharePoint's
"existing guests" level and above), never to other organisations.

Links follow the organisation's policy (``FilePolicy``): ``sharing_links`` off, people
(signed-in people of the organisation) or anyone; ``link_max_days`` caps the expiry (a
link without expiry only when the policy sets no cap); ``link_password_required``. A link's
token is shown once, at creation; only its SHA-256 is kept, and its password as argon2.
Using a link is in ``links``; so is redeeming one while signed in, which gives the person
a grant (``FileLinkGrant``): the file is theirs to reach with the link's role for as long as
the link is active. They are listed with the file's shares (``via_link``) and in their
"Shared with me". Revoking a link deletes its grants. Every share, unshare, link creation
and revocation is audited; refusals too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.schemas import Outcome
from overleg.audit.service import record, with_audit
from overleg.files.access import Need, access_file, link_active, place_state
from overleg.files.models import FileItem, FileLinkGrant, FileShare, FileVersion, ShareLink
from overleg.files.schemas import (
    LinkCreate,
    LinkCreated,
    LinkPublic,
    SharedFilePublic,
    SharePublic,
    ShareSet,
)
from overleg.files.uploads import file_public, policy
from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.kernel.errors import NotFound, ValidationFailed
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import runtime_of
from overleg.security.authn.tokens import hash_token, new_token
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied, refuse
from overleg.security.principal import Principal

#: where a link is opened (``/content``: its download)
LINK_PATH = "/api/v1/files/links/"


async def _managed(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, action: str
) -> tuple[FileItem, FileVersion]:
    """The file, if the caller may manage its sharing: may write it and is no guest."""
    f, v, _ = await access_file(principal, db, file_id, action=action, need=Need.WRITE)
    if principal.is_guest:
        raise refuse(
            principal,
            action,
            "guests do not share files",
            target_type="file",
            target_id=str(file_id),
        )
    return f, v


# --- named people ---------------------------------------------------------------------------


async def _share_public(
    db: AsyncSession,
    shares: list[FileShare],
    grants: Sequence[tuple[FileLinkGrant, ShareLink]] = (),
) -> list[SharePublic]:
    names = await identity.people(db, [s.user_id for s in shares] + [g.user_id for g, _ in grants])

    def name(user_id: uuid.UUID) -> str:
        return names[user_id].display_name if user_id in names else "(removed)"

    named = [
        SharePublic(
            file_id=s.file_id,
            user_id=s.user_id,
            display_name=name(s.user_id),
            role=s.role,
            by=s.by,
            at=s.at,
        )
        for s in shares
    ]
    linked = [
        SharePublic(
            file_id=g.file_id,
            user_id=g.user_id,
            display_name=name(g.user_id),
            role=link.role,
            by=link.created_by,
            at=g.at,
            via_link=link.id,
        )
        for g, link in grants
    ]
    return named + linked


async def _grants(db: AsyncSession, *where: Any) -> list[tuple[FileLinkGrant, ShareLink]]:
    """The grants (with their links) matching ``where`` whose link is active, oldest
    first."""
    rows = await db.execute(
        select(FileLinkGrant, ShareLink)
        .join(ShareLink, ShareLink.id == FileLinkGrant.link_id)
        .where(*where)
        .order_by(FileLinkGrant.at, FileLinkGrant.id)
    )
    return [(g, link) for g, link in rows.all() if link_active(link)]


async def list_shares(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID
) -> list[SharePublic]:
    """The people the file is shared with by name, then those who reach it through an
    active link they redeemed (``via_link``); for those who may share it."""
    await _managed(principal, db, file_id, "file.shares")
    shares = list(
        await db.scalars(
            select(FileShare).where(FileShare.file_id == file_id).order_by(FileShare.at)
        )
    )
    return await _share_public(db, shares, await _grants(db, FileLinkGrant.file_id == file_id))


async def share_file(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, user_id: uuid.UUID, data: ShareSet
) -> SharePublic:
    """Share with a person of the organisation, or change their role (idempotent)."""
    action = "file.share"
    f, _ = await _managed(principal, db, file_id, action)
    if user_id == principal.user_id:
        raise ValidationFailed("user_id: you cannot share a file with yourself.")
    person = (await identity.people(db, [user_id])).get(user_id)
    if person is None or user_id not in await identity.active_ids(db, [user_id]):
        raise not_found_denied(principal, action, "user", str(user_id))
    if person.kind == "guest" and (await policy(db)).sharing_links != "anyone":
        raise refuse(
            principal,
            action,
            "the organisation does not allow sharing with guests",
            target_type="file",
            target_id=str(file_id),
        )
    share = await db.scalar(
        select(FileShare).where(FileShare.file_id == f.id, FileShare.user_id == user_id)
    )
    was = share.role if share is not None else None
    if share is None:
        share = FileShare(
            id=new_id(),
            tenant_id=f.tenant_id,
            file_id=f.id,
            user_id=user_id,
            role=data.role,
            by=principal.label,
            at=now(),
        )
        db.add(share)
    else:
        share.role, share.by, share.at = data.role, principal.label, now()
    await db.flush()
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"user": str(user_id), "role": data.role, "was": was},
    )
    return (await _share_public(db, [share]))[0]


async def unshare_file(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    action = "file.unshare"
    f, _ = await _managed(principal, db, file_id, action)
    share = await db.scalar(
        select(FileShare).where(FileShare.file_id == f.id, FileShare.user_id == user_id)
    )
    if share is None:
        raise with_audit(
            NotFound(f"The file is not shared with {user_id}."),
            principal,
            action,
            outcome=Outcome.DENIED,
            target_type="file",
            target_id=f.id,
            details={"user": str(user_id), "reason": "no such share"},
        )
    await db.delete(share)
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"user": str(user_id), "role": share.role},
    )


async def shared_with_me(principal: Principal, db: AsyncSession) -> list[SharedFilePublic]:
    """Files shared with the caller by name or reached through an active link they
    redeemed, newest first (OneDrive's "Shared with me"), once each: with the strongest
    role (a named share before a link of the same role). Files the caller also sees in
    their place are listed here too; files of a deleted place are not."""
    authorize(principal, Action.WORKSPACE_USE)
    if principal.user_id is None:
        return []
    # (role, share or grant, link)
    reach: dict[uuid.UUID, tuple[str, FileShare | FileLinkGrant, ShareLink | None]] = {}
    shares = await db.scalars(select(FileShare).where(FileShare.user_id == principal.user_id))
    for share in shares:
        reach[share.file_id] = (share.role, share, None)
    for grant, link in await _grants(db, FileLinkGrant.user_id == principal.user_id):
        had = reach.get(grant.file_id)
        if had is None or (had[0], link.role) == ("view", "edit"):
            reach[grant.file_id] = (link.role, grant, link)
    if not reach:
        return []
    rows = (
        await db.execute(
            select(FileItem, FileVersion)
            .join(FileVersion, FileVersion.id == FileItem.current_version_id)
            .where(FileItem.id.in_(list(reach)), FileItem.deleted_at.is_(None))
        )
    ).all()
    out = []
    for f, v in rows:
        if await place_state(db, f) == "deleted":
            continue
        role, how, via = reach[f.id]
        base = await file_public(db, f, v)
        by = how.by if isinstance(how, FileShare) else via.created_by if via else ""
        out.append(
            SharedFilePublic(
                **base.model_dump(),
                role=role,
                shared_by=by,
                shared_at=how.at,
                via_link=via.id if via else None,
            )
        )
    out.sort(key=lambda x: str(x.id))
    out.sort(key=lambda x: x.shared_at, reverse=True)  # stable: ties stay in id order
    return out


# --- links ------------------------------------------------------------------------------------


def link_state(link: ShareLink) -> str:
    """``active`` exactly when ``access.link_active``; else ``revoked`` or ``expired``."""
    if link.revoked_at is not None:
        return "revoked"
    if not link_active(link):
        return "expired"
    return "active"


def _link_public(link: ShareLink) -> LinkPublic:
    return LinkPublic(
        id=link.id,
        file_id=link.file_id,
        role=link.role,
        audience=link.audience,
        expires_at=link.expires_at,
        has_password=link.password_hash is not None,
        created_by=link.created_by,
        created_at=link.created_at,
        revoked_at=link.revoked_at,
        state=link_state(link),
    )


async def list_links(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID
) -> list[LinkPublic]:
    """Every link of the file, revoked and expired ones too (without tokens)."""
    await _managed(principal, db, file_id, "file.links")
    links = await db.scalars(
        select(ShareLink)
        .where(ShareLink.file_id == file_id)
        .order_by(ShareLink.created_at, ShareLink.id)
    )
    return [_link_public(link) for link in links]


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


async def create_link(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, data: LinkCreate
) -> LinkCreated:
    """A new link (403 where the policy allows no such link; 422 for an expiry past the
    policy's cap, or a missing password the policy requires)."""
    action = "file.link_create"
    f, _ = await _managed(principal, db, file_id, action)
    pol = await policy(db)
    why = None
    if pol.sharing_links == "off":
        why = "the organisation does not allow sharing links"
    elif data.audience == "anyone" and pol.sharing_links != "anyone":
        why = "the organisation allows links for its own people only"
    if why is not None:
        raise refuse(principal, action, why, target_type="file", target_id=str(file_id))
    t = now()
    expires = _aware(data.expires_at) if data.expires_at is not None else None
    if expires is not None and expires <= t:
        raise ValidationFailed(
            "expires_at: the link would have expired already.", extra={"field": "expires_at"}
        )
    if pol.link_max_days is not None:
        cap = t + timedelta(days=pol.link_max_days)
        if expires is None:
            expires = cap
        elif expires > cap:
            raise ValidationFailed(
                f"expires_at: links may live at most {pol.link_max_days} days here.",
                extra={"field": "expires_at", "link_max_days": pol.link_max_days},
            )
    if pol.link_password_required and not data.password:
        raise ValidationFailed(
            "password: the organisation requires a password on sharing links.",
            extra={"field": "password"},
        )
    hasher = runtime_of(db).hasher
    token = new_token()
    link = ShareLink(
        id=new_id(),
        tenant_id=f.tenant_id,
        file_id=f.id,
        token_hash=hash_token(token),
        role=data.role,
        audience=data.audience,
        expires_at=expires,
        password_hash=await hasher.hash_async(data.password) if data.password else None,
        created_by=principal.label,
        created_at=t,
    )
    db.add(link)
    await db.flush()
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={
            "link": str(link.id),
            "role": data.role,
            "audience": data.audience,
            "expires_at": expires.isoformat() if expires else None,
            "password": data.password is not None,
        },
    )
    return LinkCreated(**_link_public(link).model_dump(), token=token, url=LINK_PATH + token)


async def revoke_link(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID, link_id: uuid.UUID
) -> None:
    """The link stops working at once (its row stays, as the record of it), and so do the
    grants of the people who redeemed it: they are deleted."""
    action = "file.link_revoke"
    f, _ = await _managed(principal, db, file_id, action)
    link = await db.get(ShareLink, link_id)
    if link is None or link.file_id != f.id:
        raise not_found_denied(principal, action, "file_link", str(link_id))
    if link.revoked_at is not None:
        return  # revoked before: nothing changes
    link.revoked_at = now()
    grants = list(
        await db.scalars(select(FileLinkGrant.id).where(FileLinkGrant.link_id == link.id))
    )
    if grants:
        await db.execute(delete(FileLinkGrant).where(FileLinkGrant.id.in_(grants)))
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"link": str(link.id), "audience": link.audience, "grants": len(grants)},
    )
