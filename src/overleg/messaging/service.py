"""Messaging use cases: channel posts and replies, chat messages, edits, deletes, reactions,
pins, read state, and the search entry point. The chat use cases live in ``chats`` and are
part of this interface too.

Every content write passes the content gate, is sealed with the tenant's data key, is
indexed for search, audited and announced through the outbox, all in the caller's
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import service as files
from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound, ValidationFailed
from overleg.kernel.events.outbox import emit
from overleg.kernel.ids import new_id
from overleg.messaging import render, views
from overleg.messaging.access import ChatAccess, access_chat
from overleg.messaging.chats import (
    add_chat_members,
    create_chat,
    get_chat,
    mark_chat_read,
    my_chats,
    remove_chat_member,
    rename_chat,
)
from overleg.messaging.models import (
    ChannelReadState,
    Chat,
    ChatMember,
    Message,
    MessageVersion,
    Reaction,
)
from overleg.messaging.schemas import (
    MessageCreate,
    MessageEdit,
    MessagePreview,
    MessagePublic,
    SearchResults,
)
from overleg.search import index as search_index
from overleg.search.schemas import Readable, SearchDocument
from overleg.security import content_gate
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied, refuse
from overleg.security.principal import Principal
from overleg.workspace import rules
from overleg.workspace import service as workspace
from overleg.workspace.access import ChannelAccess, access_channel, channel_audience
from overleg.workspace.models import Channel, ChannelMember, Team, TeamMember
from overleg.workspace.schemas import ChannelPublic

__all__ = [  # the chat use cases, for the transports
    "add_chat_members",
    "create_chat",
    "get_chat",
    "mark_chat_read",
    "my_chats",
    "remove_chat_member",
    "rename_chat",
]

PAGE = 50

# --- containers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """Where a message lives and who may read it."""

    type: str  # "channel" | "chat"
    id: uuid.UUID
    audience: list[uuid.UUID]
    channel: ChannelAccess | None = None
    chat: ChatAccess | None = None

    @property
    def team(self) -> Team | None:
        return self.channel.team if self.channel else None


async def _channel_container(
    p: Principal, db: AsyncSession, channel_id: uuid.UUID, action: str
) -> Container:
    ca = await access_channel(p, db, channel_id, action=action)
    return Container("channel", channel_id, await channel_audience(db, ca.channel), channel=ca)


async def _chat_container(
    p: Principal, db: AsyncSession, chat_id: uuid.UUID, action: str
) -> Container:
    cha = await access_chat(p, db, chat_id, action=action)
    return Container("chat", chat_id, cha.active_members, chat=cha)


async def _container_of(p: Principal, db: AsyncSession, m: Message, action: str) -> Container:
    if m.container_type == "channel":
        return await _channel_container(p, db, m.container_id, action)
    return await _chat_container(p, db, m.container_id, action)


async def _message(
    p: Principal, db: AsyncSession, message_id: uuid.UUID, action: str
) -> tuple[Message, Container]:
    """A message the caller may read, and its container (404 for anything else)."""
    m = await db.get(Message, message_id)
    if m is None:
        raise not_found_denied(p, action, "message", str(message_id))
    try:
        c = await _container_of(p, db, m, action)
    except NotFound:
        raise not_found_denied(p, action, "message", str(message_id)) from None
    since = _since(c)
    if since is not None and m.created_at < since:
        raise not_found_denied(p, action, "message", str(message_id))
    return m, c


def _since(c: Container) -> datetime | None:
    """The reader sees the chat or private channel from this moment (None: all history)."""
    if c.chat is not None:
        return c.chat.member.history_from
    return c.channel.history_from if c.channel is not None else None


def _from(since: datetime | None) -> list[Any]:
    """The condition "created at or after ``since``" (none for the whole history)."""
    return [] if since is None else [Message.created_at >= since]


def _require_writable(c: Container) -> None:
    if c.channel is not None and not c.channel.writable:
        raise Conflict("The channel is archived: nobody can post in it.")


# --- mentions and the content gate -----------------------------------------------------


async def _mentions(
    p: Principal, db: AsyncSession, c: Container, text: str
) -> list[dict[str, str]]:
    """Resolve ``@...`` tokens to ids. A person must be in the conversation; ``@channel``
    and ``@team`` only in channels whose team allows them."""
    out: list[dict[str, str]] = []
    audience = set(c.audience)
    for word in render.mention_tokens(text):
        if word in ("channel", "team"):
            team = c.team
            if team is None or c.channel is None:
                raise ValidationFailed(f"@{word} is for channels, not chats.")
            allowed = team.allow_channel_mentions if word == "channel" else team.allow_team_mentions
            if not allowed:
                raise ValidationFailed(f"This team does not allow @{word} mentions.")
            target = c.channel.channel.id if word == "channel" else team.id
            out.append({"kind": word, "id": str(target), "text": f"@{word}"})
            continue
        person = await identity.person_by_email(db, word)
        if person is None or person.id not in audience:
            raise ValidationFailed(
                f"@{word} is not in this conversation: add them first, or remove the mention."
            )
        out.append({"kind": "user", "id": str(person.id), "text": f"@{word}"})
    return out


def _gate(p: Principal, channel: content_gate.Channel, text: str, c: Container) -> None:
    verdict = content_gate.inspect(
        p, content_gate.Content(channel, text, container_type=c.type, container_id=str(c.id))
    )
    if not verdict.allowed:
        raise refuse(
            p,
            "message.send" if channel is content_gate.Channel.MESSAGE else "message.edit",
            "blocked by a content policy (" + "; ".join(verdict.reasons) + ")",
            target_type=c.type,
            target_id=str(c.id),
        )


def _searchable(m: Message, text: str) -> str:
    """What the index sees: the subject (channel posts) and the Markdown source."""
    return f"{m.subject}\n{text}" if m.subject else text


def _doc(m: Message) -> SearchDocument:
    return SearchDocument(
        tenant_id=m.tenant_id,
        message_id=m.id,
        container_type=m.container_type,
        container_id=m.container_id,
        author_id=m.author_id,
        created_at=m.created_at,
        has_attachment=bool(m.attachments),
    )


def _notify_targets(c: Container, mentions: list[dict[str, str]]) -> list[str]:
    return sorted({x["id"] for x in mentions if x["kind"] == "user"})


# --- sending ----------------------------------------------------------------------------


async def _store(
    p: Principal,
    db: AsyncSession,
    c: Container,
    data: MessageCreate,
    *,
    thread_root_id: uuid.UUID | None = None,
) -> MessagePublic:
    _require_writable(c)
    _gate(p, content_gate.Channel.MESSAGE, data.text, c)
    missing = await files.missing_attachments(db, c.type, c.id, data.attachments)
    if missing:
        raise ValidationFailed(
            f"attachments: {missing[0]} is not a file of this {c.type}: upload it here first.",
            extra={"field": "attachments"},
        )
    mentions = await _mentions(p, db, c, data.text)
    m = Message(
        tenant_id=p.tenant_id,
        container_type=c.type,
        container_id=c.id,
        thread_root_id=thread_root_id,
        author_id=p.user_id,
        subject=data.subject if c.type == "channel" and thread_root_id is None else None,
        version=1,
        mentions=mentions,
        attachments=[str(a) for a in data.attachments],
        body_enc=b"",
    )
    m.id, m.created_at = new_id(), now()  # both before sealing: the id is in the aad
    m.body_enc = await views.seal(db, m, data.text, render.render(data.text))
    db.add(m)
    await db.flush()
    await search_index.index_message(db, _doc(m), _searchable(m, data.text))
    await record(
        p,
        db,
        "message.send",
        target_type="message",
        target_id=m.id,
        details={
            "container_type": c.type,
            "container_id": str(c.id),
            "thread_root_id": str(thread_root_id) if thread_root_id else None,
            "mentions": _notify_targets(c, mentions),
            "attachments": len(data.attachments),
        },
    )
    await emit(
        db,
        tenant_id=p.tenant_id,
        type="message.created",
        payload={**views.event_data(m), "mentions": _notify_targets(c, mentions)},
        recipients=c.audience,
    )
    return (await views.public(db, [m], p.user_id))[0]


async def post_in_channel(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, data: MessageCreate
) -> MessagePublic:
    """Start a new post (moderation decides who may)."""
    c = await _channel_container(principal, db, channel_id, "message.send")
    assert c.channel is not None
    ca = c.channel
    v = rules.may_start_post(ca.moderation, ca.role, moderator=ca.moderator)
    if not v.allowed:
        raise refuse(
            principal, "message.send", v.reason, target_type="channel", target_id=str(channel_id)
        )
    return await _store(principal, db, c, data)


async def reply_in_channel(
    principal: Principal,
    db: AsyncSession,
    channel_id: uuid.UUID,
    post_id: uuid.UUID,
    data: MessageCreate,
) -> MessagePublic:
    c = await _channel_container(principal, db, channel_id, "message.reply")
    assert c.channel is not None
    post = await db.get(Message, post_id)
    if (
        post is None
        or post.container_type != "channel"
        or post.container_id != channel_id
        or post.thread_root_id is not None
        or post.deleted_at is not None
        or (c.channel.history_from is not None and post.created_at < c.channel.history_from)
    ):
        raise ValidationFailed("Replies go to a post of this channel that is not deleted.")
    ca = c.channel
    v = rules.may_reply(
        ca.moderation,
        ca.role,
        moderator=ca.moderator,
        is_post_author=post.author_id == principal.user_id,
    )
    if not v.allowed:
        raise refuse(
            principal, "message.reply", v.reason, target_type="message", target_id=str(post_id)
        )
    return await _store(principal, db, c, data, thread_root_id=post_id)


async def send_in_chat(
    principal: Principal, db: AsyncSession, chat_id: uuid.UUID, data: MessageCreate
) -> MessagePublic:
    c = await _chat_container(principal, db, chat_id, "message.send")
    if data.subject is not None:
        raise ValidationFailed("Chat messages have no subject.")
    return await _store(principal, db, c, data)


# --- reading ----------------------------------------------------------------------------


async def _page(db: AsyncSession, where: Any, before: datetime | None, limit: int) -> list[Message]:
    stmt = select(Message).where(where)
    if before is not None:
        stmt = stmt.where(Message.created_at < before)
    stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(min(limit, 200))
    return list(await db.scalars(stmt))


async def channel_posts(
    principal: Principal,
    db: AsyncSession,
    channel_id: uuid.UUID,
    *,
    before: datetime | None = None,
    limit: int = PAGE,
) -> list[MessagePublic]:
    """Posts, newest first (replies are fetched per thread)."""
    ca = await access_channel(principal, db, channel_id, action="message.read")
    where = and_(
        Message.container_type == "channel",
        Message.container_id == channel_id,
        Message.thread_root_id.is_(None),
        *_from(ca.history_from),
    )
    return await views.public(db, await _page(db, where, before, limit), principal.user_id)


async def thread_replies(
    principal: Principal,
    db: AsyncSession,
    channel_id: uuid.UUID,
    post_id: uuid.UUID,
    *,
    before: datetime | None = None,
    limit: int = PAGE,
) -> list[MessagePublic]:
    ca = await access_channel(principal, db, channel_id, action="message.read")
    where = and_(
        Message.container_type == "channel",
        Message.container_id == channel_id,
        Message.thread_root_id == post_id,
        *_from(ca.history_from),
    )
    return await views.public(db, await _page(db, where, before, limit), principal.user_id)


async def chat_messages(
    principal: Principal,
    db: AsyncSession,
    chat_id: uuid.UUID,
    *,
    before: datetime | None = None,
    limit: int = PAGE,
) -> list[MessagePublic]:
    c = await _chat_container(principal, db, chat_id, "message.read")
    where = and_(Message.container_type == "chat", Message.container_id == chat_id)
    since = _since(c)
    if since is not None:
        where = and_(where, Message.created_at >= since)
    return await views.public(db, await _page(db, where, before, limit), principal.user_id)


# --- changing messages ------------------------------------------------------------------


async def edit_message(
    principal: Principal, db: AsyncSession, message_id: uuid.UUID, data: MessageEdit
) -> MessagePublic:
    """Only the author edits; every earlier version is kept for compliance."""
    m, c = await _message(principal, db, message_id, "message.edit")
    if m.author_id != principal.user_id:
        raise refuse(
            principal,
            "message.edit",
            "only the author edits a message",
            target_type="message",
            target_id=str(message_id),
        )
    if m.deleted_at is not None:
        raise Conflict("The message is deleted.")
    _require_writable(c)
    _gate(principal, content_gate.Channel.MESSAGE_EDIT, data.text, c)
    mentions = await _mentions(principal, db, c, data.text)
    db.add(
        MessageVersion(
            tenant_id=m.tenant_id,
            message_id=m.id,
            version=m.version,
            body_enc=m.body_enc,
            written_at=m.edited_at or m.created_at,
            replaced_at=now(),
            replaced_by=principal.user_id,
        )
    )
    m.version += 1
    m.body_enc = await views.seal(db, m, data.text, render.render(data.text))
    m.mentions = mentions
    m.edited_at = now()
    await db.flush()
    await search_index.index_message(db, _doc(m), _searchable(m, data.text))
    await record(
        principal,
        db,
        "message.edit",
        target_type="message",
        target_id=m.id,
        details={"version": m.version},
    )
    await emit(
        db,
        tenant_id=principal.tenant_id,
        type="message.edited",
        payload=views.event_data(m),
        recipients=c.audience,
    )
    return (await views.public(db, [m], principal.user_id))[0]


async def delete_message(principal: Principal, db: AsyncSession, message_id: uuid.UUID) -> None:
    """Soft delete: hidden from people, kept for compliance until retention removes it.
    The author may delete; in channels, team owners and moderators too."""
    m, c = await _message(principal, db, message_id, "message.delete")
    moderator = c.channel is not None and c.channel.moderator
    if m.author_id != principal.user_id and not moderator:
        raise refuse(
            principal,
            "message.delete",
            "only the author or a moderator deletes it",
            target_type="message",
            target_id=str(message_id),
        )
    if m.deleted_at is not None:
        return
    m.deleted_at, m.deleted_by = now(), principal.user_id
    await search_index.remove_message(db, m.tenant_id, m.id)
    await record(
        principal,
        db,
        "message.delete",
        target_type="message",
        target_id=m.id,
        details={"author_id": str(m.author_id) if m.author_id else None},
    )
    await emit(
        db,
        tenant_id=principal.tenant_id,
        type="message.deleted",
        payload=views.event_data(m),
        recipients=c.audience,
    )


async def react(
    principal: Principal, db: AsyncSession, message_id: uuid.UUID, kind: str, on: bool
) -> MessagePublic:
    action = "message.react" if on else "message.unreact"
    m, c = await _message(principal, db, message_id, action)
    if m.deleted_at is not None:
        raise Conflict("The message is deleted.")
    _require_writable(c)
    assert principal.user_id is not None
    existing = await db.get(Reaction, (m.id, principal.user_id, kind))
    if on and existing is None:
        db.add(
            Reaction(
                tenant_id=m.tenant_id,
                message_id=m.id,
                user_id=principal.user_id,
                kind=kind,
                created_at=now(),
            )
        )
    elif not on and existing is not None:
        await db.delete(existing)
    else:
        return (await views.public(db, [m], principal.user_id))[0]
    await db.flush()
    await record(
        principal, db, action, target_type="message", target_id=m.id, details={"kind": kind}
    )
    await emit(
        db,
        tenant_id=principal.tenant_id,
        type="reaction.added" if on else "reaction.removed",
        payload={**views.event_data(m), "kind": kind, "user_id": str(principal.user_id)},
        recipients=c.audience,
    )
    return (await views.public(db, [m], principal.user_id))[0]


async def pin(
    principal: Principal, db: AsyncSession, message_id: uuid.UUID, on: bool
) -> MessagePublic:
    """Anyone in the conversation pins (as in Teams chats); in a channel, only moderators."""
    action = "message.pin" if on else "message.unpin"
    m, c = await _message(principal, db, message_id, action)
    if c.channel is not None and not c.channel.moderator:
        raise refuse(
            principal,
            action,
            "only team owners and moderators pin channel messages",
            target_type="message",
            target_id=str(message_id),
        )
    if m.deleted_at is not None:
        raise Conflict("The message is deleted.")
    if (m.pinned_at is not None) == on:
        return (await views.public(db, [m], principal.user_id))[0]
    m.pinned_at, m.pinned_by = (now(), principal.user_id) if on else (None, None)
    await record(principal, db, action, target_type="message", target_id=m.id)
    await emit(
        db,
        tenant_id=principal.tenant_id,
        type="message.edited",
        payload={**views.event_data(m), "pinned": on},
        recipients=c.audience,
    )
    return (await views.public(db, [m], principal.user_id))[0]


async def pinned(
    principal: Principal, db: AsyncSession, container_type: str, container_id: uuid.UUID
) -> list[MessagePublic]:
    c = await (_channel_container if container_type == "channel" else _chat_container)(
        principal, db, container_id, "message.read"
    )
    stmt = select(Message).where(
        Message.container_type == c.type,
        Message.container_id == c.id,
        Message.pinned_at.is_not(None),
        Message.deleted_at.is_(None),
    )
    since = _since(c)
    if since is not None:
        stmt = stmt.where(Message.created_at >= since)
    return await views.public(
        db, list(await db.scalars(stmt.order_by(Message.pinned_at.desc()))), principal.user_id
    )


# --- read state -------------------------------------------------------------------------


async def mark_channel_read(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID
) -> ChannelPublic:
    """Unread counts per channel are the caller's own: nobody else sees them."""
    ca = await access_channel(principal, db, channel_id, action="channel.read_mark")
    assert principal.user_id is not None
    st = await db.get(ChannelReadState, (channel_id, principal.user_id))
    if st is None:
        db.add(
            ChannelReadState(
                tenant_id=principal.tenant_id,
                channel_id=channel_id,
                user_id=principal.user_id,
                last_read_at=now(),
            )
        )
    else:
        st.last_read_at = now()
    await db.flush()
    await record(principal, db, "channel.read_mark", target_type="channel", target_id=channel_id)
    await emit(
        db,
        tenant_id=principal.tenant_id,
        type="read_state",
        payload={"container_type": "channel", "container_id": str(channel_id)},
        recipients=[principal.user_id],
    )
    return workspace.channel_public(ca.channel, 0)


