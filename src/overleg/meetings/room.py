"""Getting in and out of a meeting: joining, the lobby, admitting, denying, leaving,
removing, and ending it. The rules are in ``rules``; this module loads the facts, asks
them, stores the outcome, audits it and tells the right people.

Who is told (``events``): people in the lobby and their changes go only to those who may
admit; the person concerned hears ``meeting.you``; everyone in the meeting hears who
joined or left.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound, ValidationFailed
from overleg.meetings import rules
from overleg.meetings.access import LIVE, Room, access_room, is_invited, load_room, options_of
from overleg.meetings.credentials import new_credential, participant_id_of
from overleg.meetings.events import announce, recipient
from overleg.meetings.media import signalling as media_hooks
from overleg.meetings.models import Meeting, MeetingAttendance, MeetingInvitee, MeetingParticipant
from overleg.meetings.policy import trusted_domains
from overleg.meetings.recordings import lifecycle as recording_lifecycle
from overleg.meetings.rules import Capability, Entry, Joiner, MeetingRole, ParticipantType
from overleg.meetings.schemas import (
    JoinRequest,
    JoinResult,
    MeetingOptions,
    MeetingSummary,
    ParticipantPublic,
)
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, refuse
from overleg.security.principal import Principal, PrincipalKind

# --- views ------------------------------------------------------------------------------


def participant_public(p: MeetingParticipant) -> ParticipantPublic:
    return ParticipantPublic(
        id=p.id,
        display_name=p.display_name,
        type=rules.ParticipantType(p.type),
        role=MeetingRole(p.role),
        state=p.state,
        user_id=p.user_id,
        phone=p.phone_masked,
        invited=p.invited,
        lobby_since=p.lobby_since if p.state == "lobby" else None,
        admit_on_start=p.admit_on_start,
        hand_raised=p.hand_raised_at is not None,
        muted=p.muted,
        camera_on=p.camera_on,
        sharing=p.sharing,
        mic_disabled=p.mic_disabled,
        camera_disabled=p.camera_disabled,
        consent=p.consent,
        recording_excluded=p.record_excluded,
    )


def summary(room: Room) -> MeetingSummary:
    m = room.meeting
    return MeetingSummary(
        id=m.id,
        subject=m.subject,
        status=m.status,
        started=m.started_at is not None,
        locked=room.options.lock,
        allow_chat=room.allow_chat,
        recording=m.recording_started_at is not None,
        consent_required=room.consent_required,
        privacy_statement_url=room.privacy_statement_url,
        media_available=room.media_available,
    )


# --- who is where -------------------------------------------------------------------------


async def people(db: AsyncSession, meeting_id: uuid.UUID, *states: str) -> list[MeetingParticipant]:
    rows = await db.scalars(
        select(MeetingParticipant)
        .where(MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.state.in_(states))
        .order_by(MeetingParticipant.lobby_since, MeetingParticipant.id)
    )
    return list(rows)


async def audiences(db: AsyncSession, room: Room) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """(everyone in the meeting, those of them who may admit) as event recipients."""
    # four columns, not whole rows: this runs on every join and lobby change, and a big
    # meeting's ORM objects cost more than the rest of the join together (BENCHMARKS.md)
    rows = await db.execute(
        select(
            MeetingParticipant.id,
            MeetingParticipant.user_id,
            MeetingParticipant.type,
            MeetingParticipant.role,
        ).where(MeetingParticipant.meeting_id == room.meeting.id, MeetingParticipant.state == "in")
    )
    powers = room.powers()
    everyone: list[uuid.UUID] = []
    admitters: list[uuid.UUID] = []
    for pid, user_id, kind, role in rows.all():
        everyone.append(user_id or pid)
        unverified = ParticipantType(kind) in rules.UNVERIFIED
        if rules.can(MeetingRole(role), Capability.ADMIT, powers, unverified=unverified):
            admitters.append(user_id or pid)
    return everyone, admitters


async def _tell_joined(
    db: AsyncSession, principal: Principal, room: Room, joined: list[MeetingParticipant]
) -> None:
    everyone, _ = await audiences(db, room)
    await announce(
        db,
        principal,
        "participant",
        room.meeting.id,
        everyone,
        change="joined",
        participant_ids=[str(p.id) for p in joined],
    )


# --- entering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knock:
    """Who is asking to come in, as established from their credentials."""

    type: ParticipantType
    display_name: str
    user_id: uuid.UUID | None = None  # an account of the meeting's tenant
    home_tenant_id: uuid.UUID | None = None
    home_user_id: uuid.UUID | None = None
    email: str | None = None
    phone_masked: str | None = None
    invited: bool = False
    how: str = "web"  # web | dial_in


async def meeting_by_join_code(db: AsyncSession, join_code: str) -> Meeting:
    m: Meeting | None = await db.scalar(select(Meeting).where(Meeting.join_code == join_code))
    if m is None:
        raise NotFound("No meeting has this link. Check the link in your invitation.")
    return m


#: a join link stops working this long after the meeting's scheduled end
LINK_LIFETIME_AFTER_END = timedelta(days=60)


def require_live(m: Meeting) -> None:
    """Refuse (409) joining a cancelled or ended meeting, or through an expired link."""
    if m.status == "cancelled":
        raise Conflict("This meeting was cancelled.", extra={"meeting_status": m.status})
    if m.status != LIVE:
        raise Conflict("This meeting has ended.", extra={"meeting_status": m.status})
    if now() > m.ends_at + LINK_LIFETIME_AFTER_END:
        raise Conflict(
            "This meeting link has expired: ask the organizer for a new meeting.",
            extra={"meeting_status": "expired"},
        )


async def _forwarded_invitation(
    principal: Principal,
    db: AsyncSession,
    m: Meeting,
    key: str | None,
    *,
    user_id: uuid.UUID | None,
) -> bool:
    """A signed-in person who opens a forwarded invitation becomes an invitee (when the
    organizer allows forwarding). True when that happened."""
    if not key or not m.allow_forwarding or key != m.invite_key:
        return False
    email = principal.label.lower()
    db.add(
        MeetingInvitee(
            tenant_id=m.tenant_id,
            meeting_id=m.id,
            user_id=user_id,
            email=None if user_id else email,
            forwarded=True,
            added_at=now(),
        )
    )
    await record(
        principal,
        db,
        "meeting.invitation_forwarded",
        target_type="meeting",
        target_id=m.id,
        details={"email": email},
    )
    return True


async def knock_of(
    principal: Principal, db: AsyncSession, m: Meeting, data: JoinRequest
) -> tuple[Knock, Principal]:
    """Who ``principal`` is for meeting ``m`` (``db`` scoped to its tenant), and the
    principal to act and audit as there: people of other organisations and anonymous
    people act inside the meeting's organisation under the name they have or gave."""
    if principal.kind is PrincipalKind.USER and principal.tenant_id == m.tenant_id:
        authorize(principal, Action.MEETING_JOIN)
        assert principal.user_id is not None
        from overleg.identity import service as identity

        me = (await identity.people(db, [principal.user_id])).get(principal.user_id)
        assert me is not None
        invited = await is_invited(db, m.id, user_id=principal.user_id, email=me.email)
        if not invited and m.channel_id is not None:
            from overleg.workspace.service import channel_member_ids

            invited = principal.user_id in set(await channel_member_ids(db, m.channel_id))
        if not invited:
            invited = await _forwarded_invitation(
                principal, db, m, data.invitation, user_id=principal.user_id
            )
        kind = ParticipantType.GUEST if principal.is_guest else ParticipantType.INTERNAL
        return Knock(kind, me.display_name, user_id=me.id, email=me.email, invited=invited), (
            principal
        )
    if principal.kind is PrincipalKind.USER:
        # signed in at another organisation on this server
        from dataclasses import replace

        email = principal.label.lower()
        domain = email.rsplit("@", 1)[-1]
        kind = (
            ParticipantType.FEDERATED
            if domain in await trusted_domains(db)
            else ParticipantType.EXTERNAL
        )
        visitor = replace(
            principal,
            kind=PrincipalKind.PARTICIPANT,
            tenant_id=m.tenant_id,
            user_id=None,
            roles=frozenset(),
            session_id=None,
            extra={"home_tenant_id": str(principal.tenant_id)},
        )
        invited = await is_invited(db, m.id, user_id=None, email=email)
        if not invited:
            invited = await _forwarded_invitation(visitor, db, m, data.invitation, user_id=None)
        name = data.display_name or email
        return (
            Knock(
                kind,
                name,
                home_tenant_id=principal.tenant_id,
                home_user_id=principal.user_id,
                email=email,
                invited=invited,
            ),
            visitor,
        )
    if principal.kind is PrincipalKind.ANONYMOUS:
        if not data.display_name or not data.display_name.strip():
            raise ValidationFailed(
                "display_name: give the name others will see in the meeting.",
                extra={"field": "display_name"},
            )
        from dataclasses import replace

        name = " ".join(data.display_name.split())
        visitor = replace(
            principal,
            kind=PrincipalKind.PARTICIPANT,
            tenant_id=m.tenant_id,
            label=f"anonymous:{name}"[:320],
        )
        return Knock(ParticipantType.ANONYMOUS, name), visitor
    raise refuse(principal, "meeting.join", "this kind of caller cannot join meetings")


