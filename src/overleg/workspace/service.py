"""Workspace use cases: teams, members, channels, channel moderation.

Each takes ``(principal, db, ...)``, authorizes, changes, audits and emits events in the
caller's transaction. Relationship rules (team roles, moderation) are in ``rules``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.kernel.errors import Conflict, NotFound, ValidationFailed
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, refuse
from overleg.security.principal import Principal
from overleg.workspace import rules
from overleg.workspace.access import (
    ChannelAccess,
    TeamAccess,
    access_channel,
    access_team,
    channel_audience,
    moderation_of,
)
from overleg.workspace.events import membership_changed
from overleg.workspace.models import Channel, ChannelMember, ChannelModerator, Team, TeamMember
from overleg.workspace.rules import TeamRole
from overleg.workspace.schemas import (
    ChannelCreate,
    ChannelPublic,
    ChannelUpdate,
    MemberAdd,
    MemberRole,
    ModerationPublic,
    ModerationSettings,
    TeamCreate,
    TeamMemberPublic,
    TeamPublic,
    TeamSettings,
    TeamUpdate,
)

MAX_TEAM_MEMBERS = 25_000  # as in Teams
GENERAL = "General"


# --- views ------------------------------------------------------------------------------


def _settings(t: Team) -> TeamSettings:
    return TeamSettings(
        members_can_create_channels=t.members_can_create_channels,
        guests_can_create_channels=t.guests_can_create_channels,
        allow_team_mentions=t.allow_team_mentions,
        allow_channel_mentions=t.allow_channel_mentions,
    )


async def _general_id(db: AsyncSession, team_id: uuid.UUID) -> uuid.UUID | None:
    return await db.scalar(
        select(Channel.id).where(Channel.team_id == team_id, Channel.is_general.is_(True))
    )


async def _team_public(db: AsyncSession, t: Team, role: TeamRole | None) -> TeamPublic:
    return TeamPublic(
        id=t.id,
        name=t.name,
        description=t.description,
        privacy=t.privacy,
        created_at=t.created_at,
        archived=t.archived_at is not None,
        settings=_settings(t),
        my_role=role,
        general_channel_id=await _general_id(db, t.id) if role else None,
    )


def channel_public(c: Channel, unread: int = 0) -> ChannelPublic:
    return ChannelPublic(
        id=c.id,
        team_id=c.team_id,
        name=c.name,
        description=c.description,
        kind=c.kind,
        is_general=c.is_general,
        archived=c.archived_at is not None,
        created_at=c.created_at,
        moderation_on=moderation_of(c).on,
        unread_count=unread,
    )


def _deny(p: Principal, action: str, why: str, target_type: str, target_id: uuid.UUID) -> None:
    raise refuse(p, action, why, target_type=target_type, target_id=str(target_id))


def _require_owner(p: Principal, ta: TeamAccess, action: str) -> None:
    if not ta.is_owner:
        _deny(p, action, "only team owners do this", "team", ta.team.id)


def _require_writable_team(t: Team) -> None:
    if t.archived_at is not None:
        raise Conflict("The team is archived: unarchive it first.")


async def _members(db: AsyncSession, team_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await db.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))


async def _team_membership_changed(
    db: AsyncSession, p: Principal, team_id: uuid.UUID, user_id: uuid.UUID, change: str
) -> None:
    audience = set(await _members(db, team_id)) | {user_id}
    await membership_changed(db, p, "team", team_id, change, audience, user_id=str(user_id))


# --- teams ------------------------------------------------------------------------------


async def create_team(principal: Principal, db: AsyncSession, data: TeamCreate) -> TeamPublic:
    """The creator becomes the first owner; the team gets its General channel."""
    authorize(principal, Action.TEAM_CREATE)
    assert principal.user_id is not None
    t = Team(
        tenant_id=principal.tenant_id,
        name=data.name,
        description=data.description,
        privacy=data.privacy,
        created_by=principal.user_id,
        **data.settings.model_dump(),
    )
    db.add(t)
    await db.flush()
    db.add(
        TeamMember(
            tenant_id=principal.tenant_id,
            team_id=t.id,
            user_id=principal.user_id,
            role=TeamRole.OWNER.value,
            joined_at=now(),
        )
    )
    db.add(
        Channel(
            tenant_id=principal.tenant_id,
            team_id=t.id,
            name=GENERAL,
            kind="standard",
            is_general=True,
            created_by=principal.user_id,
        )
    )
    await db.flush()
    await record(
        principal,
        db,
        "team.create",
        target_type="team",
        target_id=t.id,
        details={"name": t.name, "privacy": t.privacy},
    )
    return await _team_public(db, t, TeamRole.OWNER)


async def my_teams(principal: Principal, db: AsyncSession) -> list[TeamPublic]:
    authorize(principal, Action.WORKSPACE_USE)
    rows = (
        await db.execute(
            select(Team, TeamMember.role)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.user_id == principal.user_id, Team.deleted_at.is_(None))
            .order_by(Team.name)
        )
    ).all()
    return [await _team_public(db, t, TeamRole(r)) for t, r in rows]


async def discover_teams(principal: Principal, db: AsyncSession) -> list[TeamPublic]:
    """Public teams of the tenant that the caller is not in (members only, not guests)."""
    authorize(principal, Action.TEAM_DISCOVER)
    mine = select(TeamMember.team_id).where(TeamMember.user_id == principal.user_id)
    rows = await db.scalars(
        select(Team)
        .where(
            Team.privacy == "public",
            Team.deleted_at.is_(None),
            Team.archived_at.is_(None),
            Team.id.not_in(mine),
        )
        .order_by(Team.name)
    )
    return [await _team_public(db, t, None) for t in rows]


async def get_team(principal: Principal, db: AsyncSession, team_id: uuid.UUID) -> TeamPublic:
    ta = await access_team(principal, db, team_id, action="team.read", members_only=False)
    return await _team_public(db, ta.team, ta.role)


async def update_team(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID, data: TeamUpdate
) -> TeamPublic:
    ta = await access_team(principal, db, team_id, action="team.update", members_only=True)
    _require_owner(principal, ta, "team.update")
    t = ta.team
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise ValidationFailed("Nothing to change: give at least one field.")
    before = {"name": t.name, "description": t.description, "privacy": t.privacy}
    before.update(_settings(t).model_dump())
    settings = changes.pop("settings", None)
    for k, v in {**changes, **(settings or {})}.items():
        setattr(t, k, v)
    after = {"name": t.name, "description": t.description, "privacy": t.privacy}
    after.update(_settings(t).model_dump())
    await record(
        principal,
        db,
        "team.update",
        target_type="team",
        target_id=t.id,
        details={"before": before, "after": after},
    )
    return await _team_public(db, t, ta.role)


async def set_team_archived(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID, archived: bool
) -> TeamPublic:
    """An archived team is read-only: its channels keep their history, nobody posts."""
    action = "team.archive" if archived else "team.unarchive"
    ta = await access_team(principal, db, team_id, action=action, members_only=True)
    _require_owner(principal, ta, action)
    ta.team.archived_at = now() if archived else None
    await record(principal, db, action, target_type="team", target_id=team_id)
    return await _team_public(db, ta.team, ta.role)


async def delete_team(principal: Principal, db: AsyncSession, team_id: uuid.UUID) -> None:
    """Soft delete: hidden at once; a purge job removes it later (retention decides when)."""
    ta = await access_team(principal, db, team_id, action="team.delete", members_only=True)
    _require_owner(principal, ta, "team.delete")
    audience = await _members(db, team_id)
    ta.team.deleted_at = now()
    await record(principal, db, "team.delete", target_type="team", target_id=team_id)
    await membership_changed(db, principal, "team", team_id, "deleted", audience)


async def join_team(principal: Principal, db: AsyncSession, team_id: uuid.UUID) -> TeamPublic:
    """Anyone in the tenant (not guests) joins a public team; private teams are by owners."""
    ta = await access_team(principal, db, team_id, action="team.join", members_only=False)
    authorize(principal, Action.TEAM_DISCOVER)
    if ta.role is not None:
        raise Conflict("You are already a member of this team.")
    _require_writable_team(ta.team)
    assert principal.user_id is not None
    await _add(db, principal, ta.team, principal.user_id, TeamRole.MEMBER)
    await record(principal, db, "team.join", target_type="team", target_id=team_id)
    await _team_membership_changed(db, principal, team_id, principal.user_id, "joined")
    return await _team_public(db, ta.team, TeamRole.MEMBER)


async def _add(db: AsyncSession, p: Principal, t: Team, user_id: uuid.UUID, role: TeamRole) -> None:
    count = await db.scalar(
        select(func.count()).select_from(TeamMember).where(TeamMember.team_id == t.id)
    )
    if (count or 0) >= MAX_TEAM_MEMBERS:
        raise Conflict(f"A team has at most {MAX_TEAM_MEMBERS} members.")
    db.add(
        TeamMember(
            tenant_id=p.tenant_id, team_id=t.id, user_id=user_id, role=role.value, joined_at=now()
        )
    )
    await db.flush()


async def _owners(db: AsyncSession, team_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await db.scalars(
            select(TeamMember.user_id).where(
                TeamMember.team_id == team_id, TeamMember.role == TeamRole.OWNER.value
            )
        )
    )


async def _remove(db: AsyncSession, team_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Take someone out of the team, its private channels and its moderator lists."""
    channels = select(Channel.id).where(Channel.team_id == team_id)
    await db.execute(
        delete(ChannelMember).where(
            ChannelMember.channel_id.in_(channels), ChannelMember.user_id == user_id
        )
    )
    await db.execute(
        delete(ChannelModerator).where(
            ChannelModerator.channel_id.in_(channels), ChannelModerator.user_id == user_id
        )
    )
    await db.execute(
        delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )


