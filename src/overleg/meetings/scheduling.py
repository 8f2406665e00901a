"""Scheduling meetings: create (scheduled, in a channel, "meet now"), list, read, update,
cancel; and the view of a meeting each caller gets.

Each use case takes ``(principal, db, ...)``, authorizes, changes, audits and queues its
events in the caller's transaction.

Rules:

- Organizing needs ``Action.MEETING_CREATE`` (members, not guests). Times must carry a
  time zone, start before they end, and span at most ``MAX_LENGTH``.
- Invitees are accounts of the organisation (by id, which must be an active account, or by
  the e-mail address of one) or plain e-mail addresses (guests elsewhere, federated people,
  anyone), stored lower case. Repeats collapse; the organizer is never their own invitee.
- A channel meeting's invitees are the channel's members, as they are at any moment
  (no rows are stored for them: someone who leaves the team is no longer invited).
- Only the organizer updates or cancels; others who see the meeting get an audited 403.
  A cancelled or ended meeting changes no more (409). Each update and the cancellation
  bump the iCalendar ``sequence``.
- Who sees what of a meeting: the invitation link (which makes whoever opens it signed in
  count as invited) goes to the organizer and co-organizers, and to invitees while the
  organizer allows forwarding; the dial-in numbers go to the organizer, co-organizers,
  invitees and channel members. Others who see the meeting (past participants) get the
  bare join link only.
- Listing shows the meetings the caller organizes, co-organizes or is invited to (by
  account, by e-mail address or as a member of the channel), cancelled ones only when
  asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, ValidationFailed
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import runtime_of
from overleg.meetings import room
from overleg.meetings import secrets as meeting_secrets
from overleg.meetings.access import LIVE, access_meeting, is_invited, options_of
from overleg.meetings.events import announce, recipient
from overleg.meetings.models import Meeting, MeetingInvitee
from overleg.meetings.options import (
    account_kinds,
    apply_update,
    channel_members,
    defaults,
    options_changed,
)
from overleg.meetings.policy import policy_for
from overleg.meetings.rules import MeetingRole
from overleg.meetings.schemas import (
    MAX_INVITEES,
    ChannelMeetingCreate,
    DialInInfo,
    InstantMeetingCreate,
    InviteeIn,
    InviteePublic,
    JoinRequest,
    MeetingCreate,
    MeetingOptionsUpdate,
    MeetingPublic,
    MeetingUpdate,
    PersonRef,
)
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, refuse
from overleg.security.principal import Principal

MAX_LENGTH = timedelta(days=7)
INSTANT_LENGTH = timedelta(hours=1)
KINDS = ("scheduled", "channel", "instant")


def _invalid(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {reason}", extra={"field": field})


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise _invalid(name, "give a time zone (for example 2030-01-07T09:00:00+01:00)")


def _check_times(starts_at: datetime, ends_at: datetime, *, blame: str = "ends_at") -> None:
    """Both aware; a 422 naming ``blame`` unless the meeting ends after it starts and
    lasts at most ``MAX_LENGTH``."""
    _aware(starts_at, "starts_at")
    _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise _invalid(blame, "the meeting must end after it starts")
    if ends_at - starts_at > MAX_LENGTH:
        raise _invalid(blame, f"a meeting lasts at most {MAX_LENGTH.days} days")


# --- invitees ---------------------------------------------------------------------------


@dataclass
class _Invitees:
    """Invitees resolved against the organisation's accounts."""

    user_ids: list[uuid.UUID] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    def add_user(self, uid: uuid.UUID) -> None:
        if uid not in self.user_ids:
            self.user_ids.append(uid)

    def add_email(self, email: str) -> None:
        if email not in self.emails:
            self.emails.append(email)

    def __len__(self) -> int:
        return len(self.user_ids) + len(self.emails)


async def _resolve(
    db: AsyncSession, given: Sequence[InviteeIn], *, organizer_id: uuid.UUID, field: str
) -> _Invitees:
    """Accounts by id must be active accounts here (else 422 naming ``field``); an address
    of an active account here becomes that account; other addresses stay addresses."""
    out = _Invitees()
    ids = [i.user_id for i in given if i.user_id is not None]
    active = await identity.active_ids(db, ids)
    for i in given:
        if i.user_id is not None:
            if i.user_id not in active:
                raise _invalid(field, f"no active account with id {i.user_id} here")
            uid = i.user_id
        else:
            assert i.email is not None
            email = i.email.strip().lower()
            person = await identity.person_by_email(db, email)
            if person is None:
                out.add_email(email)
                continue
            uid = person.id
        if uid != organizer_id:
            out.add_user(uid)
    return out