async def team_channels(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID
) -> list[ChannelPublic]:
    """The team's channels the caller may see, with the caller's unread counts."""
    assert principal.user_id is not None
    out = []
    for ch in await workspace.visible_channels(principal, db, team_id):
        st = await db.get(ChannelReadState, (ch.id, principal.user_id))
        cm = (
            await db.get(ChannelMember, (ch.id, principal.user_id))
            if ch.kind == "private"
            else None
        )
        unread = await views.unread(
            db,
            "channel",
            ch.id,
            principal.user_id,
            st.last_read_at if st else None,
            cm.history_from if cm else None,
        )
        out.append(workspace.channel_public(ch, unread))
    return out


async def channel_view(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID
) -> ChannelPublic:
    ca = await access_channel(principal, db, channel_id, action="channel.read")
    assert principal.user_id is not None
    st = await db.get(ChannelReadState, (channel_id, principal.user_id))
    unread = await views.unread(
        db,
        "channel",
        channel_id,
        principal.user_id,
        st.last_read_at if st else None,
        ca.history_from,
    )
    return workspace.channel_public(ca.channel, unread)


# --- typing, visibility and search ----------------------------------------------------


async def typing_audience(
    principal: Principal, db: AsyncSession, container_type: str, container_id: uuid.UUID
) -> list[uuid.UUID]:
    """Who is told that the caller is typing: the other readers of the container."""
    if container_type == "channel":
        c = await _channel_container(principal, db, container_id, "message.typing")
    elif container_type == "chat":
        c = await _chat_container(principal, db, container_id, "message.typing")
    else:
        raise ValidationFailed("container_type is channel or chat.")
    return [u for u in c.audience if u != principal.user_id]


