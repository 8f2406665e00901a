"""Inside a meeting: joining, the lobby, participants, roles, hands, media, chat, ending.

These routes take a signed-in session or a participant credential (``Authorization:
Bearer olp_...``, returned by the join call to people without an account here). The join
route itself is public: anonymous people join with a display name.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from overleg.api.deps import (
    CurrentPrincipal,
    Db,
    DbMeeting,
    MeetingPrincipal,
    anonymous_principal,
    current_principal,
    request_token,
    runtime,
    session_principal,
    unit_of_work,
)
from overleg.meetings import service
from overleg.meetings.schemas import (
    AttendanceReport,
    ConsentIn,
    ExclusionIn,
    JoinRequest,
    JoinResult,
    MediaPermissions,
    MeetingMessageCreate,
    MeetingMessagePublic,
    MyMedia,
    ParticipantPublic,
    RoleChange,
    RoomView,
)
from overleg.security.principal import Principal

router = APIRouter(prefix="/api/v1/meetings", tags=["meetings: in the meeting"])


class Admitted(BaseModel):
    admitted: int


async def joining_principal(request: Request) -> Principal:
    """The signed-in caller, or an anonymous one when the request carries no session."""
    if request_token(request) is None:
        return anonymous_principal(request)
    return await current_principal(await session_principal(request))


@router.post(
    "/join/{join_code}",
    response_model=JoinResult,
    summary="Join a meeting through its link (signed in, or anonymous with a name)",
)
async def join(
    join_code: str,
    body: JoinRequest,
    request: Request,
    p: Annotated[Principal, Depends(joining_principal)],
) -> JoinResult:
    """Straight in or into the lobby, by the meeting's options (see docs/meeting-options.md).
    People without an account in the meeting's organisation get a participant credential
    (`token`, shown once) for the meeting's other routes and the event socket."""
    rt = runtime(request)
    async with rt.database.session(unscoped=True, readonly=True) as db:
        tenant_id = await service.tenant_of_link(db, join_code[:100])
    async with unit_of_work(request, replace(p, tenant_id=tenant_id)) as db:
        return await service.join(p, db, join_code, body)


