"""How messages are shown and sealed: the body at rest, the public view, event data and
unread counts. Used by the messaging use cases; no authorization here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.runtime import runtime_of
from overleg.messaging.models import Message, Reaction
from overleg.messaging.schemas import Mention, MessagePublic, ReactionCount

# --- sealing ----------------------------------------------------------------------------


def aad(tenant_id: uuid.UUID, message_id: uuid.UUID, version: int) -> bytes:
    return b"overleg:message:" + tenant_id.bytes + message_id.bytes + version.to_bytes(4, "big")


async def seal(db: AsyncSession, m: Message, text: str, html: str) -> bytes:
    body = json.dumps({"text": text, "html": html}, ensure_ascii=False).encode()
    return await runtime_of(db).keys.encrypt(
        db, m.tenant_id, body, aad(m.tenant_id, m.id, m.version)
    )


async def open_body(
    db: AsyncSession, tenant_id: uuid.UUID, message_id: uuid.UUID, version: int, blob: bytes
) -> dict[str, str]:
    raw = await runtime_of(db).keys.decrypt(
        db, tenant_id, blob, aad(tenant_id, message_id, version)
    )
    data: dict[str, str] = json.loads(raw)
    return data


# --- views ------------------------------------------------------------------------------


async def reactions(
    db: AsyncSession, ids: Sequence[uuid.UUID], viewer: uuid.UUID | None
) -> dict[uuid.UUID, list[ReactionCount]]:
    out: dict[uuid.UUID, dict[str, ReactionCount]] = {}
    if not ids:
        return {}
    for r in await db.scalars(select(Reaction).where(Reaction.message_id.in_(ids))):
        per = out.setdefault(r.message_id, {})
        rc = per.setdefault(r.kind, ReactionCount(kind=r.kind, count=0, me=False))
        rc.count += 1
        rc.me = rc.me or r.user_id == viewer
    return {k: sorted(v.values(), key=lambda x: x.kind) for k, v in out.items()}


async def reply_counts(db: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = await db.execute(
        select(Message.thread_root_id, func.count())
        .where(Message.thread_root_id.in_(ids), Message.deleted_at.is_(None))
        .group_by(Message.thread_root_id)
    )
    return {r[0]: r[1] for r in rows.all() if r[0] is not None}


async def public(
    db: AsyncSession, msgs: Sequence[Message], viewer: uuid.UUID | None
) -> list[MessagePublic]:
    ids = [m.id for m in msgs]
    reacts = await reactions(db, ids, viewer)
    replies = await reply_counts(db, ids)
    out = []
    for m in msgs:
        body = (
            None if m.deleted_at else await open_body(db, m.tenant_id, m.id, m.version, m.body_enc)
        )
        out.append(
            MessagePublic(
                id=m.id,
                container_type=m.container_type,
                container_id=m.container_id,
                thread_root_id=m.thread_root_id,
                author_id=m.author_id,
                created_at=m.created_at,
                subject=None if m.deleted_at else m.subject,
                text=body["text"] if body else None,
                html=body["html"] if body else None,
                mentions=[] if m.deleted_at else [Mention(**x) for x in m.mentions],
                attachments=[] if m.deleted_at else [uuid.UUID(a) for a in m.attachments],
                edited=m.edited_at is not None,
                edited_at=m.edited_at,
                deleted=m.deleted_at is not None,
                pinned=m.pinned_at is not None,
                reactions=reacts.get(m.id, []),
                reply_count=replies.get(m.id, 0),
            )
        )
    return out


def event_data(m: Message) -> dict[str, Any]:
    # Events carry ids, not content: a client fetches the message through the API, which
    # decides again what it may read.
    return {
        "message_id": str(m.id),
        "container_type": m.container_type,
        "container_id": str(m.container_id),
        "thread_root_id": str(m.thread_root_id) if m.thread_root_id else None,
        "author_id": str(m.author_id) if m.author_id else None,
    }


async def unread(
    db: AsyncSession,
    container_type: str,
    container_id: uuid.UUID,
    me: uuid.UUID,
    after: datetime | None,
    since: datetime | None = None,
) -> int:
    stmt = (
        select(func.count())
        .select_from(Message)
        .where(
            Message.container_type == container_type,
            Message.container_id == container_id,
            Message.deleted_at.is_(None),
            or_(Message.author_id.is_(None), Message.author_id != me),
        )
    )
    if after is not None:
        stmt = stmt.where(Message.created_at > after)
    if since is not None:
        stmt = stmt.where(Message.created_at >= since)
    return int(await db.scalar(stmt) or 0)