def _roles_of(knock: Knock, m: Meeting, options: MeetingOptions) -> Joiner:
    organizer = knock.user_id is not None and knock.user_id == m.organizer_id
    coorg = knock.user_id is not None and knock.user_id in options.coorganizers
    return Joiner(knock.type, invited=knock.invited, organizer=organizer, coorganizer=coorg)


async def _existing(db: AsyncSession, m: Meeting, knock: Knock) -> MeetingParticipant | None:
    if knock.user_id is not None:
        cond = MeetingParticipant.user_id == knock.user_id
    elif knock.home_user_id is not None:
        cond = MeetingParticipant.home_user_id == knock.home_user_id
    else:
        return None  # anonymous people and callers are someone new every time
    row: MeetingParticipant | None = await db.scalar(
        select(MeetingParticipant).where(MeetingParticipant.meeting_id == m.id, cond)
    )
    return row


def _open_stay(db: AsyncSession, p: MeetingParticipant, how: str, entered_by: str) -> None:
    t = now()
    p.state, p.left_at, p.admit_on_start = "in", None, False
    p.first_joined_at = p.first_joined_at or t
    db.add(
        MeetingAttendance(
            tenant_id=p.tenant_id,
            meeting_id=p.meeting_id,
            participant_id=p.id,
            joined_at=t,
            how=how,
            entered_by=entered_by,
        )
    )


