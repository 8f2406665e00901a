"""The controls inside a meeting: roles, muting, attendee mic and camera, hands, one's
own media, and the room view (recording is in ``recording``). Every call is checked
against the capability table (``rules.can``) for the caller's role, audited, and
announced.

The media itself (Janus) follows these states in the media issue: what is stored here is
what the media plane must enforce.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound
from overleg.meetings.access import Room, access_room
from overleg.meetings.events import announce, recipient
from overleg.meetings.media import signalling as media_hooks
from overleg.meetings.models import MeetingParticipant
from overleg.meetings.room import audiences, participant_public, people, summary
from overleg.meetings.rules import Capability, MeetingRole
from overleg.meetings.schemas import (
    MediaPermissions,
    MyMedia,
    ParticipantPublic,
    RoleChange,
    RoomView,
)
from overleg.security.authz.enforce import refuse
from overleg.security.principal import Principal


async def _present(db: AsyncSession, room: Room, pid: uuid.UUID) -> MeetingParticipant:
    p = await db.get(MeetingParticipant, pid)
    if p is None or p.meeting_id != room.meeting.id or p.state != "in":
        raise NotFound(f"Nobody with id {pid} is in this meeting.")
    return p


async def _changed(
    principal: Principal,
    db: AsyncSession,
    room: Room,
    p: MeetingParticipant,
    action: str,
    change: str,
    **details: object,
) -> None:
    """Audit ``action`` on ``p`` and tell everyone in the meeting (and ``p``)."""
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=room.meeting.id,
        details={"participant_id": str(p.id), **details},
    )
    everyone, _ = await audiences(db, room)
    await announce(
        db,
        principal,
        "participant",
        room.meeting.id,
        everyone,
        change=change,
        participant_id=str(p.id),
    )


async def view(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> RoomView:
    """The meeting as the caller sees it now. People in the lobby see only themselves;
    the lobby list only those who may admit."""
    room = await access_room(principal, db, meeting_id, action="meeting.view", in_meeting=False)
    me = room.me
    assert me is not None
    if me.state != "in":
        return RoomView(
            meeting=summary(room),
            me=participant_public(me),
            participants=[],
            lobby=None,
            capabilities=[],
        )
    inside = await people(db, meeting_id, "in")
    lobby = (
        [participant_public(p) for p in await people(db, meeting_id, "lobby")]
        if room.can(me, Capability.ADMIT)
        else None
    )
    return RoomView(
        meeting=summary(room),
        me=participant_public(me),
        participants=[participant_public(p) for p in inside],
        lobby=lobby,
        capabilities=room.capabilities(me),
    )


async def participants(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> list[ParticipantPublic]:
    await access_room(principal, db, meeting_id, action="meeting.participants")
    return [participant_public(p) for p in await people(db, meeting_id, "in")]


async def set_role(
    principal: Principal,
    db: AsyncSession,
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    data: RoleChange,
) -> ParticipantPublic:
    """Make someone presenter or attendee. The organizer's role never changes;
    co-organizers are chosen in the meeting options."""
    room = await access_room(
        principal, db, meeting_id, action="meeting.role", need=Capability.CHANGE_ROLES
    )
    p = await _present(db, room, participant_id)
    if p.role in (MeetingRole.ORGANIZER, MeetingRole.COORGANIZER):
        raise refuse(
            principal,
            "meeting.role",
            f"the {p.role}'s role is not changed here"
            + (
                " (co-organizers are chosen in the meeting options)"
                if p.role == "coorganizer"
                else ""
            ),
            target_type="meeting",
            target_id=str(meeting_id),
        )
    before = p.role
    p.role = data.role
    if data.role == "attendee":
        p.sharing = False  # a demoted presenter's screen share stops at once
    else:
        p.mic_disabled = p.camera_disabled = False  # presenters' media is never disabled
    await media_hooks.role_changed(db, room, p)
    await _changed(principal, db, room, p, "meeting.role", "role", before=before, after=p.role)
    await announce(db, principal, "you", meeting_id, [recipient(p)], state="role", role=p.role)
    return participant_public(p)


async def mute(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID
) -> ParticipantPublic:
    """Mute someone (they may unmute themselves unless their mic is disabled)."""
    room = await access_room(
        principal, db, meeting_id, action="meeting.mute", need=Capability.MUTE_OTHERS
    )
    p = await _present(db, room, participant_id)
    p.muted = True
    await _changed(principal, db, room, p, "meeting.mute", "media")
    await announce(db, principal, "you", meeting_id, [recipient(p)], state="muted")
    return participant_public(p)


async def set_media_permissions(
    principal: Principal,
    db: AsyncSession,
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    data: MediaPermissions,
) -> ParticipantPublic:
    """Disable or allow an attendee's mic and camera."""
    room = await access_room(
        principal,
        db,
        meeting_id,
        action="meeting.media_permissions",
        need=Capability.MANAGE_ATTENDEE_MEDIA,
    )
    p = await _present(db, room, participant_id)
    if p.role != MeetingRole.ATTENDEE:
        raise Conflict("Only attendees' mics and cameras are disabled; make them attendee first.")
    if data.mic is not None:
        p.mic_disabled = not data.mic
        p.muted = p.muted or p.mic_disabled
    if data.camera is not None:
        p.camera_disabled = not data.camera
        p.camera_on = p.camera_on and not p.camera_disabled
    await media_hooks.permissions_changed(db, room, p)
    await _changed(
        principal,
        db,
        room,
        p,
        "meeting.media_permissions",
        "media",
        mic_disabled=p.mic_disabled,
        camera_disabled=p.camera_disabled,
    )
    await announce(
        db,
        principal,
        "you",
        meeting_id,
        [recipient(p)],
        state="media_permissions",
        mic_disabled=p.mic_disabled,
        camera_disabled=p.camera_disabled,
    )
    return participant_public(p)