@router.get("/{meeting_id}/room", response_model=RoomView, summary="The meeting as I see it now")
async def room(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> RoomView:
    """For clients that (re)connect: my state, who is in, the lobby (for those who admit),
    and what my role lets me do."""
    return await service.room_view(p, db, meeting_id)


@router.get("/{meeting_id}/participants", response_model=list[ParticipantPublic])
async def participants(
    meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> list[ParticipantPublic]:
    return await service.participants(p, db, meeting_id)


@router.get(
    "/{meeting_id}/lobby",
    response_model=list[ParticipantPublic],
    summary="Who waits in the lobby (for those who may admit)",
)
async def lobby(
    meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> list[ParticipantPublic]:
    return await service.lobby(p, db, meeting_id)


@router.post("/{meeting_id}/lobby/admit-all", response_model=Admitted)
async def admit_all(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> Admitted:
    return Admitted(admitted=await service.admit_all(p, db, meeting_id))


@router.post("/{meeting_id}/lobby/{participant_id}/admit", response_model=ParticipantPublic)
async def admit(
    meeting_id: uuid.UUID, participant_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    return await service.admit(p, db, meeting_id, participant_id)


@router.post("/{meeting_id}/lobby/{participant_id}/deny", response_model=ParticipantPublic)
async def deny(
    meeting_id: uuid.UUID, participant_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    return await service.deny(p, db, meeting_id, participant_id)


@router.post("/{meeting_id}/leave", status_code=204, summary="Leave (or stop waiting)")
async def leave(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> Response:
    await service.leave(p, db, meeting_id)
    return Response(status_code=204)


@router.delete(
    "/{meeting_id}/participants/{participant_id}",
    response_model=ParticipantPublic,
    summary="Remove someone from the meeting",
)
async def remove(
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    p: MeetingPrincipal,
    db: DbMeeting,
    block_rejoin: Annotated[
        bool, Query(description="organizer only: they cannot come back")
    ] = False,
) -> ParticipantPublic:
    return await service.remove(p, db, meeting_id, participant_id, block_rejoin=block_rejoin)


@router.post(
    "/{meeting_id}/participants/{participant_id}/unblock",
    response_model=ParticipantPublic,
    summary="Let a blocked person rejoin (through the lobby)",
)
async def unblock(
    meeting_id: uuid.UUID, participant_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    """The organizer only."""
    return await service.unblock(p, db, meeting_id, participant_id)


@router.put("/{meeting_id}/participants/{participant_id}/role", response_model=ParticipantPublic)
async def set_role(
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    body: RoleChange,
    p: MeetingPrincipal,
    db: DbMeeting,
) -> ParticipantPublic:
    return await service.set_role(p, db, meeting_id, participant_id, body)


@router.post("/{meeting_id}/participants/{participant_id}/mute", response_model=ParticipantPublic)
async def mute(
    meeting_id: uuid.UUID, participant_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    return await service.mute(p, db, meeting_id, participant_id)


@router.put(
    "/{meeting_id}/participants/{participant_id}/media-permissions",
    response_model=ParticipantPublic,
    summary="Disable or allow an attendee's mic and camera",
)
async def media_permissions(
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    body: MediaPermissions,
    p: MeetingPrincipal,
    db: DbMeeting,
) -> ParticipantPublic:
    return await service.set_media_permissions(p, db, meeting_id, participant_id, body)


@router.post(
    "/{meeting_id}/participants/{participant_id}/lower-hand", response_model=ParticipantPublic
)
async def lower_hand(
    meeting_id: uuid.UUID, participant_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    return await service.lower_hand(p, db, meeting_id, participant_id)


@router.post("/{meeting_id}/me/hand", response_model=ParticipantPublic, summary="Raise my hand")
async def raise_hand(
    meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    return await service.set_hand(p, db, meeting_id, True)


@router.delete("/{meeting_id}/me/hand", response_model=ParticipantPublic, summary="Lower my hand")
async def my_hand_down(
    meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    return await service.set_hand(p, db, meeting_id, False)


@router.patch(
    "/{meeting_id}/me/media",
    response_model=ParticipantPublic,
    summary="Mute or unmute, camera on or off, share or stop sharing",
)
async def my_media(
    meeting_id: uuid.UUID, body: MyMedia, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    return await service.set_my_media(p, db, meeting_id, body)


@router.post("/{meeting_id}/end", status_code=204, summary="End the meeting for everyone")
async def end(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> Response:
    await service.end_meeting(p, db, meeting_id)
    return Response(status_code=204)


@router.post("/{meeting_id}/recording/start", status_code=204)
async def start_recording(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> Response:
    await service.set_recording(p, db, meeting_id, True)
    return Response(status_code=204)


@router.post("/{meeting_id}/recording/stop", status_code=204)
async def stop_recording(meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting) -> Response:
    await service.set_recording(p, db, meeting_id, False)
    return Response(status_code=204)


@router.post(
    "/{meeting_id}/recording/consent",
    response_model=ParticipantPublic,
    summary="Agree to be recorded, or decline (view-only until it stops)",
)
async def recording_consent(
    meeting_id: uuid.UUID, body: ConsentIn, p: MeetingPrincipal, db: DbMeeting
) -> ParticipantPublic:
    """While a recording asks for explicit consent, nobody unmutes, shows video or shares
    before agreeing; declining holds until the recording stops."""
    return await service.give_consent(p, db, meeting_id, body.agree)


@router.put(
    "/{meeting_id}/participants/{participant_id}/recording-exclusion",
    response_model=ParticipantPublic,
    summary="Never record this person (organizer)",
)
async def recording_exclusion(
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    body: ExclusionIn,
    p: MeetingPrincipal,
    db: DbMeeting,
) -> ParticipantPublic:
    return await service.set_exclusion(p, db, meeting_id, participant_id, body.excluded)


@router.get("/{meeting_id}/messages", response_model=list[MeetingMessagePublic])
async def messages(
    meeting_id: uuid.UUID, p: MeetingPrincipal, db: DbMeeting
) -> list[MeetingMessagePublic]:
    """The meeting chat: for people in the meeting, and afterwards for those with an
    account who took part."""
    return await service.chat_history(p, db, meeting_id)


@router.post("/{meeting_id}/messages", response_model=MeetingMessagePublic, status_code=201)
async def send_message(
    meeting_id: uuid.UUID, body: MeetingMessageCreate, p: MeetingPrincipal, db: DbMeeting
) -> MeetingMessagePublic:
    return await service.chat_send(p, db, meeting_id, body)


@router.get(
    "/{meeting_id}/attendance",
    response_model=AttendanceReport,
    summary="Who joined, when, how and for how long (organizer, co-organizers)",
)
async def attendance(meeting_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> AttendanceReport:
    return await service.attendance(p, db, meeting_id)