async def _close_stays(db: AsyncSession, participant_ids: Iterable[uuid.UUID]) -> None:
    ids = list(participant_ids)
    if ids:
        await db.execute(
            update(MeetingAttendance)
            .where(MeetingAttendance.participant_id.in_(ids), MeetingAttendance.left_at.is_(None))
            .values(left_at=now())
            .execution_options(synchronize_session=False)
        )


async def enter(
    actor: Principal, db: AsyncSession, m: Meeting, knock: Knock, *, action: str = "meeting.join"
) -> JoinResult:
    """Put ``knock`` into meeting ``m``, or into its lobby, by the rules; audit as
    ``actor``. Refuses (audited) when the meeting is locked, the person was blocked from
    rejoining, or anonymous joining is off for an unverified person."""
    require_live(m)
    room = await load_room(db, m, None)
    options, policy = room.options, room.policy
    joiner = _roles_of(knock, m, options)
    # phone callers are governed by dial_in_bypass, not by anonymous_join (as in Teams)
    anonymous = knock.type in (ParticipantType.ANONYMOUS, ParticipantType.EXTERNAL)
    if anonymous and not policy.anonymous_join:
        raise refuse(
            actor,
            action,
            "the organizer's policy lets only signed-in people join",
            target_type="meeting",
            target_id=str(m.id),
        )
    existing = await _existing(db, m, knock)
    if existing is not None and existing.rejoin_blocked:
        raise refuse(
            actor,
            action,
            "the organizer blocked you from rejoining this meeting",
            target_type="meeting",
            target_id=str(m.id),
        )
    organizing = joiner.organizer or joiner.coorganizer
    back = existing is not None and existing.state in ("in", "lobby")
    if options.lock and not organizing and not back:
        raise refuse(
            actor, action, "the meeting is locked", target_type="meeting", target_id=str(m.id)
        )
    token: str | None = None
    needs_credential = knock.user_id is None
    if existing is not None and existing.state in ("in", "lobby"):
        p = existing  # joining again (another device, a reload): same place, same role
        if needs_credential:
            token, p.token_hash = new_credential()
        room.me = p
        return JoinResult(meeting=summary(room), me=participant_public(p), token=token)
    situation = rules.Situation(
        lobby_bypass=options.lobby_bypass,
        dial_in_bypass=options.dial_in_bypass,
        anonymous_can_start=policy.anonymous_can_start,
        started=room.started,
        removed_before=existing is not None and existing.removed_at is not None,
    )
    where = rules.entry(joiner, situation)
    listed = knock.user_id is not None and knock.user_id in options.presenters
    role = rules.initial_role(joiner, options.who_can_present, listed_presenter=listed)
    if existing is not None and not organizing and existing.role in ("presenter", "attendee"):
        role = MeetingRole(existing.role)  # a role given in the meeting sticks
    p = existing or MeetingParticipant(
        tenant_id=m.tenant_id,
        meeting_id=m.id,
        type=knock.type.value,
        user_id=knock.user_id,
        home_tenant_id=knock.home_tenant_id,
        home_user_id=knock.home_user_id,
        email=knock.email,
        phone_masked=knock.phone_masked,
    )
    p.display_name = knock.display_name[:200]
    p.invited = knock.invited
    p.role = role.value
    p.muted, p.camera_on, p.sharing, p.hand_raised_at = True, False, False, None
    if where is Entry.IN:
        p.state, p.lobby_since, p.admit_on_start = "in", None, False
    else:  # all set before the first flush: one INSERT, no UPDATE after it
        p.state, p.lobby_since, p.left_at = "lobby", now(), None
        p.admit_on_start = where is Entry.LOBBY_UNTIL_START
    if needs_credential:
        token, p.token_hash = new_credential()
    if existing is None:
        db.add(p)
    await db.flush()
    room.me = p
    details = {
        "participant_id": str(p.id),
        "type": knock.type.value,
        "invited": knock.invited,
        "entry": where.value,
        "role": role.value,
        "how": knock.how,
    }
    if where is Entry.IN:
        _open_stay(db, p, knock.how, "bypass")
        await record(actor, db, action, target_type="meeting", target_id=m.id, details=details)
        await db.flush()
        await _tell_joined(db, actor, room, [p])
        if rules.starts_meeting(joiner, where) and m.started_at is None:
            await _start(actor, db, room)
    else:
        await record(actor, db, action, target_type="meeting", target_id=m.id, details=details)
        _, admitters = await audiences(db, room)
        await announce(
            db, actor, "lobby", m.id, admitters, change="entered", participant_id=str(p.id)
        )
        await announce(db, actor, "you", m.id, [recipient(p)], state="waiting")
    return JoinResult(meeting=summary(room), me=participant_public(p), token=token)