async def readable_containers(principal: Principal, db: AsyncSession) -> list[Readable]:
    """Every channel and chat the caller may read, from when (the search filter)."""
    authorize(principal, Action.WORKSPACE_USE)
    me = principal.user_id
    out: list[Readable] = []
    teams = (
        await db.execute(
            select(Team.id, Team.name)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.user_id == me, Team.deleted_at.is_(None))
        )
    ).all()
    names = {tid: name for tid, name in teams}
    private = {
        cid: since
        for cid, since in (
            await db.execute(
                select(ChannelMember.channel_id, ChannelMember.history_from).where(
                    ChannelMember.user_id == me
                )
            )
        ).all()
    }
    if names:
        channels = await db.scalars(
            select(Channel).where(
                Channel.team_id.in_(list(names)),
                Channel.deleted_at.is_(None),
                (Channel.kind == "standard") | Channel.id.in_(list(private)),
            )
        )
        for ch in channels:
            since = private.get(ch.id) if ch.kind == "private" else None
            out.append(Readable("channel", ch.id, (names[ch.team_id], ch.name), since))
    chats = (
        await db.execute(
            select(Chat, ChatMember.history_from)
            .join(ChatMember, ChatMember.chat_id == Chat.id)
            .where(ChatMember.user_id == me, ChatMember.left_at.is_(None))
        )
    ).all()
    # a chat is found by its topic and by its people's names
    people_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    if chats:
        rows = await db.execute(
            select(ChatMember.chat_id, ChatMember.user_id).where(
                ChatMember.chat_id.in_([c.id for c, _ in chats]), ChatMember.left_at.is_(None)
            )
        )
        for chat_id, user_id in rows.all():
            people_of.setdefault(chat_id, []).append(user_id)
    directory = await identity.people(db, {u for ids in people_of.values() for u in ids})
    for chat, since in chats:
        called = [chat.topic] if chat.topic else []
        called += [directory[u].display_name for u in people_of.get(chat.id, []) if u in directory]
        out.append(Readable("chat", chat.id, tuple(called), since))
    return out


