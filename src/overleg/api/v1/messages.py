"""One message wherever it lives: edit, delete, reactions, pins; and message search."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from overleg.api.deps import CurrentPrincipal, Db
from overleg.messaging import service
from overleg.messaging.schemas import (
    MessageEdit,
    MessagePreview,
    MessagePublic,
    Reaction,
    SearchResults,
)

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.post("/messages/preview", response_model=MessagePreview, summary="Preview Markdown")
async def preview(body: MessageEdit, p: CurrentPrincipal) -> MessagePreview:
    """The HTML a message with this text would show (Markdown rendered and sanitised as
    when it is sent). Nothing is stored."""
    return service.preview(p, body.text)


@router.patch("/messages/{message_id}", response_model=MessagePublic)
async def edit(
    message_id: uuid.UUID, body: MessageEdit, p: CurrentPrincipal, db: Db
) -> MessagePublic:
    """The author edits; the message shows "edited" and earlier versions are kept."""
    return await service.edit_message(p, db, message_id, body)


@router.delete("/messages/{message_id}", status_code=204)
async def delete(message_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await service.delete_message(p, db, message_id)


@router.put("/messages/{message_id}/reactions/{kind}", response_model=MessagePublic)
async def react(
    message_id: uuid.UUID, kind: Reaction, p: CurrentPrincipal, db: Db
) -> MessagePublic:
    return await service.react(p, db, message_id, kind, True)


@router.delete("/messages/{message_id}/reactions/{kind}", response_model=MessagePublic)
async def unreact(
    message_id: uuid.UUID, kind: Reaction, p: CurrentPrincipal, db: Db
) -> MessagePublic:
    return await service.react(p, db, message_id, kind, False)


@router.put("/messages/{message_id}/pin", response_model=MessagePublic)
async def pin(message_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> MessagePublic:
    return await service.pin(p, db, message_id, True)


@router.delete("/messages/{message_id}/pin", response_model=MessagePublic)
async def unpin(message_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> MessagePublic:
    return await service.pin(p, db, message_id, False)


@router.get("/search/messages", response_model=SearchResults)
async def search(
    p: CurrentPrincipal,
    db: Db,
    q: str = Query(
        min_length=1,
        max_length=500,
        description='words, "exact phrase", OR, NOT/-word, from:, in:, before:, after:, '
        "has:attachment",
        examples=['budget "quarterly review" from:mia@contoso.example -draft'],
    ),
    limit: int = Query(default=50, ge=1, le=200),
) -> SearchResults:
    return await service.search(p, db, q, limit=limit)
