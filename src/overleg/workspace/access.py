"""Load a team or channel AND establish the caller's relation to it.

Something the caller may not see is answered exactly like something missing (404), and
that denial is audited. Tenant isolation is done lower down by the session's scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.errors import NotFound
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied
from overleg.security.principal import Principal
from overleg.workspace.models import Channel, ChannelMember, ChannelModerator, Team, TeamMember
from overleg.workspace.rules import Moderation, NewPostPolicy, ReplyPolicy, TeamRole, is_moderator


@dataclass(frozen=True)
class TeamAccess:
    team: Team
    role: TeamRole | None  # None: not a member (a public team the caller may discover)

    @property
    def is_owner(self) -> bool:
        return self.role is TeamRole.OWNER


@dataclass(frozen=True)
class ChannelAccess:
    channel: Channel
    team: Team
    role: TeamRole  # the caller's team role
    channel_role: str | None  # private channels: "owner" | "member"
    listed_moderator: bool
    #: private channels: the caller reads from this moment (None: all history)
    history_from: datetime | None = None

    @property
    def moderator(self) -> bool:
        return is_moderator(self.role, self.listed_moderator)

    @property
    def moderation(self) -> Moderation:
        return moderation_of(self.channel)

    @property
    def writable(self) -> bool:
        return self.channel.archived_at is None and self.team.archived_at is None


def moderation_of(c: Channel) -> Moderation:
    if c.is_general or c.kind == "private":
        return Moderation()
    return Moderation(
        NewPostPolicy(c.new_post_policy),
        ReplyPolicy(c.reply_policy),
        c.allow_bots,
        c.allow_connectors,
    )


async def team_role(db: AsyncSession, team_id: uuid.UUID, user_id: uuid.UUID) -> TeamRole | None:
    role = await db.scalar(
        select(TeamMember.role).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )
    return TeamRole(role) if role else None


async def access_team(
    principal: Principal, db: AsyncSession, team_id: uuid.UUID, *, action: str, members_only: bool
) -> TeamAccess:
    """The team and the caller's role. Non-members see only public teams (and guests none),
    and only where ``members_only`` is False (discover, join)."""
    authorize(principal, Action.WORKSPACE_USE)
    team = await db.get(Team, team_id)
    role = await team_role(db, team_id, principal.user_id) if team and principal.user_id else None
    if team is None or team.deleted_at is not None:
        raise not_found_denied(principal, action, "team", str(team_id))
    discoverable = not members_only and team.privacy == "public" and not principal.is_guest
    if role is None and not discoverable:
        raise not_found_denied(principal, action, "team", str(team_id))
    return TeamAccess(team, role)


async def access_channel(
    principal: Principal, db: AsyncSession, channel_id: uuid.UUID, *, action: str
) -> ChannelAccess:
    """The channel, its team and the caller's relation. Only team members see standard
    channels, only the channel's members see a private channel."""
    authorize(principal, Action.WORKSPACE_USE)
    channel = await db.get(Channel, channel_id)
    if channel is None or channel.deleted_at is not None or principal.user_id is None:
        raise not_found_denied(principal, action, "channel", str(channel_id))
    team = await db.get(Team, channel.team_id)
    role = await team_role(db, channel.team_id, principal.user_id)
    if team is None or team.deleted_at is not None or role is None:
        raise not_found_denied(principal, action, "channel", str(channel_id))
    channel_role, history_from = None, None
    if channel.kind == "private":
        member = await db.get(ChannelMember, (channel.id, principal.user_id))
        if member is None:
            raise not_found_denied(principal, action, "channel", str(channel_id))
        channel_role, history_from = member.role, member.history_from
    listed = await db.get(ChannelModerator, (channel.id, principal.user_id)) is not None
    return ChannelAccess(channel, team, role, channel_role, listed, history_from)


async def channel_state(db: AsyncSession, channel_id: uuid.UUID) -> str:
    """The channel's state, whoever asks: ``deleted`` (it or its team, or gone),
    ``archived`` (it or its team) or ``active``. For what people reach without being in
    the channel (a file shared from it)."""
    channel = await db.get(Channel, channel_id)
    team = await db.get(Team, channel.team_id) if channel is not None else None
    if channel is None or team is None:
        return "deleted"
    if channel.deleted_at is not None or team.deleted_at is not None:
        return "deleted"
    if channel.archived_at is not None or team.archived_at is not None:
        return "archived"
    return "active"


async def channel_audience(db: AsyncSession, channel: Channel) -> list[uuid.UUID]:
    """Everyone who may read the channel: its members (private) or the team's members."""
    if channel.kind == "private":
        rows = await db.scalars(
            select(ChannelMember.user_id).where(ChannelMember.channel_id == channel.id)
        )
    else:
        rows = await db.scalars(
            select(TeamMember.user_id).where(TeamMember.team_id == channel.team_id)
        )
    return list(rows)


async def require_channel(db: AsyncSession, channel_id: uuid.UUID) -> Channel:
    c = await db.get(Channel, channel_id)
    if c is None:
        raise NotFound(f"No channel with id {channel_id}.")
    return c