async def _start(actor: Principal, db: AsyncSession, room: Room) -> None:
    """The meeting starts: let in everyone who waited only for that."""
    m = room.meeting
    m.started_at = now()
    waiting = [p for p in await people(db, m.id, "lobby") if p.admit_on_start]
    for p in waiting:
        _open_stay(db, p, "dial_in" if p.type == ParticipantType.DIAL_IN else "web", "at_start")
        p.admitted_by = "meeting start"
    await record(
        actor,
        db,
        "meeting.start",
        target_type="meeting",
        target_id=m.id,
        details={"admitted_at_start": [str(p.id) for p in waiting]},
    )
    await db.flush()
    everyone, admitters = await audiences(db, room)
    await announce(db, actor, "updated", m.id, everyone, change="started")
    if waiting:
        await announce(
            db,
            actor,
            "lobby",
            m.id,
            admitters,
            change="admitted",
            participant_ids=[str(p.id) for p in waiting],
        )
        await announce(db, actor, "you", m.id, [recipient(p) for p in waiting], state="admitted")
        await _tell_joined(db, actor, room, waiting)


async def join(
    principal: Principal, db: AsyncSession, join_code: str, data: JoinRequest
) -> JoinResult:
    """Join through the link: signed in (this organisation or another) or anonymous with
    a display name. ``db`` is scoped to the meeting's tenant (see ``tenant_of_link``)."""
    m = await meeting_by_join_code(db, join_code)
    require_live(m)
    knock, actor = await knock_of(principal, db, m, data)
    return await enter(actor, db, m, knock)


