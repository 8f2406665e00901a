"""Chat use cases: 1:1 and group chats, their people, and read receipts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, ValidationFailed
from overleg.kernel.events.outbox import emit
from overleg.messaging import views
from overleg.messaging.access import access_chat
from overleg.messaging.models import Chat, ChatMember, Message
from overleg.messaging.schemas import (
    MAX_GROUP_CHAT,
    ChatCreate,
    ChatMemberPublic,
    ChatMembersAdd,
    ChatPublic,
    ChatUpdate,
)
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize
from overleg.security.principal import Principal
from overleg.workspace.events import membership_changed

# --- chats ------------------------------------------------------------------------------


async def chat_public(principal: Principal, db: AsyncSession, chat: Chat) -> ChatPublic:
    members = list(
        await db.scalars(
            select(ChatMember).where(ChatMember.chat_id == chat.id, ChatMember.left_at.is_(None))
        )
    )
    people = await identity.people(db, [m.user_id for m in members])
    me = next((m for m in members if m.user_id == principal.user_id), None)
    unread = 0
    if me is not None and principal.user_id is not None:
        unread = await views.unread(
            db, "chat", chat.id, principal.user_id, me.last_read_at, me.history_from
        )
    return ChatPublic(
        id=chat.id,
        kind=chat.kind,
        topic=chat.topic,
        created_at=chat.created_at,
        members=[
            ChatMemberPublic(
                user_id=m.user_id,
                display_name=people[m.user_id].display_name if m.user_id in people else "",
                joined_at=m.joined_at,
                last_read_message_id=m.last_read_message_id,
                last_read_at=m.last_read_at,
            )
            for m in members
        ],
        unread_count=unread,
    )


async def _chat_people(db: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = set(ids)
    active = await identity.active_ids(db, wanted)
    missing = wanted - active
    if missing:
        raise ValidationFailed(
            "No active person with id " + ", ".join(sorted(map(str, missing))) + "."
        )
    return active


async def create_chat(principal: Principal, db: AsyncSession, data: ChatCreate) -> ChatPublic:
    """A 1:1 chat (one other person, no topic) is unique per pair: asking again opens it.
    More people, or a topic, make a group chat (at most 250 people)."""
    authorize(principal, Action.CHAT_CREATE)
    me = principal.user_id
    assert me is not None
    others = await _chat_people(db, set(data.members) - {me})
    if not others:
        raise ValidationFailed("A chat needs at least one other person.")
    one_on_one = len(others) == 1 and data.topic is None
    pair_key = None
    if one_on_one:
        pair_key = ":".join(sorted(str(u) for u in {me, *others}))
        existing = await db.scalar(select(Chat).where(Chat.pair_key == pair_key))
        if existing is not None:
            return await chat_public(principal, db, existing)
    chat = Chat(
        tenant_id=principal.tenant_id,
        kind="one_on_one" if one_on_one else "group",
        topic=data.topic,
        pair_key=pair_key,
        created_by=me,
    )
    db.add(chat)
    await db.flush()
    at = now()
    for uid in sorted({me, *others}):
        db.add(
            ChatMember(
                tenant_id=principal.tenant_id,
                chat_id=chat.id,
                user_id=uid,
                joined_at=at,
                history_from=None,
            )
        )
    await db.flush()
    await record(
        principal,
        db,
        "chat.create",
        target_type="chat",
        target_id=chat.id,
        details={"kind": chat.kind, "members": sorted(str(u) for u in {me, *others})},
    )
    await membership_changed(db, principal, "chat", chat.id, "created", {me, *others})
    return await chat_public(principal, db, chat)


async def my_chats(principal: Principal, db: AsyncSession) -> list[ChatPublic]:
    authorize(principal, Action.WORKSPACE_USE)
    chats = await db.scalars(
        select(Chat)
        .join(ChatMember, ChatMember.chat_id == Chat.id)
        .where(ChatMember.user_id == principal.user_id, ChatMember.left_at.is_(None))
        .order_by(Chat.created_at.desc())
    )
    return [await chat_public(principal, db, c) for c in chats]


async def get_chat(principal: Principal, db: AsyncSession, chat_id: uuid.UUID) -> ChatPublic:
    cha = await access_chat(principal, db, chat_id, action="chat.read")
    return await chat_public(principal, db, cha.chat)


async def rename_chat(
    principal: Principal, db: AsyncSession, chat_id: uuid.UUID, data: ChatUpdate
) -> ChatPublic:
    cha = await access_chat(principal, db, chat_id, action="chat.update")
    if cha.chat.kind != "group":
        raise Conflict("A 1:1 chat has no name; start a group chat to name it.")
    before, cha.chat.topic = cha.chat.topic, data.topic
    await record(
        principal,
        db,
        "chat.update",
        target_type="chat",
        target_id=chat_id,
        details={"before": before, "after": data.topic},
    )
    return await chat_public(principal, db, cha.chat)


async def add_chat_members(
    principal: Principal, db: AsyncSession, chat_id: uuid.UUID, data: ChatMembersAdd
) -> ChatPublic:
    """Add people to a group chat. They see history only as the adder chooses: none, all,
    or the last ``days`` days."""
    cha = await access_chat(principal, db, chat_id, action="chat.members.add")
    if cha.chat.kind != "group":
        raise Conflict("People cannot be added to a 1:1 chat; start a group chat instead.")
    if data.share_history == "days" and data.days is None:
        raise ValidationFailed("Say how many days of history to share.")
    new = await _chat_people(db, data.members)
    current = set(cha.active_members)
    new -= current
    if not new:
        raise Conflict("Everyone named is already in the chat.")
    if len(current) + len(new) > MAX_GROUP_CHAT:
        raise Conflict(f"A group chat has at most {MAX_GROUP_CHAT} people.")
    at = now()
    history_from = {"none": at, "all": None}.get(
        data.share_history, at - timedelta(days=data.days or 0)
    )
    for uid in sorted(new):
        row = await db.get(ChatMember, (chat_id, uid))
        if row is None:
            db.add(
                ChatMember(
                    tenant_id=principal.tenant_id,
                    chat_id=chat_id,
                    user_id=uid,
                    joined_at=at,
                    history_from=history_from,
                )
            )
        else:  # came back after leaving
            row.left_at, row.joined_at, row.history_from = None, at, history_from
            row.last_read_at = row.last_read_message_id = None
    await db.flush()
    await record(
        principal,
        db,
        "chat.members.add",
        target_type="chat",
        target_id=chat_id,
        details={
            "members": sorted(map(str, new)),
            "share_history": data.share_history,
            "days": data.days,
        },
    )
    await membership_changed(
        db,
        principal,
        "chat",
        chat_id,
        "added",
        current | new,
        user_ids=sorted(map(str, new)),
    )
    return await chat_public(principal, db, cha.chat)


async def remove_chat_member(
    principal: Principal, db: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Any member of a group chat removes someone (as in Teams); leaving is removing oneself."""
    action = "chat.leave" if user_id == principal.user_id else "chat.members.remove"
    cha = await access_chat(principal, db, chat_id, action=action)
    if cha.chat.kind != "group":
        raise Conflict("Nobody leaves or is removed from a 1:1 chat.")
    row = await db.get(ChatMember, (chat_id, user_id))
    if row is None or row.left_at is not None:
        raise ValidationFailed(f"{user_id} is not in this chat.")
    audience = set(cha.active_members)
    row.left_at = now()
    await record(
        principal,
        db,
        action,
        target_type="chat",
        target_id=chat_id,
        details={"user_id": str(user_id)},
    )
    await membership_changed(
        db,
        principal,
        "chat",
        chat_id,
        "left" if action == "chat.leave" else "removed",
        audience,
        user_ids=[str(user_id)],
    )


async def mark_chat_read(
    principal: Principal, db: AsyncSession, chat_id: uuid.UUID, message_id: uuid.UUID
) -> ChatPublic:
    """A read receipt: the other members see up to which message the caller has read."""
    cha = await access_chat(principal, db, chat_id, action="chat.read_mark")
    m = await db.get(Message, message_id)
    if m is None or m.container_type != "chat" or m.container_id != chat_id:
        raise ValidationFailed("That message is not in this chat.")
    member = cha.member
    if member.last_read_at is None or m.created_at > member.last_read_at:
        member.last_read_at, member.last_read_message_id = m.created_at, m.id
        await record(
            principal,
            db,
            "chat.read_mark",
            target_type="chat",
            target_id=chat_id,
            details={"message_id": str(m.id)},
        )
        await emit(
            db,
            tenant_id=principal.tenant_id,
            type="read_state",
            payload={
                "container_type": "chat",
                "container_id": str(chat_id),
                "user_id": str(principal.user_id),
                "message_id": str(m.id),
            },
            recipients=cha.active_members,
        )
    return await chat_public(principal, db, cha.chat)