async def set_hand(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, raised: bool
) -> ParticipantPublic:
    """Raise or lower one's own hand."""
    room = await access_room(principal, db, meeting_id, action="meeting.hand")
    me = room.me
    assert me is not None
    me.hand_raised_at = now() if raised else None
    await _changed(principal, db, room, me, "meeting.hand", "hand", raised=raised)
    return participant_public(me)


async def lower_hand(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID
) -> ParticipantPublic:
    """Lower someone else's hand."""
    room = await access_room(
        principal, db, meeting_id, action="meeting.lower_hand", need=Capability.LOWER_HANDS
    )
    p = await _present(db, room, participant_id)
    p.hand_raised_at = None
    await _changed(principal, db, room, p, "meeting.lower_hand", "hand", raised=False)
    await announce(db, principal, "you", meeting_id, [recipient(p)], state="hand_lowered")
    return participant_public(p)


async def set_my_media(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, data: MyMedia
) -> ParticipantPublic:
    """Unmute, turn the camera on, share the screen, or the opposite. Attendees unmute
    and show video only where the options and their permissions allow; sharing needs a
    role that shares content."""
    room = await access_room(principal, db, meeting_id, action="meeting.media")
    me = room.me
    assert me is not None
    attendee = me.role == MeetingRole.ATTENDEE
    if (
        data.muted is False
        and attendee
        and (me.mic_disabled or not room.options.allow_mic_for_attendees)
    ):
        raise refuse(
            principal,
            "meeting.media",
            "attendees' mics are disabled",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    if (
        data.camera_on
        and attendee
        and (me.camera_disabled or not room.options.allow_camera_for_attendees)
    ):
        raise refuse(
            principal,
            "meeting.media",
            "attendees' cameras are disabled",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    waiting = room.held_back(me)
    if waiting and (data.muted is False or data.camera_on or data.sharing):
        raise refuse(
            principal, "meeting.media", waiting, target_type="meeting", target_id=str(meeting_id)
        )
    if data.sharing and not room.can(me, Capability.SHARE_CONTENT):
        raise refuse(
            principal,
            "meeting.media",
            "your role does not share content",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    if data.muted is not None:
        me.muted = data.muted
    if data.camera_on is not None:
        me.camera_on = data.camera_on
    if data.sharing is not None:
        me.sharing = data.sharing
    await _changed(
        principal,
        db,
        room,
        me,
        "meeting.media",
        "media",
        muted=me.muted,
        camera_on=me.camera_on,
        sharing=me.sharing,
    )
    return participant_public(me)