def person_resolver(
    principal: Principal, db: AsyncSession
) -> Callable[[str], Awaitable[list[uuid.UUID]]]:
    """What ``from:`` names, for search: an exact e-mail address, else the people of the
    directory (which guests do not see) whose display name contains the text."""

    async def person(text: str) -> list[uuid.UUID]:
        found = await identity.person_by_email(db, text)
        if found is not None:
            return [found.id]
        everyone = await identity.directory(principal, db) if not principal.is_guest else []
        return [u.id for u in everyone if text.casefold() in u.display_name.casefold()]

    return person


async def search(
    principal: Principal, db: AsyncSession, q: str, *, limit: int = 50
) -> SearchResults:
    """Messages the caller may read that match ``q`` (see docs/search.md), newest first."""
    from overleg.search import service as search_service

    readable = await readable_containers(principal, db)
    hits = await search_service.search_messages(
        db,
        tenant_id=principal.tenant_id,
        query=q,
        readable=readable,
        resolve_person=person_resolver(principal, db),
        limit=limit,
    )
    msgs = {
        m.id: m
        for m in await db.scalars(
            select(Message).where(
                Message.id.in_([h.message_id for h in hits]), Message.deleted_at.is_(None)
            )
        )
    }
    ordered = [msgs[h.message_id] for h in hits if h.message_id in msgs]
    await record(principal, db, "message.search", details={"results": len(ordered)})
    return SearchResults(query=q, messages=await views.public(db, ordered, principal.user_id))


def preview(principal: Principal, text: str) -> MessagePreview:
    """``text`` rendered as a message would be (Markdown, sanitised), for a composer's
    preview. Nothing is stored or sent, so nothing is audited; the content gate, mentions
    and moderation apply when the message is sent."""
    authorize(principal, Action.WORKSPACE_USE)
    return MessagePreview(html=render.render(text))
