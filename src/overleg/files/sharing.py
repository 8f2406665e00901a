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
Using a link is in ``links``. Every share, unshare, link creation and revocation is
audited; refusals too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.schemas import Outcome
from overleg.audit.service import record, with_audit
from overleg.files.access import Need, access_file
from overleg.files.models import FileItem, FileShare, FileVersion, ShareLink
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


async def _share_public(db: AsyncSession, shares: list[FileShare]) -> list[SharePublic]:
    names = await identity.people(db, [s.user_id for s in shares])
    return [
        SharePublic(
            file_id=s.file_id,
            user_id=s.user_id,
            display_name=names[s.user_id].display_name if s.user_id in names else "(removed)",
            role=s.role,
            by=s.by,
            at=s.at,
        )
        for s in shares
    ]


async def list_shares(
    principal: Principal, db: AsyncSession, file_id: uuid.UUID
) -> list[SharePublic]:
    """The people the file is shared with by name (for those who may share it)."""
    await _managed(principal, db, file_id, "file.shares")
    shares = list(
        await db.scalars(
            select(FileShare).where(FileShare.file_id == file_id).order_by(FileShare.at)
        )
    )
    return await _share_public(db, shares)


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
    """Files shared with the caller by name, newest share first (OneDrive's "Shared with
    me"). Files the caller also sees in their place are listed here too."""
    authorize(principal, Action.WORKSPACE_USE)
    rows = (
        await db.execute(
            select(FileShare, FileItem, FileVersion)
            .join(FileItem, FileItem.id == FileShare.file_id)
            .join(FileVersion, FileVersion.id == FileItem.current_version_id)
            .where(FileShare.user_id == principal.user_id, FileItem.deleted_at.is_(None))
            .order_by(FileShare.at.desc(), FileShare.id)
        )
    ).all()
    out = []
    for share, f, v in rows:
        base = await file_public(db, f, v)
        out.append(
            SharedFilePublic(
                **base.model_dump(), role=share.role, shared_by=share.by, shared_at=share.at
            )
        )
    return out


# --- links ------------------------------------------------------------------------------------


def link_state(link: ShareLink) -> str:
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= now():
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
    """The link stops working at once (its row stays, as the record of it)."""
    action = "file.link_revoke"
    f, _ = await _managed(principal, db, file_id, action)
    link = await db.get(ShareLink, link_id)
    if link is None or link.file_id != f.id:
        raise not_found_denied(principal, action, "file_link", str(link_id))
    if link.revoked_at is not None:
        return  # revoked before: nothing changes
    link.revoked_at = now()
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"link": str(link.id), "audience": link.audience},
    )
