"""Meeting options: read them, and change them as the organizer (or a co-organizer once
the meeting has started).

Who may change what (as in Teams):

- the organizer, any time until the meeting is cancelled or ended;
- co-organizers only once the meeting has started (``Meeting.started_at``), and never the
  list of co-organizers itself;
- anyone else who sees the meeting gets an audited 403, anyone who does not an audited 404.

Validation (422 naming the field; nothing changes): co-organizers are at most
``MAX_COORGANIZERS`` invitees with a member account here (not guests, not the organizer);
presenters are invitees with an account here; ``allow_chat`` cannot be turned on while
the organizer's policy has ``allow_meeting_chat`` off. ``apply_update`` is the pure rule;
scheduling uses it for the options given when a meeting is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity import service as identity
from overleg.kernel.errors import Conflict, Forbidden, ValidationFailed
from overleg.meetings import room
from overleg.meetings.access import LIVE, access_meeting, options_of
from overleg.meetings.events import announce, recipient
from overleg.meetings.models import Meeting, MeetingInvitee
from overleg.meetings.policy import policy_for
from overleg.meetings.schemas import MAX_COORGANIZERS, MeetingOptions, MeetingOptionsUpdate
from overleg.policy.schemas import MeetingPolicySettings
from overleg.security.authz.enforce import refuse
from overleg.security.principal import Principal

#: participant states of people in the meeting or waiting to get in


def _invalid(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {reason}", extra={"field": field})


def _unique(ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


def defaults(policy: MeetingPolicySettings) -> MeetingOptions:
    """A new meeting's options: the defaults of the organizer's policy (chat off when the
    policy allows no meeting chat)."""
    return MeetingOptions(
        lobby_bypass=policy.lobby_bypass,
        dial_in_bypass=policy.dial_in_bypass,
        who_can_present=policy.who_can_present,
        allow_chat=policy.allow_meeting_chat,
    )


def apply_update(
    current: MeetingOptions,
    update: MeetingOptionsUpdate,
    *,
    organizer_id: uuid.UUID,
    invited_accounts: Mapping[uuid.UUID, str],
    allow_meeting_chat: bool,
) -> MeetingOptions:
    """``current`` with the fields ``update`` gives, or ValidationFailed naming the field.

    ``invited_accounts``: the meeting's invitees with an active account here, mapped to the
    account's kind ("member" or "guest"). Pure: no I/O. Repeated ids collapse.
    """
    changes = update.model_dump(exclude_none=True)
    if "coorganizers" in changes:
        co = _unique(update.coorganizers or [])
        if len(co) > MAX_COORGANIZERS:
            raise _invalid("coorganizers", f"at most {MAX_COORGANIZERS} co-organizers")
        for uid in co:
            if uid == organizer_id:
                raise _invalid("coorganizers", f"{uid} is the organizer")
            kind = invited_accounts.get(uid)
            if kind is None:
                raise _invalid("coorganizers", f"{uid} is not an invitee with an account here")
            if kind != "member":
                raise _invalid("coorganizers", f"{uid} is a guest; guests cannot co-organize")
        changes["coorganizers"] = co
    if "presenters" in changes:
        presenters = _unique(update.presenters or [])
        for uid in presenters:
            if uid not in invited_accounts:
                raise _invalid("presenters", f"{uid} is not an invitee with an account here")
        changes["presenters"] = presenters
    if update.allow_chat and not allow_meeting_chat:
        raise _invalid(
            "allow_chat",
            "the organizer's meeting policy (allow_meeting_chat) does not allow meeting chat",
        )
    return current.model_copy(update=changes)


async def invited_accounts(db: AsyncSession, m: Meeting) -> dict[uuid.UUID, str]:
    """The meeting's invitees with an active account here (for a channel meeting, also the
    channel's members), mapped to the account's kind."""
    rows = await db.scalars(
        select(MeetingInvitee.user_id).where(
            MeetingInvitee.meeting_id == m.id, MeetingInvitee.user_id.is_not(None)
        )
    )
    ids = {u for u in rows if u is not None}
    if m.channel_id is not None:
        ids |= set(await channel_members(db, m.channel_id))
    return await account_kinds(db, ids)


async def account_kinds(db: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The active accounts among ``ids``, mapped to their kind ("member" or "guest")."""
    wanted = set(ids)
    active = await identity.active_ids(db, wanted)
    return {uid: p.kind for uid, p in (await identity.people(db, active)).items()}


async def channel_members(db: AsyncSession, channel_id: uuid.UUID) -> list[uuid.UUID]:
    # imported here: workspace is a sibling domain, needed for channel meetings only
    from overleg.workspace.service import channel_member_ids

    return await channel_member_ids(db, channel_id)


async def options_changed(
    principal: Principal, db: AsyncSession, m: Meeting, before: MeetingOptions
) -> None:
    """``m.options`` changed (and is stored): the room applies it to the people in the
    meeting or its lobby and tells them; the organizer and the co-organizers (gained or
    lost) who are not there hear it too, so their view of the meeting follows."""
    await room.after_options_change(principal, db, m, before)
    there = {recipient(p) for p in await room.people(db, m.id, "in", "lobby")}
    concerned = {m.organizer_id, *before.coorganizers, *options_of(m).coorganizers}
    audience = concerned - there - {principal.user_id}
    if audience:
        await announce(db, principal, "updated", m.id, audience, change="options")


async def get_options(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> MeetingOptions:
    """The options in force, for anyone who sees the meeting (participants included)."""
    m = await access_meeting(principal, db, meeting_id, action="meeting.options.read")
    return options_of(m)


async def update_options(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, data: MeetingOptionsUpdate
) -> MeetingOptions:
    """Change some options (see the module docs for who may, and the checks). Audited as
    "meeting.options" with the options before and after."""
    action = "meeting.options"
    m = await access_meeting(principal, db, meeting_id, action=action)
    before = options_of(m)
    uid = principal.user_id
    organizer = uid is not None and uid == m.organizer_id
    coorganizer = uid is not None and uid in before.coorganizers

    def denied(reason: str) -> Forbidden:
        return refuse(principal, action, reason, target_type="meeting", target_id=str(m.id))

    if not (organizer or coorganizer):
        raise denied("only the organizer and co-organizers do this")
    if not organizer:
        if m.started_at is None:
            raise denied("co-organizers can change options once the meeting has started")
        if data.coorganizers is not None and _unique(data.coorganizers) != before.coorganizers:
            raise denied("only the organizer changes the co-organizers")
    if m.status != LIVE:
        raise Conflict(f"The meeting is {m.status}: its options no longer change.")
    if not data.model_dump(exclude_none=True):
        raise ValidationFailed("Nothing to change: give at least one option.")
    policy = await policy_for(db, m.organizer_id)
    after = apply_update(
        before,
        data,
        organizer_id=m.organizer_id,
        invited_accounts=await invited_accounts(db, m),
        allow_meeting_chat=policy.allow_meeting_chat,
    )
    m.options = after.model_dump(mode="json")
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=m.id,
        details={
            "before": before.model_dump(mode="json"),
            "after": after.model_dump(mode="json"),
            "changed": sorted(
                k for k in MeetingOptions.model_fields if getattr(after, k) != getattr(before, k)
            ),
        },
    )
    await options_changed(principal, db, m, before)
    return after


__all__ = [
    "account_kinds",
    "apply_update",
    "defaults",
    "get_options",
    "invited_accounts",
    "options_changed",
    "update_options",
]
