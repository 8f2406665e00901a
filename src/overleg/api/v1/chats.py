"""Chats: 1:1 and group chats, their people, messages and read receipts."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query

from overleg.api.deps import CurrentPrincipal, Db
from overleg.messaging import service
from overleg.messaging.schemas import (
    ChatCreate,
    ChatMembersAdd,
    ChatPublic,
    ChatUpdate,
    MessageCreate,
    MessagePublic,
    ReadMark,
)

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])


@router.get("", response_model=list[ChatPublic])
async def my_chats(p: CurrentPrincipal, db: Db) -> list[ChatPublic]:
    return await service.my_chats(p, db)


@router.post("", response_model=ChatPublic, status_code=201)
async def create_chat(body: ChatCreate, p: CurrentPrincipal, db: Db) -> ChatPublic:
    """One other person and no topic: the 1:1 chat with them (the same one each time)."""
    return await service.create_chat(p, db, body)


@router.get("/{chat_id}", response_model=ChatPublic)
async def get_chat(chat_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> ChatPublic:
    return await service.get_chat(p, db, chat_id)


@router.patch("/{chat_id}", response_model=ChatPublic, summary="Name a group chat")
async def rename(chat_id: uuid.UUID, body: ChatUpdate, p: CurrentPrincipal, db: Db) -> ChatPublic:
    return await service.rename_chat(p, db, chat_id, body)


@router.post("/{chat_id}/members", response_model=ChatPublic)
async def add_members(
    chat_id: uuid.UUID, body: ChatMembersAdd, p: CurrentPrincipal, db: Db
) -> ChatPublic:
    """Add people to a group chat, choosing how much history they see."""
    return await service.add_chat_members(p, db, chat_id, body)


@router.delete("/{chat_id}/members/{user_id}", status_code=204)
async def remove_member(
    chat_id: uuid.UUID, user_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> None:
    await service.remove_chat_member(p, db, chat_id, user_id)


@router.post("/{chat_id}/leave", status_code=204)
async def leave(chat_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    assert p.user_id is not None
    await service.remove_chat_member(p, db, chat_id, p.user_id)


@router.get("/{chat_id}/messages", response_model=list[MessagePublic])
async def messages(
    chat_id: uuid.UUID,
    p: CurrentPrincipal,
    db: Db,
    before: datetime | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[MessagePublic]:
    return await service.chat_messages(p, db, chat_id, before=before, limit=limit)


@router.post("/{chat_id}/messages", response_model=MessagePublic, status_code=201)
async def send(
    chat_id: uuid.UUID, body: MessageCreate, p: CurrentPrincipal, db: Db
) -> MessagePublic:
    return await service.send_in_chat(p, db, chat_id, body)


@router.get("/{chat_id}/pins", response_model=list[MessagePublic])
async def pins(chat_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[MessagePublic]:
    return await service.pinned(p, db, "chat", chat_id)


@router.post("/{chat_id}/read", response_model=ChatPublic, summary="Read receipt")
async def mark_read(chat_id: uuid.UUID, body: ReadMark, p: CurrentPrincipal, db: Db) -> ChatPublic:
    return await service.mark_chat_read(p, db, chat_id, body.message_id)