async def leave_team(principal: Principal, db: AsyncSession, team_id: uuid.UUID) -> None:
    ta = await access_team(principal, db, team_id, action="team.leave", members_only=True)
    assert principal.user_id is not None
    if ta.is_owner and await _owners(db, team_id) == [principal.user_id]:
        raise Conflict("You are the team's only owner: make someone else an owner first.")
    await _remove(db, team_id, principal.user_id)
    await record(principal, db, "team.leave", target_type="team", target_id=team_id)
    await _team_membership_changed(db, principal, team_id, principal.user_id, "left")


async def list_members(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID
) -> list[TeamMemberPublic]:
    await access_team(principal, db, team_id, action="team.members.read", members_only=True)
    rows = (
        (await db.execute(select(TeamMember).where(TeamMember.team_id == team_id))).scalars().all()
    )
    people = await identity.people(db, [m.user_id for m in rows])
    out = [
        TeamMemberPublic(
            user_id=m.user_id,
            display_name=people[m.user_id].display_name,
            email=people[m.user_id].email,
            role=TeamRole(m.role),
            joined_at=m.joined_at,
        )
        for m in rows
        if m.user_id in people
    ]
    return sorted(out, key=lambda m: (m.role != TeamRole.OWNER, m.display_name.casefold()))


