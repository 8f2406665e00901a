"""A recording's row follows the meeting: made when recording starts, marked stopped (and
so queued for post-processing) when it stops, when the meeting ends, or when the last
person leaves. Kept apart from ``control`` so that the room can call it without a cycle.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.clock import now
from overleg.kernel.ids import new_id
from overleg.meetings.models import Meeting, MeetingParticipant, Recording
from overleg.meetings.recordings.service import expiry_for_new_recording
from overleg.security.principal import Principal


async def begin(db: AsyncSession, m: Meeting, starter: MeetingParticipant) -> Recording:
    """A new recording of ``m`` started by ``starter``; its expiry comes from the tenant's
    recording policy as it is now (a later policy change does not touch it)."""
    t = now()
    rec = Recording(
        id=new_id(),
        tenant_id=m.tenant_id,
        meeting_id=m.id,
        channel_id=m.channel_id,
        organizer_id=m.organizer_id,
        started_by_user_id=starter.user_id,
        started_by_participant_id=starter.id,
        started_at=t,
        state="recording",
        expires_at=await expiry_for_new_recording(db),
        attempts=0,
    )
    db.add(rec)
    m.recording_started_at, m.recording_by, m.recording_id = t, starter.id, rec.id
    await db.flush()
    return rec


async def finish(db: AsyncSession, m: Meeting) -> Recording | None:
    """Mark the running recording of ``m`` stopped (post-processing picks it up)."""
    rec = await db.get(Recording, m.recording_id) if m.recording_id else None
    if rec is not None and rec.state == "recording":
        rec.state, rec.stopped_at = "processing", now()
    m.recording_started_at, m.recording_by, m.recording_id = None, None, None
    return rec


async def stop_if_empty(principal: Principal, db: AsyncSession, m: Meeting) -> None:
    """Recording stops when the last person leaves the meeting (as in Teams)."""
    if m.recording_id is None:
        return
    inside = await db.scalar(
        select(func.count())
        .select_from(MeetingParticipant)
        .where(MeetingParticipant.meeting_id == m.id, MeetingParticipant.state == "in")
    )
    if inside:
        return
    rec = await finish(db, m)
    await record(
        principal,
        db,
        "meeting.recording_stop",
        target_type="meeting",
        target_id=m.id,
        details={"reason": "everyone left", "recording_id": str(rec.id) if rec else None},
    )
