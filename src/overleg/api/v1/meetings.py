"""Scheduling meetings, their options and the iCalendar invitation; channel meetings."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query, Response

from overleg.api.deps import CurrentPrincipal, Db, DbMeeting, MeetingPrincipal
from overleg.meetings import calendar, options, scheduling
from overleg.meetings.schemas import (
    ChannelMeetingCreate,
    InstantMeetingCreate,
    MeetingCreate,
    MeetingOptions,
    MeetingOptionsUpdate,
    MeetingPublic,
    MeetingUpdate,
)

router = APIRouter(prefix="/api/v1/meetings", tags=["meetings"])
channel_router = APIRouter(prefix="/api/v1/channels", tags=["meetings"])


@router.post("", response_model=MeetingPublic, status_code=201)
async def create_meeting(body: MeetingCreate, p: CurrentPrincipal, db: Db) -> MeetingPublic:
    """Schedule a meeting (members; guests do not organize). Times need a time zone."""
    return await scheduling.create_meeting(p, db, body)


@router.post("/now", response_model=MeetingPublic, status_code=201, summary="Meet now")
async def meet_now(body: InstantMeetingCreate, p: CurrentPrincipal, db: Db) -> MeetingPublic:
    """A meeting that starts now (for an hour), with the caller in it."""
    return await scheduling.meet_now(p, db, body)


@router.get("", response_model=list[MeetingPublic], summary="My meetings")
async def list_meetings(
    p: CurrentPrincipal,
    db: Db,
    start: datetime | None = Query(default=None, description="overlapping from (with zone)"),
    end: datetime | None = Query(default=None, description="overlapping until (exclusive)"),
    include_cancelled: bool = False,
) -> list[MeetingPublic]:
    """Meetings I organize, co-organize or am invited to, ordered by start."""
    return await scheduling.list_meetings(
        p, db, start=start, end=end, include_cancelled=include_cancelled
    )


@router.get("/{meeting_id}", response_model=MeetingPublic)
async def get_meeting(meeting_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> MeetingPublic:
    return await scheduling.get_meeting(p, db, meeting_id)


@router.patch("/{meeting_id}", response_model=MeetingPublic, summary="Reschedule, re-invite")
async def update_meeting(
    meeting_id: uuid.UUID, body: MeetingUpdate, p: CurrentPrincipal, db: Db
) -> MeetingPublic:
    """The organizer changes subject, times, forwarding and invitees."""
    return await scheduling.update_meeting(p, db, meeting_id, body)


@router.post("/{meeting_id}/cancel", response_model=MeetingPublic)
async def cancel_meeting(meeting_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> MeetingPublic:
    """The organizer cancels: it ends for everyone in it, and nobody joins again."""
    return await scheduling.cancel_meeting(p, db, meeting_id)


@router.get(
    "/{meeting_id}/invitation.ics",
    response_class=Response,
    responses={200: {"content": {calendar.MEDIA_TYPE: {}}}},
    summary="The invitation as iCalendar",
)
async def invitation_ics(meeting_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> Response:
    body = await calendar.invitation_ics(p, db, meeting_id)
    return Response(
        body,
        media_type=calendar.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="meeting-{meeting_id}.ics"'},
    )


@router.get("/{meeting_id}/options", response_model=MeetingOptions)
async def get_options(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> MeetingOptions:
    """For anyone who sees the meeting, participants without an account here included."""
    return await options.get_options(p, db, meeting_id)


@router.patch("/{meeting_id}/options", response_model=MeetingOptions)
async def update_options(
    meeting_id: uuid.UUID, body: MeetingOptionsUpdate, p: MeetingPrincipal, db: DbMeeting
) -> MeetingOptions:
    """The organizer; co-organizers once the meeting has started (not the co-organizers).
    Participants without an account here are answered 403, like attendees."""
    return await options.update_options(p, db, meeting_id, body)


@channel_router.post("/{channel_id}/meetings", response_model=MeetingPublic, status_code=201)
async def create_channel_meeting(
    channel_id: uuid.UUID, body: ChannelMeetingCreate, p: CurrentPrincipal, db: Db
) -> MeetingPublic:
    """A meeting in a channel I may post in; its members are invited."""
    return await scheduling.create_channel_meeting(p, db, channel_id, body)
