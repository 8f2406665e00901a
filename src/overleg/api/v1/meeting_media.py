"""Audio and video in a meeting: WebRTC offers and answers relayed to the media server.

The SDP exchange is one HTTP request and its answer (as in WHIP/WHEP; Overleg's offers
and answers carry all ICE candidates, no trickle). New feeds are announced on the event
socket (``meeting.media``). Without a media server every route answers 503
``media-unavailable`` and the meeting goes on with its lobby, roles and chat.
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response

from overleg.api.deps import DbMeeting, MeetingPrincipal
from overleg.meetings import service
from overleg.meetings.schemas import (
    FeedPublic,
    PublishRequest,
    SdpAnswer,
    SdpIn,
    SubscribeRequest,
    SubscriptionOffer,
)

router = APIRouter(prefix="/api/v1/meetings", tags=["meetings: audio and video"])


@router.post(
    "/{meeting_id}/media/publish",
    response_model=SdpAnswer,
    summary="Publish my camera or screen (SDP offer in, answer out)",
)
async def publish(
    meeting_id: uuid.UUID, body: PublishRequest, p: MeetingPrincipal, db: DbMeeting
) -> SdpAnswer:
    """Attendees publish only what the options and their permissions allow; a screen
    share needs a role that shares content."""
    return await service.media_publish(p, db, meeting_id, body)


@router.delete("/{meeting_id}/media/publish/{kind}", status_code=204)
async def unpublish(
    meeting_id: uuid.UUID,
    kind: Literal["camera", "screen"],
    p: MeetingPrincipal,
    db: DbMeeting,
) -> Response:
    await service.media_unpublish(p, db, meeting_id, kind)
    return Response(status_code=204)


@router.get("/{meeting_id}/media/feeds", response_model=list[FeedPublic])
async def feeds(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> list[FeedPublic]:
    """The feeds being published in the meeting."""
    return await service.media_feeds(p, db, meeting_id)


@router.post(
    "/{meeting_id}/media/subscriptions",
    response_model=SubscriptionOffer,
    status_code=201,
    summary="Receive feeds of the meeting (an SDP offer to answer)",
)
async def subscribe(
    meeting_id: uuid.UUID, body: SubscribeRequest, p: MeetingPrincipal, db: DbMeeting
) -> SubscriptionOffer:
    return await service.media_subscribe(p, db, meeting_id, body)


@router.post("/{meeting_id}/media/subscriptions/{subscription_id}/answer", status_code=204)
async def answer(
    meeting_id: uuid.UUID,
    subscription_id: str,
    body: SdpIn,
    p: MeetingPrincipal,
    db: DbMeeting,
) -> Response:
    await service.media_answer(p, db, meeting_id, subscription_id[:64], body)
    return Response(status_code=204)


@router.delete("/{meeting_id}/media", status_code=204, summary="Stop all my audio and video")
async def leave(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> Response:
    await service.media_leave(p, db, meeting_id)
    return Response(status_code=204)
