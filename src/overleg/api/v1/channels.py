"""Channels: settings, private members, moderation, posts and replies."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query

from overleg.api.deps import CurrentPrincipal, Db
from overleg.messaging import service as messaging
from overleg.messaging.schemas import MessageCreate, MessagePublic
from overleg.workspace import service
from overleg.workspace.schemas import (
    ChannelMemberAdd,
    ChannelPublic,
    ChannelUpdate,
    ModerationPublic,
    ModerationSettings,
    ModeratorAdd,
)

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])

Before = Query(default=None, description="page: only messages created before this time")
Limit = Query(default=50, ge=1, le=200)


@router.get("/{channel_id}", response_model=ChannelPublic)
async def get_channel(channel_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> ChannelPublic:
    return await messaging.channel_view(p, db, channel_id)


@router.patch("/{channel_id}", response_model=ChannelPublic)
async def update_channel(
    channel_id: uuid.UUID, body: ChannelUpdate, p: CurrentPrincipal, db: Db
) -> ChannelPublic:
    return await service.update_channel(p, db, channel_id, body)


@router.post("/{channel_id}/archive", response_model=ChannelPublic)
async def archive(channel_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> ChannelPublic:
    return await service.set_channel_archived(p, db, channel_id, True)


@router.post("/{channel_id}/unarchive", response_model=ChannelPublic)
async def unarchive(channel_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> ChannelPublic:
    return await service.set_channel_archived(p, db, channel_id, False)


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await service.delete_channel(p, db, channel_id)


@router.post("/{channel_id}/members", status_code=204, summary="Add to a private channel")
async def add_member(
    channel_id: uuid.UUID, body: ChannelMemberAdd, p: CurrentPrincipal, db: Db
) -> None:
    """A team member; they read from now on unless ``share_history`` is true."""
    await service.add_channel_member(
        p, db, channel_id, body.user_id, share_history=body.share_history
    )


@router.delete("/{channel_id}/members/{user_id}", status_code=204)
async def remove_member(
    channel_id: uuid.UUID, user_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> None:
    await service.remove_channel_member(p, db, channel_id, user_id)


@router.get("/{channel_id}/moderation", response_model=ModerationPublic)
async def moderation(channel_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> ModerationPublic:
    """Team members read the settings; see docs/channel-moderation.md."""
    return await service.get_moderation(p, db, channel_id)


@router.put("/{channel_id}/moderation", response_model=ModerationPublic)
async def set_moderation(
    channel_id: uuid.UUID, body: ModerationSettings, p: CurrentPrincipal, db: Db
) -> ModerationPublic:
    """Team owners only."""
    return await service.set_moderation(p, db, channel_id, body)


@router.post("/{channel_id}/moderators", response_model=ModerationPublic)
async def add_moderator(
    channel_id: uuid.UUID, body: ModeratorAdd, p: CurrentPrincipal, db: Db
) -> ModerationPublic:
    return await service.add_moderator(p, db, channel_id, body.user_id)


@router.delete("/{channel_id}/moderators/{user_id}", response_model=ModerationPublic)
async def remove_moderator(
    channel_id: uuid.UUID, user_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> ModerationPublic:
    return await service.remove_moderator(p, db, channel_id, user_id)


@router.get("/{channel_id}/messages", response_model=list[MessagePublic], summary="Posts")
async def posts(
    channel_id: uuid.UUID,
    p: CurrentPrincipal,
    db: Db,
    before: datetime | None = Before,
    limit: int = Limit,
) -> list[MessagePublic]:
    return await messaging.channel_posts(p, db, channel_id, before=before, limit=limit)


@router.post("/{channel_id}/messages", response_model=MessagePublic, status_code=201)
async def post(
    channel_id: uuid.UUID, body: MessageCreate, p: CurrentPrincipal, db: Db
) -> MessagePublic:
    """Start a new post. Channel moderation decides who may."""
    return await messaging.post_in_channel(p, db, channel_id, body)


@router.get("/{channel_id}/messages/{post_id}/replies", response_model=list[MessagePublic])
async def replies(
    channel_id: uuid.UUID,
    post_id: uuid.UUID,
    p: CurrentPrincipal,
    db: Db,
    before: datetime | None = Before,
    limit: int = Limit,
) -> list[MessagePublic]:
    return await messaging.thread_replies(p, db, channel_id, post_id, before=before, limit=limit)


@router.post(
    "/{channel_id}/messages/{post_id}/replies", response_model=MessagePublic, status_code=201
)
async def reply(
    channel_id: uuid.UUID, post_id: uuid.UUID, body: MessageCreate, p: CurrentPrincipal, db: Db
) -> MessagePublic:
    """Reply in a post's thread. The channel's reply policy decides who may."""
    return await messaging.reply_in_channel(p, db, channel_id, post_id, body)


@router.get("/{channel_id}/pins", response_model=list[MessagePublic])
async def pins(channel_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[MessagePublic]:
    return await messaging.pinned(p, db, "channel", channel_id)


@router.post("/{channel_id}/read", response_model=ChannelPublic, summary="Mark as read")
async def mark_read(channel_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> ChannelPublic:
    return await messaging.mark_channel_read(p, db, channel_id)