async def add_member(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID, data: MemberAdd
) -> TeamMemberPublic:
    """Owners add people of the tenant. Guest accounts always join as team guests."""
    ta = await access_team(principal, db, team_id, action="team.members.add", members_only=True)
    _require_owner(principal, ta, "team.members.add")
    _require_writable_team(ta.team)
    person = (await identity.people(db, [data.user_id])).get(data.user_id)
    if person is None or data.user_id not in await identity.active_ids(db, [data.user_id]):
        raise NotFound(f"No active person with id {data.user_id}.")
    if await db.get(TeamMember, (team_id, data.user_id)) is not None:
        raise Conflict("That person is already a member of this team.")
    role = TeamRole.GUEST if person.kind == "guest" else TeamRole(data.role)
    await _add(db, principal, ta.team, data.user_id, role)
    await record(
        principal,
        db,
        "team.members.add",
        target_type="team",
        target_id=team_id,
        details={"user_id": str(data.user_id), "role": role.value},
    )
    await _team_membership_changed(db, principal, team_id, data.user_id, "added")
    m = await db.get(TeamMember, (team_id, data.user_id))
    assert m is not None
    return TeamMemberPublic(
        user_id=m.user_id,
        display_name=person.display_name,
        email=person.email,
        role=role,
        joined_at=m.joined_at,
    )


