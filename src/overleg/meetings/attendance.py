"""The attendance report: who joined, when, how, for how long. No attention data."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.clock import now
from overleg.meetings.access import access_meeting, options_of
from overleg.meetings.models import MeetingAttendance, MeetingConsent, MeetingParticipant
from overleg.meetings.rules import MeetingRole, ParticipantType
from overleg.meetings.schemas import (
    AttendanceInterval,
    AttendanceReport,
    AttendanceRow,
    ConsentPublic,
)
from overleg.security.authz.enforce import refuse
from overleg.security.principal import Principal


async def report(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> AttendanceReport:
    """For the organizer and co-organizers; others who see the meeting get 403."""
    m = await access_meeting(principal, db, meeting_id, action="meeting.attendance")
    uid = principal.user_id
    if uid is None or (uid != m.organizer_id and uid not in options_of(m).coorganizers):
        raise refuse(
            principal,
            "meeting.attendance",
            "only the organizer and co-organizers see the attendance report",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    stays = list(
        await db.scalars(
            select(MeetingAttendance)
            .where(MeetingAttendance.meeting_id == meeting_id)
            .order_by(MeetingAttendance.joined_at)
        )
    )
    consents: dict[uuid.UUID, list[ConsentPublic]] = {}
    for c in await db.scalars(
        select(MeetingConsent)
        .where(MeetingConsent.meeting_id == meeting_id)
        .order_by(MeetingConsent.at)
    ):
        consents.setdefault(c.participant_id, []).append(
            ConsentPublic(decision=c.decision, at=c.at)
        )
    by_participant: dict[uuid.UUID, list[MeetingAttendance]] = {}
    for s in stays:
        by_participant.setdefault(s.participant_id, []).append(s)
    rows: list[AttendanceRow] = []
    if by_participant:
        found = await db.scalars(
            select(MeetingParticipant).where(MeetingParticipant.id.in_(list(by_participant)))
        )
        t = now()
        for p in sorted(found, key=lambda x: by_participant[x.id][0].joined_at):
            mine = by_participant[p.id]
            seconds = sum(int(((s.left_at or t) - s.joined_at).total_seconds()) for s in mine)
            lefts = [s.left_at for s in mine]
            rows.append(
                AttendanceRow(
                    participant_id=p.id,
                    display_name=p.display_name,
                    type=ParticipantType(p.type),
                    email=p.email,
                    phone=p.phone_masked,
                    role=MeetingRole(p.role),
                    how="dial_in" if p.type == ParticipantType.DIAL_IN else "web",
                    first_joined_at=mine[0].joined_at,
                    last_left_at=None if None in lefts else max(x for x in lefts if x),
                    seconds_in_meeting=max(0, seconds),
                    intervals=[
                        AttendanceInterval(
                            joined_at=s.joined_at,
                            left_at=s.left_at,
                            entered_by=s.entered_by,
                        )
                        for s in mine
                    ],
                    recording_consents=consents.get(p.id, []),
                )
            )
    return AttendanceReport(
        meeting_id=m.id,
        subject=m.subject,
        started_at=m.started_at,
        ended_at=m.ended_at,
        participants=rows,
    )