async def _invitee_rows(db: AsyncSession, meeting_id: uuid.UUID) -> list[MeetingInvitee]:
    rows = await db.scalars(
        select(MeetingInvitee)
        .where(MeetingInvitee.meeting_id == meeting_id)
        .order_by(MeetingInvitee.added_at, MeetingInvitee.id)
    )
    return list(rows)


def _store_invitees(db: AsyncSession, principal: Principal, m: Meeting, inv: _Invitees) -> None:
    t = now()
    for uid in inv.user_ids:
        db.add(
            MeetingInvitee(tenant_id=principal.tenant_id, meeting_id=m.id, user_id=uid, added_at=t)
        )
    for email in inv.emails:
        db.add(
            MeetingInvitee(tenant_id=principal.tenant_id, meeting_id=m.id, email=email, added_at=t)
        )


async def _invited_user_ids(db: AsyncSession, m: Meeting) -> set[uuid.UUID]:
    """Accounts invited: by a row, or (channel meetings) as members of the channel."""
    ids = {r.user_id for r in await _invitee_rows(db, m.id) if r.user_id is not None}
    if m.channel_id is not None:
        ids |= set(await channel_members(db, m.channel_id))
    return ids


# --- the view ---------------------------------------------------------------------------


def join_url(db: AsyncSession, m: Meeting) -> str:
    base = runtime_of(db).settings.public_base_url or ""
    return f"{base.rstrip('/')}/meet/{m.join_code}"


@dataclass(frozen=True)
class Relation:
    """How the caller stands to a meeting they see."""

    role: MeetingRole | None  # organizer, coorganizer or None
    invited: bool  # by a row (account or address) or as a member of the channel

    @property
    def organizes(self) -> bool:
        return self.role is not None


async def relation(principal: Principal, db: AsyncSession, m: Meeting) -> Relation:
    """The caller's role and whether they are invited (people reached by a participant
    credential are neither)."""
    uid = principal.user_id
    role: MeetingRole | None = None
    if uid is not None and uid == m.organizer_id:
        role = MeetingRole.ORGANIZER
    elif uid is not None and uid in options_of(m).coorganizers:
        role = MeetingRole.COORGANIZER
    invited = False
    if uid is not None:
        invited = await is_invited(db, m.id, user_id=uid, email=principal.label)
        if not invited and m.channel_id is not None:
            invited = uid in set(await channel_members(db, m.channel_id))
    return Relation(role, invited)


def invitation_url(m: Meeting, url: str, rel: Relation) -> str | None:
    """The link with the invitation key, for those who may pass it on (module docs)."""
    if rel.organizes or (rel.invited and m.allow_forwarding):
        return f"{url}?invitation={m.invite_key}"
    return None


async def dial_in(db: AsyncSession, m: Meeting, rel: Relation) -> DialInInfo | None:
    """The conference id and PIN, for organizers and invitees (channel members included)."""
    if rel.organizes or rel.invited:
        return DialInInfo(conference_id=m.conference_id, pin=await meeting_secrets.open_pin(db, m))
    return None


async def meeting_public(principal: Principal, db: AsyncSession, m: Meeting) -> MeetingPublic:
    """``m`` as the caller may see it (the caller is known to see ``m``)."""
    rel = await relation(principal, db, m)
    rows = await _invitee_rows(db, m.id)
    people = await identity.people(
        db, [m.organizer_id, *(r.user_id for r in rows if r.user_id is not None)]
    )
    organizer = people.get(m.organizer_id)
    url = join_url(db, m)
    invitees = []
    for r in rows:
        person = people.get(r.user_id) if r.user_id is not None else None
        invitees.append(
            InviteePublic(
                user_id=r.user_id,
                email=person.email if person else r.email,
                display_name=person.display_name if person else None,
                forwarded=r.forwarded,
            )
        )
    return MeetingPublic(
        id=m.id,
        kind=m.kind,
        subject=m.subject,
        starts_at=m.starts_at,
        ends_at=m.ends_at,
        organizer=PersonRef(
            id=m.organizer_id,
            display_name=organizer.display_name if organizer else "(former account)",
        ),
        channel_id=m.channel_id,
        status=m.status,
        started=m.started_at is not None,
        allow_forwarding=m.allow_forwarding,
        join_url=url,
        invitation_url=invitation_url(m, url, rel),
        dial_in=await dial_in(db, m, rel),
        options=options_of(m),
        invitees=invitees,
        my_role=rel.role,
    )


# --- creating ---------------------------------------------------------------------------


