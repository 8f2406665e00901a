"""Load a recording AND establish what the caller may do with it (``rules``).

A recording the caller may not even see is answered exactly like a missing one (404), and
that denial is audited; one they see but may not use as asked is a 403 (audited too).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.errors import Conflict, NotFound
from overleg.meetings.access import is_invited
from overleg.meetings.models import Recording, RecordingAccess
from overleg.meetings.recordings.rules import (
    Need,
    RecordingState,
    Rights,
    Setting,
    Viewer,
    rights,
)
from overleg.policy.schemas import RecordingPolicy
from overleg.policy.service import effective
from overleg.security.authz.enforce import not_found_denied, refuse
from overleg.security.principal import Principal, PrincipalKind


async def recording_policy(db: AsyncSession) -> RecordingPolicy:
    return await effective(db, RecordingPolicy, "recordings")


def setting_of(policy: RecordingPolicy) -> Setting:
    return Setting(policy.allow_download, policy.channel_recordings_view_only)


async def team_owner(db: AsyncSession, channel_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """``user_id`` owns the team of ``channel_id`` (a channel that still exists)."""
    # imported here: workspace is a sibling domain, needed for channel recordings only
    from overleg.workspace.access import require_channel, team_role
    from overleg.workspace.rules import TeamRole

    try:
        channel = await require_channel(db, channel_id)
    except NotFound:
        return False
    if channel.deleted_at is not None:
        return False
    return await team_role(db, channel.team_id, user_id) is TeamRole.OWNER


async def in_channel(db: AsyncSession, channel_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    from overleg.workspace.service import channel_member_ids

    return user_id in set(await channel_member_ids(db, channel_id))


async def grant_of(db: AsyncSession, recording_id: uuid.UUID, user_id: uuid.UUID) -> bool | None:
    allowed: bool | None = await db.scalar(
        select(RecordingAccess.allowed).where(
            RecordingAccess.recording_id == recording_id, RecordingAccess.user_id == user_id
        )
    )
    return allowed


def is_owner(rec: Recording, user_id: uuid.UUID) -> bool:
    return user_id in (rec.organizer_id, rec.started_by_user_id)


async def has_full_rights(db: AsyncSession, rec: Recording, user_id: uuid.UUID) -> bool:
    """Owner, or owner of the channel's team: nobody may take access away from them."""
    if is_owner(rec, user_id):
        return True
    return rec.channel_id is not None and await team_owner(db, rec.channel_id, user_id)


async def viewer(principal: Principal, db: AsyncSession, rec: Recording) -> Viewer | None:
    """The facts about the caller (None: not a signed-in account of the tenant)."""
    uid = principal.user_id
    if principal.kind is not PrincipalKind.USER or uid is None:
        return None
    channel = rec.channel_id
    return Viewer(
        owner=is_owner(rec, uid),
        team_owner=channel is not None and await team_owner(db, channel, uid),
        invitee=await is_invited(db, rec.meeting_id, user_id=uid, email=principal.label),
        channel_member=channel is not None and await in_channel(db, channel, uid),
        guest=principal.is_guest,
        grant=await grant_of(db, rec.id, uid),
    )


async def rights_of(
    principal: Principal, db: AsyncSession, rec: Recording, policy: RecordingPolicy | None = None
) -> Rights:
    v = await viewer(principal, db, rec)
    if v is None:
        return Rights()
    policy = policy or await recording_policy(db)
    return rights(
        v, RecordingState(rec.state), setting_of(policy), channel=rec.channel_id is not None
    )


async def access_recording(
    principal: Principal, db: AsyncSession, recording_id: uuid.UUID, *, action: str, need: Need
) -> tuple[Recording, Rights]:
    """The recording and the caller's rights, if they may see it (else an audited 404).

    403 (audited) when they see it but lack ``need``; 409 when they may watch it but it has
    nothing to watch (recycled, still processing, failed, purged).
    """
    rec = await db.get(Recording, recording_id)
    got = await rights_of(principal, db, rec) if rec is not None else Rights()
    if rec is None or not got.listed:
        raise not_found_denied(principal, action, "recording", str(recording_id))
    if got.has(need):
        return rec, got
    # a recording that is not ready is listed to its owners only: the state is the reason
    if need in (Need.VIEW, Need.DOWNLOAD) and rec.state != RecordingState.READY:
        raise Conflict(f"The recording is {rec.state}: there is nothing to play.")
    if need is Need.MANAGE and rec.state == RecordingState.PURGED:
        raise Conflict("The recording is purged: nothing of it is left to manage.")
    if need is Need.DOWNLOAD and got.view:
        reason = got.no_download
    elif need is Need.MANAGE:
        reason = "only the recording's owners manage it"
    else:
        reason = f"you may not {need.value} this recording"
    raise refuse(principal, action, reason, target_type="recording", target_id=str(rec.id))