async def set_member_role(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID, user_id: uuid.UUID, data: MemberRole
) -> None:
    ta = await access_team(principal, db, team_id, action="team.members.role", members_only=True)
    _require_owner(principal, ta, "team.members.role")
    m = await db.get(TeamMember, (team_id, user_id))
    if m is None:
        raise NotFound(f"No member with id {user_id} in this team.")
    if m.role == TeamRole.GUEST.value:
        raise Conflict("Guests stay guests in a team.")
    if m.role == data.role:
        return
    if m.role == TeamRole.OWNER.value and await _owners(db, team_id) == [user_id]:
        raise Conflict("A team keeps at least one owner.")
    before, m.role = m.role, data.role
    await record(
        principal,
        db,
        "team.members.role",
        target_type="team",
        target_id=team_id,
        details={"user_id": str(user_id), "before": before, "after": data.role},
    )
    await _team_membership_changed(db, principal, team_id, user_id, f"role:{data.role}")


async def remove_member(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    ta = await access_team(principal, db, team_id, action="team.members.remove", members_only=True)
    _require_owner(principal, ta, "team.members.remove")
    m = await db.get(TeamMember, (team_id, user_id))
    if m is None:
        raise NotFound(f"No member with id {user_id} in this team.")
    if m.role == TeamRole.OWNER.value and await _owners(db, team_id) == [user_id]:
        raise Conflict("A team keeps at least one owner.")
    await _team_membership_changed(db, principal, team_id, user_id, "removed")
    await _remove(db, team_id, user_id)
    await record(
        principal,
        db,
        "team.members.remove",
        target_type="team",
        target_id=team_id,
        details={"user_id": str(user_id)},
    )


# --- channels ---------------------------------------------------------------------------


async def create_channel(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID, data: ChannelCreate
) -> ChannelPublic:
    ta = await access_team(principal, db, team_id, action="channel.create", members_only=True)
    t = ta.team
    v = rules.may_create_channel(
        ta.role,
        members_can=t.members_can_create_channels,
        guests_can=t.guests_can_create_channels,
    )
    if not v.allowed:
        _deny(principal, "channel.create", v.reason, "team", team_id)
    _require_writable_team(t)
    taken = await db.scalar(
        select(Channel.id).where(
            Channel.team_id == team_id,
            func.lower(Channel.name) == data.name.lower(),
            Channel.deleted_at.is_(None),
        )
    )
    if taken:
        raise Conflict(f"The team already has a channel named {data.name!r}.")
    assert principal.user_id is not None
    c = Channel(
        tenant_id=principal.tenant_id,
        team_id=team_id,
        name=data.name,
        description=data.description,
        kind=data.kind,
        created_by=principal.user_id,
    )
    db.add(c)
    await db.flush()
    if data.kind == "private":
        team_members = set(await _members(db, team_id))
        extra = set(data.members) - {principal.user_id}
        outside = extra - team_members
        if outside:
            raise ValidationFailed(
                "Private channel members must be team members: "
                + ", ".join(sorted(str(u) for u in outside))
            )
        db.add(_channel_member(principal, c.id, principal.user_id, "owner"))
        for uid in sorted(extra):
            db.add(_channel_member(principal, c.id, uid, "member"))
        await db.flush()
    elif data.members:
        raise ValidationFailed("Only private channels have their own member list.")
    await record(
        principal,
        db,
        "channel.create",
        target_type="channel",
        target_id=c.id,
        details={"team_id": str(team_id), "name": c.name, "kind": c.kind},
    )
    await membership_changed(
        db, principal, "channel", c.id, "created", await channel_audience(db, c)
    )
    return channel_public(c)


def _channel_member(
    p: Principal, channel_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> ChannelMember:
    return ChannelMember(
        tenant_id=p.tenant_id, channel_id=channel_id, user_id=user_id, role=role, joined_at=now()
    )


async def visible_channels(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID
) -> list[Channel]:
    """The team's channels the caller may see: standard ones, and private ones they are in."""
    await access_team(principal, db, team_id, action="channel.list", members_only=True)
    mine = select(ChannelMember.channel_id).where(ChannelMember.user_id == principal.user_id)
    rows = await db.scalars(
        select(Channel)
        .where(
            Channel.team_id == team_id,
            Channel.deleted_at.is_(None),
            (Channel.kind == "standard") | Channel.id.in_(mine),
        )
        .order_by(Channel.is_general.desc(), Channel.name)
    )
    return list(rows)


async def get_channel(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID
) -> ChannelAccess:
    return await access_channel(principal, db, channel_id, action="channel.read")


def _require_channel_manager(p: Principal, ca: ChannelAccess, action: str) -> None:
    """Team owners manage standard channels; private channel owners manage theirs."""
    ok = ca.role is TeamRole.OWNER or (ca.channel.kind == "private" and ca.channel_role == "owner")
    if not ok:
        _deny(
            p,
            action,
            "only team owners (or the private channel's owners) do this",
            "channel",
            ca.channel.id,
        )


async def update_channel(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, data: ChannelUpdate
) -> ChannelPublic:
    ca = await access_channel(principal, db, channel_id, action="channel.update")
    _require_channel_manager(principal, ca, "channel.update")
    c = ca.channel
    if c.is_general and data.name is not None:
        raise Conflict("The General channel cannot be renamed.")
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise ValidationFailed("Nothing to change: give at least one field.")
    before = {k: getattr(c, k) for k in changes}
    for k, v in changes.items():
        setattr(c, k, v)
    await db.flush()
    await record(
        principal,
        db,
        "channel.update",
        target_type="channel",
        target_id=c.id,
        details={"before": before, "after": changes},
    )
    return channel_public(c)


async def set_channel_archived(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, archived: bool
) -> ChannelPublic:
    action = "channel.archive" if archived else "channel.unarchive"
    ca = await access_channel(principal, db, channel_id, action=action)
    _require_channel_manager(principal, ca, action)
    if ca.channel.is_general:
        raise Conflict("The General channel is archived with its team, not on its own.")
    ca.channel.archived_at = now() if archived else None
    await record(principal, db, action, target_type="channel", target_id=channel_id)
    return channel_public(ca.channel)


async def delete_channel(principal: Principal, db: AsyncSession, channel_id: uuid.UUID) -> None:
    ca = await access_channel(principal, db, channel_id, action="channel.delete")
    _require_channel_manager(principal, ca, "channel.delete")
    if ca.channel.is_general:
        raise Conflict("The General channel cannot be deleted.")
    audience = await channel_audience(db, ca.channel)
    ca.channel.deleted_at = now()
    await record(principal, db, "channel.delete", target_type="channel", target_id=channel_id)
    await membership_changed(db, principal, "channel", channel_id, "deleted", audience)


async def add_channel_member(
    principal: Principal,
    db: AsyncSession,
    channel_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    share_history: bool = False,
) -> None:
    """Add a team member to a private channel. They read it from now on, or its whole
    history if the adder shares it."""
    ca = await access_channel(principal, db, channel_id, action="channel.members.add")
    if ca.channel.kind != "private":
        raise Conflict("Standard channels have the team's members; add people to the team.")
    _require_channel_manager(principal, ca, "channel.members.add")
    if user_id not in set(await _members(db, ca.team.id)):
        raise ValidationFailed("Private channel members must be team members.")
    if await db.get(ChannelMember, (channel_id, user_id)) is not None:
        raise Conflict("That person is already in this channel.")
    added = _channel_member(principal, channel_id, user_id, "member")
    added.history_from = None if share_history else added.joined_at
    db.add(added)
    await db.flush()
    await record(
        principal,
        db,
        "channel.members.add",
        target_type="channel",
        target_id=channel_id,
        details={"user_id": str(user_id), "share_history": share_history},
    )
    await membership_changed(
        db,
        principal,
        "channel",
        channel_id,
        "added",
        await channel_audience(db, ca.channel),
        user_id=str(user_id),
    )


async def remove_channel_member(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    ca = await access_channel(principal, db, channel_id, action="channel.members.remove")
    if ca.channel.kind != "private":
        raise Conflict("Standard channels have the team's members; remove people from the team.")
    if user_id != principal.user_id:
        _require_channel_manager(principal, ca, "channel.members.remove")
    m = await db.get(ChannelMember, (channel_id, user_id))
    if m is None:
        raise NotFound(f"No member with id {user_id} in this channel.")
    owners = list(
        await db.scalars(
            select(ChannelMember.user_id).where(
                ChannelMember.channel_id == channel_id, ChannelMember.role == "owner"
            )
        )
    )
    if m.role == "owner" and owners == [user_id]:
        raise Conflict("A private channel keeps at least one owner.")
    audience = await channel_audience(db, ca.channel)
    await db.delete(m)
    await record(
        principal,
        db,
        "channel.members.remove",
        target_type="channel",
        target_id=channel_id,
        details={"user_id": str(user_id)},
    )
    await membership_changed(
        db, principal, "channel", channel_id, "removed", audience, user_id=str(user_id)
    )


# --- moderation -------------------------------------------------------------------------


def _moderatable(ca: ChannelAccess) -> None:
    if ca.channel.is_general or ca.channel.kind == "private":
        raise Conflict("Moderation is for standard channels other than General.")


async def _moderation_public(db: AsyncSession, c: Channel) -> ModerationPublic:
    m = moderation_of(c)
    listed = await db.scalars(
        select(ChannelModerator.user_id).where(ChannelModerator.channel_id == c.id)
    )
    return ModerationPublic(
        new_post_policy=m.new_post_policy,
        reply_policy=m.reply_policy,
        allow_bots=m.allow_bots,
        allow_connectors=m.allow_connectors,
        moderation_on=m.on,
        moderators=sorted(listed),
        owners=sorted(await _owners(db, c.team_id)),
    )


async def get_moderation(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID
) -> ModerationPublic:
    """Members may read the settings."""
    ca = await access_channel(principal, db, channel_id, action="channel.moderation.read")
    _moderatable(ca)
    return await _moderation_public(db, ca.channel)


async def set_moderation(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, data: ModerationSettings
) -> ModerationPublic:
    ca = await access_channel(principal, db, channel_id, action="channel.moderation.update")
    _moderatable(ca)
    v = rules.may_change_moderation(ca.role)
    if not v.allowed:
        _deny(principal, "channel.moderation.update", v.reason, "channel", channel_id)
    c = ca.channel
    before = ModerationSettings(
        new_post_policy=rules.NewPostPolicy(c.new_post_policy),
        reply_policy=rules.ReplyPolicy(c.reply_policy),
        allow_bots=c.allow_bots,
        allow_connectors=c.allow_connectors,
    ).model_dump(mode="json")
    for k, val in data.model_dump().items():
        setattr(c, k, val.value if hasattr(val, "value") else val)
    await record(
        principal,
        db,
        "channel.moderation.update",
        target_type="channel",
        target_id=channel_id,
        details={"before": before, "after": data.model_dump(mode="json")},
    )
    return await _moderation_public(db, c)


async def add_moderator(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, user_id: uuid.UUID
) -> ModerationPublic:
    ca = await access_channel(principal, db, channel_id, action="channel.moderators.add")
    _moderatable(ca)
    v = rules.may_manage_moderators(ca.role, moderator=ca.listed_moderator)
    if not v.allowed:
        _deny(principal, "channel.moderators.add", v.reason, "channel", channel_id)
    role = await db.scalar(
        select(TeamMember.role).where(
            TeamMember.team_id == ca.team.id, TeamMember.user_id == user_id
        )
    )
    if role is None:
        raise ValidationFailed("Moderators must be members of the team.")
    if role == TeamRole.OWNER.value:
        raise Conflict("Team owners are always moderators.")
    if await db.get(ChannelModerator, (channel_id, user_id)) is None:
        db.add(
            ChannelModerator(tenant_id=principal.tenant_id, channel_id=channel_id, user_id=user_id)
        )
        await db.flush()
        await record(
            principal,
            db,
            "channel.moderators.add",
            target_type="channel",
            target_id=channel_id,
            details={"user_id": str(user_id)},
        )
    return await _moderation_public(db, ca.channel)


async def remove_moderator(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, user_id: uuid.UUID
) -> ModerationPublic:
    ca = await access_channel(principal, db, channel_id, action="channel.moderators.remove")
    _moderatable(ca)
    v = rules.may_manage_moderators(ca.role, moderator=ca.listed_moderator)
    if not v.allowed:
        _deny(principal, "channel.moderators.remove", v.reason, "channel", channel_id)
    if user_id in await _owners(db, ca.team.id):
        raise Conflict("Team owners are always moderators and cannot be removed as such.")
    m = await db.get(ChannelModerator, (channel_id, user_id))
    if m is None:
        raise NotFound(f"{user_id} is not a moderator of this channel.")
    await db.delete(m)
    await record(
        principal,
        db,
        "channel.moderators.remove",
        target_type="channel",
        target_id=channel_id,
        details={"user_id": str(user_id)},
    )
    return await _moderation_public(db, ca.channel)


# --- purge ------------------------------------------------------------------------------

#: deleted teams can be restored by support for this long before a purge removes them
#: (Microsoft 365 keeps a deleted team's group for 30 days)
PURGE_AFTER = timedelta(days=30)


async def purge_deleted_teams(
    principal: Principal, db: AsyncSession, *, older_than: timedelta = PURGE_AFTER
) -> list[uuid.UUID]:
    """Remove teams soft-deleted more than ``older_than`` ago, with their channels,
    messages, message versions, reactions and search postings. For jobs and the operator
    (``overleg teams purge``); retention policies and legal holds will gate this later.
    Returns the purged team ids."""
    authorize(principal, Action.WORKSPACE_PURGE)
    from overleg.messaging.models import ChannelReadState, Message  # all of the team goes
    from overleg.search import index as search_index

    cutoff = now() - older_than
    teams = list(
        await db.scalars(select(Team).where(Team.deleted_at.is_not(None), Team.deleted_at < cutoff))
    )
    for t in teams:
        channel_ids = list(await db.scalars(select(Channel.id).where(Channel.team_id == t.id)))
        message_ids = list(
            await db.scalars(
                select(Message.id).where(
                    Message.container_type == "channel", Message.container_id.in_(channel_ids)
                )
            )
        )
        for mid in message_ids:
            await search_index.remove_message(db, t.tenant_id, mid)
        await db.execute(delete(Message).where(Message.id.in_(message_ids)))
        await db.execute(
            delete(ChannelReadState).where(ChannelReadState.channel_id.in_(channel_ids))
        )
        await db.execute(delete(Team).where(Team.id == t.id))  # channels, members cascade
        await record(
            principal,
            db,
            "team.purge",
            target_type="team",
            target_id=t.id,
            details={"channels": len(channel_ids), "messages": len(message_ids)},
        )
    return [t.id for t in teams]


# --- for other domains ------------------------------------------------------------------


async def channel_member_ids(db: AsyncSession, channel_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone who may read ``channel_id`` (none for a missing or deleted channel). For
    meetings in a channel; no authorization: callers decide what the list is used for."""
    c = await db.get(Channel, channel_id)
    if c is None or c.deleted_at is not None:
        return []
    return await channel_audience(db, c)


async def channel_for_meeting(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID
) -> ChannelAccess:
    """The channel, if the caller may post in it (a channel meeting is a post there);
    404 (audited) when not visible, 403 when archived."""
    ca = await access_channel(principal, db, channel_id, action="meeting.create")
    if not ca.writable:
        raise Conflict("The channel is archived.")
    return ca