async def _create(
    principal: Principal,
    db: AsyncSession,
    *,
    kind: str,
    subject: str,
    starts_at: datetime,
    ends_at: datetime,
    invitees: Sequence[InviteeIn],
    allow_forwarding: bool,
    options: MeetingOptionsUpdate | None,
    channel_id: uuid.UUID | None = None,
) -> Meeting:
    """Validate, store, audit "meeting.create" and tell the invitees. Authorized by the
    caller."""
    assert principal.user_id is not None and kind in KINDS
    organizer_id = principal.user_id
    _check_times(starts_at, ends_at)
    inv = await _resolve(db, invitees, organizer_id=organizer_id, field="invitees")
    if channel_id is not None:
        accounts = await channel_members(db, channel_id)
    else:
        accounts = list(inv.user_ids)
    kinds = await account_kinds(db, accounts)
    policy = await policy_for(db, organizer_id)
    opts = defaults(policy)
    if options is not None:
        opts = apply_update(
            opts,
            options,
            organizer_id=organizer_id,
            invited_accounts=kinds,
            allow_meeting_chat=policy.allow_meeting_chat,
        )
    m = Meeting(
        # the id is needed before the first flush: the sealed PIN is bound to it
        id=new_id(),
        tenant_id=principal.tenant_id,
        join_code=meeting_secrets.new_join_code(),
        invite_key=meeting_secrets.new_invite_key(),
        conference_id=await meeting_secrets.new_conference_id(db),
        pin_enc=b"",
        kind=kind,
        subject=subject,
        starts_at=starts_at.astimezone(UTC),
        ends_at=ends_at.astimezone(UTC),
        organizer_id=organizer_id,
        channel_id=channel_id,
        allow_forwarding=allow_forwarding,
        sequence=0,
        options=opts.model_dump(mode="json"),
        status=LIVE,
    )
    m.pin_enc = await meeting_secrets.seal_pin(db, m, meeting_secrets.new_pin())
    db.add(m)
    await db.flush()
    _store_invitees(db, principal, m, inv)
    await db.flush()
    await record(
        principal,
        db,
        "meeting.create",
        target_type="meeting",
        target_id=m.id,
        details={
            "kind": kind,
            "subject": subject,
            "starts_at": m.starts_at.isoformat(),
            "ends_at": m.ends_at.isoformat(),
            "channel_id": str(channel_id) if channel_id else None,
            "invitees": [str(u) for u in inv.user_ids] + inv.emails,
            "allow_forwarding": allow_forwarding,
            "options": opts.model_dump(mode="json"),
        },
    )
    audience = set(accounts) - {organizer_id}
    if audience:
        await announce(db, principal, "updated", m.id, audience, change="invited")
    return m


async def create_meeting(
    principal: Principal, db: AsyncSession, data: MeetingCreate
) -> MeetingPublic:
    """Schedule a meeting; the caller organizes it. Options start from the organizer's
    meeting policy, then ``data.options`` applies (validated as in ``update_options``)."""
    authorize(principal, Action.MEETING_CREATE)
    m = await _create(
        principal,
        db,
        kind="scheduled",
        subject=data.subject,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        invitees=data.invitees,
        allow_forwarding=data.allow_forwarding,
        options=data.options,
    )
    return await meeting_public(principal, db, m)


async def create_channel_meeting(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, data: ChannelMeetingCreate
) -> MeetingPublic:
    """A meeting in a channel the caller may post in (404 when not visible, 409 when
    archived); the channel's members are its invitees."""
    authorize(principal, Action.MEETING_CREATE)
    # imported here: workspace is a sibling domain, needed for channel meetings only
    from overleg.workspace.service import channel_for_meeting

    ca = await channel_for_meeting(principal, db, channel_id)
    m = await _create(
        principal,
        db,
        kind="channel",
        subject=data.subject,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        invitees=[],
        allow_forwarding=data.allow_forwarding,
        options=data.options,
        channel_id=ca.channel.id,
    )
    return await meeting_public(principal, db, m)


async def meet_now(
    principal: Principal, db: AsyncSession, data: InstantMeetingCreate
) -> MeetingPublic:
    """A meeting that starts now and is booked for ``INSTANT_LENGTH``; the caller joins it
    at once (so it has started)."""
    authorize(principal, Action.MEETING_CREATE)
    t = now()
    m = await _create(
        principal,
        db,
        kind="instant",
        subject=data.subject,
        starts_at=t,
        ends_at=t + INSTANT_LENGTH,
        invitees=data.invitees,
        allow_forwarding=True,
        options=data.options,
    )
    await room.join(principal, db, m.join_code, JoinRequest())
    return await meeting_public(principal, db, m)


# --- reading ----------------------------------------------------------------------------


