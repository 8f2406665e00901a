"""Recording in the control plane: who may start it, the notice, consent, and people
the organizer chose not to record.

- Starting and stopping need the RECORD capability (``rules.can``: organizer and
  co-organizers, presenters under ``who_can_record: organizers_and_presenters``, only
  accounts of the organisation) and a meeting policy that allows recording, both the
  organizer's and the starter's own.
- The notice: everyone in the meeting or its lobby hears ``meeting.recording`` with the
  organisation's privacy statement; whoever joins later sees ``recording`` and the
  statement in the join answer and the room view (dial-in gateways play their prompt).
- Explicit consent (the organizer's policy): when recording starts everyone is muted
  with camera and sharing off; to unmute, show video or share one must agree first;
  declining means view-only until the recording stops. Every decision is stored
  (``MeetingConsent``), shown in the attendance report and audited.
- Excluded people (chosen by the organizer) are never recorded, whatever they decide,
  and need no consent to speak.

Which feeds Janus records follows from these states (the media part of recording).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound
from overleg.meetings.access import Room, access_room
from overleg.meetings.events import announce, recipient
from overleg.meetings.models import MeetingConsent, MeetingParticipant, Recording
from overleg.meetings.policy import policy_for
from overleg.meetings.recordings import lifecycle
from overleg.meetings.room import participant_public, people
from overleg.meetings.rules import Capability, MeetingRole
from overleg.meetings.schemas import ParticipantPublic
from overleg.policy.schemas import PrivacyPolicy
from overleg.policy.service import effective
from overleg.security.authz.enforce import refuse
from overleg.security.principal import Principal


async def set_recording(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, on: bool
) -> None:
    """Start or stop recording."""
    action = "meeting.recording"
    room = await access_room(principal, db, meeting_id, action=action, need=Capability.RECORD)
    m, me = room.meeting, room.me
    assert me is not None
    if on:
        own = await policy_for(db, me.user_id) if me.user_id else room.policy
        if not (room.policy.allow_recording and own.allow_recording):
            whose = "the organizer's" if not room.policy.allow_recording else "your"
            raise refuse(
                principal,
                action,
                f"{whose} meeting policy does not allow recording",
                target_type="meeting",
                target_id=str(meeting_id),
            )
    if on == (m.recording_started_at is not None):
        raise Conflict(
            "The meeting is being recorded already." if on else "Nothing is being recorded."
        )
    rec: Recording | None
    if on:
        rec = await lifecycle.begin(db, m, me)
    else:
        rec = await lifecycle.finish(db, m)  # post-processing picks it up
    present = await people(db, meeting_id, "in", "lobby")
    required = on and room.policy.explicit_recording_consent
    for p in present:
        p.consent = None  # each recording asks again
        if required and p.state == "in" and not p.record_excluded:
            p.muted, p.camera_on, p.sharing = True, False, False
    url = (await effective(db, PrivacyPolicy, "privacy")).statement_url
    statement = str(url) if url else None
    await record(
        principal,
        db,
        "meeting.recording_start" if on else "meeting.recording_stop",
        target_type="meeting",
        target_id=meeting_id,
        details={"recording_id": str(rec.id) if rec else None}
        | ({"consent_required": required} if on else {}),
    )
    await announce(
        db,
        principal,
        "recording",
        meeting_id,
        [recipient(p) for p in present],
        recording=on,
        consent_required=required,
        privacy_statement_url=statement,
    )
    # the media plane follows at once: nobody sends until they agree (where asked), and
    # Janus records exactly the feeds that may be recorded
    from overleg.meetings.media import signalling

    if required:
        for p in present:
            if p.state == "in" and not p.record_excluded:
                await signalling.permissions_changed(db, room, p)
    await signalling.recording_changed(db, room)


async def give_consent(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, agree: bool
) -> ParticipantPublic:
    """Agree to be recorded, or decline (view-only until the recording stops)."""
    action = "meeting.recording_consent"
    room = await access_room(principal, db, meeting_id, action=action)
    me = room.me
    assert me is not None
    if not room.consent_required:
        raise Conflict("Nothing is being recorded that asks for consent.")
    if me.consent == "declined":
        raise Conflict("You declined this recording: that holds until it stops.")
    decision = "agreed" if agree else "declined"
    me.consent = decision
    if not agree:
        me.muted, me.camera_on, me.sharing = True, False, False
    started = room.meeting.recording_started_at
    assert started is not None
    db.add(
        MeetingConsent(
            tenant_id=me.tenant_id,
            meeting_id=meeting_id,
            participant_id=me.id,
            decision=decision,
            at=now(),
            recording_started_at=started,
        )
    )
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(me.id), "decision": decision},
    )
    await _tell(db, principal, room, me, "consent")
    from overleg.meetings.media import signalling

    # agreeing lifts the hold at Janus (they may unmute now); declining keeps it
    await signalling.permissions_changed(db, room, me)
    await signalling.recording_changed(db, room)
    return participant_public(me)


async def set_exclusion(
    principal: Principal,
    db: AsyncSession,
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    excluded: bool,
) -> ParticipantPublic:
    """The organizer marks someone who must never be recorded (or lifts the mark)."""
    action = "meeting.recording_exclusion"
    room = await access_room(principal, db, meeting_id, action=action)
    me = room.me
    assert me is not None
    if me.role != MeetingRole.ORGANIZER:
        raise refuse(
            principal,
            action,
            "only the organizer chooses who is not recorded",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    p = await db.get(MeetingParticipant, participant_id)
    if p is None or p.meeting_id != meeting_id or p.state not in ("in", "lobby"):
        raise NotFound(f"Nobody with id {participant_id} is in this meeting.")
    p.record_excluded = excluded
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(p.id), "excluded": excluded},
    )
    await _tell(db, principal, room, p, "recording_exclusion")
    from overleg.meetings.media import signalling

    await signalling.recording_changed(db, room)
    return participant_public(p)


async def _tell(
    db: AsyncSession, principal: Principal, room: Room, p: MeetingParticipant, change: str
) -> None:
    inside = await people(db, room.meeting.id, "in")
    await announce(
        db,
        principal,
        "participant",
        room.meeting.id,
        [recipient(x) for x in inside],
        change=change,
        participant_id=str(p.id),
    )