async def tenant_of_link(db: AsyncSession, join_code: str) -> uuid.UUID:
    """The tenant of the meeting with ``join_code`` (``db`` unscoped); 404 if none."""
    tenant = await db.scalar(select(Meeting.tenant_id).where(Meeting.join_code == join_code))
    if tenant is None:
        raise NotFound("No meeting has this link. Check the link in your invitation.")
    return tenant


# --- the lobby ------------------------------------------------------------------------------


async def lobby(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> list[ParticipantPublic]:
    """The people waiting, oldest first; only for those who may admit."""
    await access_room(principal, db, meeting_id, action="meeting.lobby", need=Capability.ADMIT)
    return [participant_public(p) for p in await people(db, meeting_id, "lobby")]


async def _waiting(db: AsyncSession, meeting_id: uuid.UUID, pid: uuid.UUID) -> MeetingParticipant:
    p = await db.get(MeetingParticipant, pid)
    if p is None or p.meeting_id != meeting_id or p.state != "lobby":
        raise NotFound(f"Nobody with id {pid} is waiting in the lobby.")
    return p


async def _admit(
    principal: Principal, db: AsyncSession, room: Room, waiting: list[MeetingParticipant]
) -> None:
    label = principal.label
    for p in waiting:
        _open_stay(db, p, "dial_in" if p.type == ParticipantType.DIAL_IN else "web", "admitted")
        p.admitted_by = label
        await record(
            principal,
            db,
            "meeting.admit",
            target_type="meeting",
            target_id=room.meeting.id,
            details={"participant_id": str(p.id), "name": p.display_name, "type": p.type},
        )
    await db.flush()
    _, admitters = await audiences(db, room)
    ids = [str(p.id) for p in waiting]
    await announce(
        db, principal, "lobby", room.meeting.id, admitters, change="admitted", participant_ids=ids
    )
    await announce(
        db, principal, "you", room.meeting.id, [recipient(p) for p in waiting], state="admitted"
    )
    await _tell_joined(db, principal, room, waiting)


async def admit(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID
) -> ParticipantPublic:
    room = await access_room(
        principal, db, meeting_id, action="meeting.admit", need=Capability.ADMIT
    )
    p = await _waiting(db, meeting_id, participant_id)
    await _admit(principal, db, room, [p])
    return participant_public(p)


async def admit_all(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> int:
    """Admit everyone waiting; the number admitted."""
    room = await access_room(
        principal, db, meeting_id, action="meeting.admit", need=Capability.ADMIT
    )
    waiting = await people(db, meeting_id, "lobby")
    await record(
        principal,
        db,
        "meeting.admit_all",
        target_type="meeting",
        target_id=meeting_id,
        details={"count": len(waiting)},
    )
    if waiting:
        await _admit(principal, db, room, waiting)
    return len(waiting)


async def deny(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID
) -> ParticipantPublic:
    room = await access_room(
        principal, db, meeting_id, action="meeting.deny", need=Capability.ADMIT
    )
    p = await _waiting(db, meeting_id, participant_id)
    p.state, p.left_at, p.admit_on_start = "denied", now(), False
    await record(
        principal,
        db,
        "meeting.deny",
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(p.id), "name": p.display_name, "type": p.type},
    )
    _, admitters = await audiences(db, room)
    await announce(
        db, principal, "lobby", meeting_id, admitters, change="denied", participant_id=str(p.id)
    )
    await announce(db, principal, "you", meeting_id, [recipient(p)], state="denied")
    return participant_public(p)


# --- leaving --------------------------------------------------------------------------------


async def leave(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> None:
    """Leave the meeting (or stop waiting in the lobby)."""
    room = await access_room(principal, db, meeting_id, action="meeting.leave", in_meeting=False)
    me = room.me
    assert me is not None
    if me.state not in ("in", "lobby"):
        raise Conflict("You are not in this meeting.")
    was = me.state
    me.state, me.left_at, me.hand_raised_at, me.sharing = "left", now(), None, False
    me.admit_on_start = False
    await _close_stays(db, [me.id])
    await media_hooks.left(db, room.meeting, [me])
    await recording_lifecycle.stop_if_empty(principal, db, room.meeting)
    await record(
        principal,
        db,
        "meeting.leave",
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(me.id), "from": was},
    )
    everyone, admitters = await audiences(db, room)
    if was == "lobby":
        await announce(
            db, principal, "lobby", meeting_id, admitters, change="left", participant_id=str(me.id)
        )
    else:
        await announce(
            db,
            principal,
            "participant",
            meeting_id,
            everyone,
            change="left",
            participant_id=str(me.id),
        )


async def remove(
    principal: Principal,
    db: AsyncSession,
    meeting_id: uuid.UUID,
    participant_id: uuid.UUID,
    *,
    block_rejoin: bool = False,
) -> ParticipantPublic:
    """Remove someone from the meeting at once. They may come back through the lobby,
    unless the organizer blocks their rejoining (``block_rejoin``, organizer only)."""
    room = await access_room(
        principal, db, meeting_id, action="meeting.remove", need=Capability.REMOVE
    )
    me = room.me
    assert me is not None
    p = await db.get(MeetingParticipant, participant_id)
    if p is None or p.meeting_id != meeting_id or p.state not in ("in", "lobby"):
        raise NotFound(f"Nobody with id {participant_id} is in this meeting.")
    if p.role == MeetingRole.ORGANIZER:
        raise refuse(
            principal,
            "meeting.remove",
            "the organizer cannot be removed",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    if p.id == me.id:
        raise Conflict("To leave the meeting yourself, use leave.")
    if block_rejoin and me.role != MeetingRole.ORGANIZER:
        raise refuse(
            principal,
            "meeting.remove",
            "only the organizer blocks rejoining",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    was = p.state
    t = now()
    p.state, p.left_at, p.removed_at = "removed", t, t
    p.rejoin_blocked = block_rejoin
    p.hand_raised_at, p.sharing, p.admit_on_start = None, False, False
    await _close_stays(db, [p.id])
    await media_hooks.left(db, room.meeting, [p])  # what they send and receive stops now
    await recording_lifecycle.stop_if_empty(principal, db, room.meeting)
    await record(
        principal,
        db,
        "meeting.remove",
        target_type="meeting",
        target_id=meeting_id,
        details={
            "participant_id": str(p.id),
            "name": p.display_name,
            "from": was,
            "block_rejoin": block_rejoin,
        },
    )
    everyone, admitters = await audiences(db, room)
    kind = "participant" if was == "in" else "lobby"
    await announce(
        db,
        principal,
        kind,
        meeting_id,
        everyone if was == "in" else admitters,
        change="removed",
        participant_id=str(p.id),
    )
    await announce(
        db,
        principal,
        "you",
        meeting_id,
        [recipient(p)],
        state="removed",
        rejoin_blocked=block_rejoin,
    )
    return participant_public(p)


async def unblock(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID
) -> ParticipantPublic:
    """Let someone whose rejoining was blocked come back (through the lobby). The
    organizer only, in the meeting or not."""
    from overleg.meetings.access import access_meeting

    m = await access_meeting(principal, db, meeting_id, action="meeting.unblock")
    if principal.user_id is None or principal.user_id != m.organizer_id:
        raise refuse(
            principal,
            "meeting.unblock",
            "only the organizer lifts a block",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    p = await db.get(MeetingParticipant, participant_id)
    if p is None or p.meeting_id != meeting_id or not p.rejoin_blocked:
        raise NotFound(f"Nobody with id {participant_id} is blocked from this meeting.")
    p.rejoin_blocked = False
    await record(
        principal,
        db,
        "meeting.unblock",
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(p.id), "name": p.display_name},
    )
    return participant_public(p)


async def end_for_all(principal: Principal, db: AsyncSession, m: Meeting, *, reason: str) -> None:
    """End ``m`` for everyone in it or waiting (no authorization: the caller decided).
    ``reason``: "ended" or "cancelled". Sets the status, closes attendance, tells them."""
    t = now()
    present = await people(db, m.id, "in", "lobby")
    m.status = "cancelled" if reason == "cancelled" else "ended"
    m.ended_at, m.ended_by = t, principal.label
    await recording_lifecycle.finish(db, m)
    for p in present:
        p.state, p.left_at, p.hand_raised_at, p.sharing = "left", t, None, False
        p.admit_on_start = False
    await _close_stays(db, [p.id for p in present])
    await media_hooks.ended(db, m)
    await announce(db, principal, "updated", m.id, [recipient(p) for p in present], change=m.status)


async def end_meeting(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> None:
    """End the meeting for everyone (organizer, co-organizers)."""
    room = await access_room(
        principal, db, meeting_id, action="meeting.end", need=Capability.END_MEETING
    )
    await record(principal, db, "meeting.end", target_type="meeting", target_id=meeting_id)
    await end_for_all(principal, db, room.meeting, reason="ended")


async def after_options_change(
    principal: Principal, db: AsyncSession, m: Meeting, before: MeetingOptions
) -> None:
    """Apply changed options to the people in the meeting and tell them: co-organizers
    added or taken off get their role at once; everyone present hears the change."""
    after = options_of(m)
    present = await people(db, m.id, "in", "lobby")
    changed: list[MeetingParticipant] = []
    for p in present:
        # turning attendee mics or cameras off applies at once, not only to the next unmute
        if p.role == MeetingRole.ATTENDEE and p.state == "in":
            if before.allow_mic_for_attendees and not after.allow_mic_for_attendees:
                p.muted = True
            if before.allow_camera_for_attendees and not after.allow_camera_for_attendees:
                p.camera_on = False
        if p.user_id is None or p.user_id == m.organizer_id:
            continue
        if p.user_id in after.coorganizers and p.role != MeetingRole.COORGANIZER:
            p.role = MeetingRole.COORGANIZER.value
            changed.append(p)
        elif p.user_id not in after.coorganizers and p.role == MeetingRole.COORGANIZER:
            j = Joiner(ParticipantType(p.type), invited=p.invited)
            listed = p.user_id in after.presenters
            p.role = rules.initial_role(j, after.who_can_present, listed_presenter=listed).value
            changed.append(p)
    await db.flush()
    if m.status != LIVE:
        return
    if (before.allow_mic_for_attendees, before.allow_camera_for_attendees) != (
        after.allow_mic_for_attendees,
        after.allow_camera_for_attendees,
    ):
        room = await load_room(db, m, None)
        for p in present:
            if p.role == MeetingRole.ATTENDEE and p.state == "in":
                await media_hooks.permissions_changed(db, room, p)
    recipients = [recipient(p) for p in present]
    await announce(db, principal, "updated", m.id, recipients, change="options")
    if changed:
        await announce(
            db,
            principal,
            "participant",
            m.id,
            [recipient(p) for p in present if p.state == "in"],
            change="role",
            participant_ids=[str(p.id) for p in changed],
        )


def caller_participant_id(principal: Principal) -> uuid.UUID | None:
    return participant_id_of(principal)