async def list_meetings(
    principal: Principal,
    db: AsyncSession,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    include_cancelled: bool = False,
) -> list[MeetingPublic]:
    """Meetings the caller organizes, co-organizes or is invited to (by account, e-mail
    address or channel membership) that overlap ``[start, end)`` (each bound optional),
    ordered by start. Cancelled meetings only with ``include_cancelled``."""
    authorize(principal, Action.MEETING_JOIN)
    uid = principal.user_id
    assert uid is not None
    _aware(start, "start")
    _aware(end, "end")
    if start is not None and end is not None and end <= start:
        raise _invalid("end", "must be after start")
    invited = select(MeetingInvitee.meeting_id).where(
        or_(MeetingInvitee.user_id == uid, MeetingInvitee.email == principal.label.lower())
    )
    stmt = select(Meeting).where(
        or_(
            Meeting.organizer_id == uid,
            Meeting.id.in_(invited),
            Meeting.channel_id.is_not(None),
            # co-organizers are kept in the options (JSON); narrowed exactly below
            cast(Meeting.options, String).contains(str(uid)),
        )
    )
    if start is not None:
        stmt = stmt.where(Meeting.ends_at > start)
    if end is not None:
        stmt = stmt.where(Meeting.starts_at < end)
    if not include_cancelled:
        stmt = stmt.where(Meeting.status != "cancelled")
    rows = (await db.scalars(stmt.order_by(Meeting.starts_at, Meeting.id))).all()
    invited_ids = set(await db.scalars(invited))
    member_of: dict[uuid.UUID, bool] = {}
    out = []
    for m in rows:
        mine = m.organizer_id == uid or m.id in invited_ids or uid in options_of(m).coorganizers
        if not mine and m.channel_id is not None:
            if m.channel_id not in member_of:
                member_of[m.channel_id] = uid in set(await channel_members(db, m.channel_id))
            mine = member_of[m.channel_id]
        if mine:
            out.append(await meeting_public(principal, db, m))
    return out


