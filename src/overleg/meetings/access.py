"""Load a meeting AND establish the caller's relation to it.

A meeting the caller may not see is answered exactly like a missing one (404), and that
denial is audited. Who sees a meeting: its organizer, co-organizers, invitees (by account
or e-mail address), members of its channel, and anyone who took part in it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.runtime import runtime_of
from overleg.meetings import rules
from overleg.meetings.credentials import participant_id_of
from overleg.meetings.models import Meeting, MeetingInvitee, MeetingParticipant
from overleg.meetings.policy import policy_for
from overleg.meetings.rules import Capability, MeetingRole, Powers
from overleg.meetings.schemas import MeetingOptions
from overleg.policy.schemas import MeetingPolicySettings, PrivacyPolicy
from overleg.policy.service import effective
from overleg.security.authz.enforce import not_found_denied, refuse
from overleg.security.principal import Principal, PrincipalKind

LIVE = "scheduled"  # Meeting.status of a meeting that is neither cancelled nor ended


def options_of(m: Meeting) -> MeetingOptions:
    return MeetingOptions.model_validate(m.options)


@dataclass
class Room:
    """A meeting, the policy that governs it, and the caller's place in it."""

    meeting: Meeting
    policy: MeetingPolicySettings
    options: MeetingOptions
    #: the caller's participant row (None: not (yet) a participant)
    me: MeetingParticipant | None
    #: a Janus instance is up for audio and video (else: lobby, roles and chat only)
    media_available: bool = False
    #: the organisation's privacy statement (read while a recording runs)
    privacy_statement_url: str | None = None

    @property
    def consent_required(self) -> bool:
        """A recording runs that needs everyone's explicit consent."""
        return (
            self.meeting.recording_started_at is not None and self.policy.explicit_recording_consent
        )

    def held_back(self, p: MeetingParticipant) -> str | None:
        """Why ``p`` may not unmute, show video or share now (None: they may): while a
        recording asks for consent, until they agree; after declining, until it stops.
        People the organizer excluded from recording are never held back."""
        if not self.consent_required or p.record_excluded:
            return None
        if p.consent == "declined":
            return "you declined to be recorded: you watch and listen until the recording stops"
        if p.consent != "agreed":
            return "the meeting is being recorded: agree to be recorded first"
        return None

    @property
    def started(self) -> bool:
        return self.meeting.started_at is not None

    @property
    def allow_chat(self) -> bool:
        return self.options.allow_chat and self.policy.allow_meeting_chat

    def powers(self) -> Powers:
        return Powers(
            who_can_admit=self.policy.who_can_admit,
            limit_presenter_permissions=self.policy.limit_presenter_permissions,
            started=self.started,
            who_can_record=self.options.who_can_record,
        )

    def can(self, p: MeetingParticipant | None, cap: Capability) -> bool:
        """Whether participant ``p`` (in the meeting) has ``cap``."""
        if p is None or p.state != "in":
            return False
        kind = rules.ParticipantType(p.type)
        unverified = kind in rules.UNVERIFIED
        return rules.can(MeetingRole(p.role), cap, self.powers(), unverified=unverified, kind=kind)

    def capabilities(self, p: MeetingParticipant | None) -> list[str]:
        return [c.value for c in Capability if self.can(p, c)]


async def load_room(db: AsyncSession, meeting: Meeting, me: MeetingParticipant | None) -> Room:
    policy = await policy_for(db, meeting.organizer_id)
    media = runtime_of(db).media
    statement = None
    if meeting.recording_started_at is not None:
        url = (await effective(db, PrivacyPolicy, "privacy")).statement_url
        statement = str(url) if url else None
    return Room(
        meeting, policy, options_of(meeting), me, bool(media and media.available), statement
    )


async def my_participant(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> MeetingParticipant | None:
    """The caller's participant row in ``meeting_id``: by credential, or by account."""
    pid = participant_id_of(principal)
    if pid is not None:
        p = await db.get(MeetingParticipant, pid)
        return p if p is not None and p.meeting_id == meeting_id else None
    if principal.kind is not PrincipalKind.USER or principal.user_id is None:
        return None
    row: MeetingParticipant | None = await db.scalar(
        select(MeetingParticipant).where(
            MeetingParticipant.meeting_id == meeting_id,
            MeetingParticipant.user_id == principal.user_id,
        )
    )
    return row


async def is_invited(
    db: AsyncSession, meeting_id: uuid.UUID, *, user_id: uuid.UUID | None, email: str | None
) -> bool:
    conds = []
    if user_id is not None:
        conds.append(MeetingInvitee.user_id == user_id)
    if email:
        conds.append(MeetingInvitee.email == email.lower())
    if not conds:
        return False
    found = await db.scalar(
        select(MeetingInvitee.id)
        .where(MeetingInvitee.meeting_id == meeting_id, or_(*conds))
        .limit(1)
    )
    return found is not None


async def _in_channel(db: AsyncSession, channel_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    # imported here: workspace is a sibling domain, needed for channel meetings only
    from overleg.workspace.service import channel_member_ids

    return user_id in set(await channel_member_ids(db, channel_id))


async def can_see(principal: Principal, db: AsyncSession, m: Meeting) -> bool:
    """Organizer, co-organizers, invitees, channel members, and past participants."""
    if principal.kind is PrincipalKind.PARTICIPANT:
        return (
            participant_id_of(principal) is not None
            and (await my_participant(principal, db, m.id)) is not None
        )
    uid = principal.user_id
    if principal.kind is not PrincipalKind.USER or uid is None:
        return False
    if uid == m.organizer_id or uid in options_of(m).coorganizers:
        return True
    if await is_invited(db, m.id, user_id=uid, email=principal.label):
        return True
    if m.channel_id is not None and await _in_channel(db, m.channel_id, uid):
        return True
    return await my_participant(principal, db, m.id) is not None


async def access_meeting(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, *, action: str
) -> Meeting:
    """The meeting, if the caller may see it (else an audited 404)."""
    m = await db.get(Meeting, meeting_id)
    if m is None or not await can_see(principal, db, m):
        raise not_found_denied(principal, action, "meeting", str(meeting_id))
    return m


async def access_room(
    principal: Principal,
    db: AsyncSession,
    meeting_id: uuid.UUID,
    *,
    action: str,
    need: Capability | None = None,
    in_meeting: bool = True,
) -> Room:
    """The meeting with the caller's participant row, for calls made from inside it.

    404 (audited) when the caller has no participant row there; 409 when the meeting is
    over; 403 (audited) when ``in_meeting`` and the caller is not in it (in the lobby,
    say), or lacks capability ``need``.
    """
    m = await db.get(Meeting, meeting_id)
    me = await my_participant(principal, db, meeting_id) if m else None
    if m is None or me is None:
        raise not_found_denied(principal, action, "meeting", str(meeting_id))
    room = await load_room(db, m, me)
    if m.status != LIVE:
        from overleg.kernel.errors import Conflict

        raise Conflict(f"The meeting is {m.status}.")
    if in_meeting and me.state != "in":
        raise refuse(
            principal,
            action,
            "you are not in the meeting"
            + (" (waiting in the lobby)" if me.state == "lobby" else ""),
            target_type="meeting",
            target_id=str(m.id),
        )
    if need is not None and not room.can(me, need):
        raise refuse(
            principal,
            action,
            f"your role ({me.role}) does not allow {need.value.replace('_', ' ')} here",
            target_type="meeting",
            target_id=str(m.id),
        )
    return room
