"""Load a chat AND the caller's membership. Not a member: the same 404 as missing, audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.messaging.models import Chat, ChatMember
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied
from overleg.security.principal import Principal


@dataclass(frozen=True)
class ChatAccess:
    chat: Chat
    member: ChatMember  # the caller's row
    active_members: list[uuid.UUID]


async def access_chat(
    principal: Principal, db: AsyncSession, chat_id: uuid.UUID, *, action: str
) -> ChatAccess:
    authorize(principal, Action.WORKSPACE_USE)
    chat = await db.get(Chat, chat_id)
    member = (
        await db.get(ChatMember, (chat_id, principal.user_id))
        if chat is not None and principal.user_id is not None
        else None
    )
    if chat is None or member is None or member.left_at is not None:
        raise not_found_denied(principal, action, "chat", str(chat_id))
    active = await db.scalars(
        select(ChatMember.user_id).where(
            ChatMember.chat_id == chat_id, ChatMember.left_at.is_(None)
        )
    )
    return ChatAccess(chat, member, list(active))