async def get_meeting(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> MeetingPublic:
    """The meeting, for whoever sees it (audited 404 for anyone else)."""
    m = await access_meeting(principal, db, meeting_id, action="meeting.read")
    return await meeting_public(principal, db, m)


# --- changing ---------------------------------------------------------------------------


async def _as_organizer(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, action: str
) -> Meeting:
    """The meeting, if the caller organizes it: 404 when not visible, 403 when visible but
    not theirs (both audited), 409 when cancelled or ended."""
    m = await access_meeting(principal, db, meeting_id, action=action)
    if principal.user_id is None or principal.user_id != m.organizer_id:
        raise refuse(
            principal,
            action,
            "only the organizer does this",
            target_type="meeting",
            target_id=str(m.id),
        )
    if m.status != LIVE:
        raise Conflict(f"The meeting is {m.status}.")
    return m


async def _removals(
    db: AsyncSession, rows: Sequence[MeetingInvitee], given: Sequence[InviteeIn]
) -> list[MeetingInvitee]:
    """The invitee rows ``given`` names (an address of an account here names the account);
    422 naming ``remove_invitees`` for anyone not invited."""
    by_user = {r.user_id: r for r in rows if r.user_id is not None}
    by_email = {r.email: r for r in rows if r.email is not None}
    out: dict[uuid.UUID, MeetingInvitee] = {}
    for i in given:
        found: MeetingInvitee | None = None
        if i.user_id is not None:
            found = by_user.get(i.user_id)
            label = str(i.user_id)
        else:
            assert i.email is not None
            label = i.email.strip().lower()
            found = by_email.get(label)
            if found is None:
                person = await identity.person_by_email(db, label)
                found = by_user.get(person.id) if person else None
        if found is None:
            raise _invalid("remove_invitees", f"{label} is not invited")
        out[found.id] = found
    return list(out.values())


async def update_meeting(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, data: MeetingUpdate
) -> MeetingPublic:
    """Change subject, times, forwarding and invitees (organizer only; module docs).

    Removed invitees also leave the co-organizers and presenters. Audited as
    "meeting.update" with what changed; invitees with an account and the people in the
    meeting hear "updated", removed invitees "uninvited".
    """
    action = "meeting.update"
    m = await _as_organizer(principal, db, meeting_id, action)
    if not data.model_dump(exclude_none=True, exclude_defaults=True):
        raise ValidationFailed("Nothing to change: give at least one field.")
    starts_at = data.starts_at or m.starts_at
    ends_at = data.ends_at or m.ends_at
    if data.starts_at is not None or data.ends_at is not None:
        _aware(data.starts_at, "starts_at")
        _aware(data.ends_at, "ends_at")
        _check_times(starts_at, ends_at, blame="ends_at" if data.ends_at else "starts_at")
    changed: dict[str, dict[str, Any]] = {}

    def change(name: str, before: Any, after: Any) -> None:
        if before != after:
            changed[name] = {"before": before, "after": after}

    # validate everything first: a 422 must leave the meeting as it was
    rows = await _invitee_rows(db, m.id)
    gone = await _removals(db, rows, data.remove_invitees)
    new = await _resolve(db, data.add_invitees, organizer_id=m.organizer_id, field="add_invitees")
    gone_ids = {r.id for r in gone}
    kept = [r for r in rows if r.id not in gone_ids]
    have_users = {r.user_id for r in kept if r.user_id is not None}
    have_emails = {r.email for r in kept if r.email is not None}
    removed_users = {r.user_id for r in gone if r.user_id is not None}
    removed_emails = {r.email for r in gone if r.email is not None}
    if removed_users & set(new.user_ids) or removed_emails & set(new.emails):
        raise _invalid("add_invitees", "someone is both added and removed")
    added = _Invitees(
        [u for u in new.user_ids if u not in have_users],
        [e for e in new.emails if e not in have_emails],
    )
    if len(kept) + len(added) > MAX_INVITEES:
        raise _invalid("add_invitees", f"a meeting has at most {MAX_INVITEES} invitees")

    if data.subject is not None:
        change("subject", m.subject, data.subject)
        m.subject = data.subject
    if data.starts_at is not None or data.ends_at is not None:
        change("starts_at", m.starts_at.isoformat(), starts_at.astimezone(UTC).isoformat())
        change("ends_at", m.ends_at.isoformat(), ends_at.astimezone(UTC).isoformat())
        m.starts_at, m.ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    if data.allow_forwarding is not None:
        change("allow_forwarding", m.allow_forwarding, data.allow_forwarding)
        m.allow_forwarding = data.allow_forwarding
    if gone:
        for r in gone:
            await db.delete(r)
        changed["uninvited"] = {"after": [str(r.user_id or r.email) for r in gone]}
    if added:
        _store_invitees(db, principal, m, added)
        changed["invited"] = {"after": [str(u) for u in added.user_ids] + added.emails}
    # co-organizers and presenters are chosen among the invitees: removed ones go
    before_opts = options_of(m)
    if removed_users:
        opts = before_opts.model_copy(
            update={
                "coorganizers": [u for u in before_opts.coorganizers if u not in removed_users],
                "presenters": [u for u in before_opts.presenters if u not in removed_users],
            }
        )
        if opts != before_opts:
            m.options = opts.model_dump(mode="json")
            change("options", before_opts.model_dump(mode="json"), opts.model_dump(mode="json"))
    m.sequence += 1
    await db.flush()
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=m.id,
        details={"sequence": m.sequence, "changed": changed},
    )
    if "options" in changed:
        await options_changed(principal, db, m, before_opts)
    audience = await _invited_user_ids(db, m)
    audience |= {recipient(p) for p in await room.people(db, m.id, "in", "lobby")}
    audience -= {m.organizer_id}
    if audience:
        await announce(
            db, principal, "updated", m.id, audience, change="updated", fields=sorted(changed)
        )
    gone_audience = removed_users - {m.organizer_id}
    if gone_audience:
        await announce(db, principal, "updated", m.id, gone_audience, change="uninvited")
    return await meeting_public(principal, db, m)


async def cancel_meeting(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> MeetingPublic:
    """Cancel (organizer only): it ends for everyone in it or waiting, and nobody joins
    again. A second cancel is a 409. Audited as "meeting.cancel"."""
    action = "meeting.cancel"
    m = await _as_organizer(principal, db, meeting_id, action)
    if await room.people(db, m.id, "in", "lobby"):
        await room.end_for_all(principal, db, m, reason="cancelled")
    m.status = "cancelled"
    m.ended_at = m.ended_at or now()
    m.ended_by = m.ended_by or principal.label
    m.sequence += 1
    await db.flush()
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=m.id,
        details={"sequence": m.sequence, "subject": m.subject},
    )
    audience = (await _invited_user_ids(db, m) | set(options_of(m).coorganizers)) - {m.organizer_id}
    if audience:
        await announce(db, principal, "updated", m.id, audience, change="cancelled")
    return await meeting_public(principal, db, m)


__all__ = [
    "MAX_LENGTH",
    "cancel_meeting",
    "create_channel_meeting",
    "create_meeting",
    "get_meeting",
    "join_url",
    "list_meetings",
    "meet_now",
    "meeting_public",
    "relation",
    "update_meeting",
]
