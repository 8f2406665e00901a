"""Teams and their members. Channels of a team are created and listed here too."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from overleg.api.deps import CurrentPrincipal, Db
from overleg.messaging import service as messaging
from overleg.workspace import service
from overleg.workspace.schemas import (
    ChannelCreate,
    ChannelPublic,
    MemberAdd,
    MemberRole,
    TeamCreate,
    TeamMemberPublic,
    TeamPublic,
    TeamUpdate,
)

router = APIRouter(prefix="/api/v1/teams", tags=["teams"])


@router.get("", response_model=list[TeamPublic], summary="The teams I am in")
async def my_teams(p: CurrentPrincipal, db: Db) -> list[TeamPublic]:
    return await service.my_teams(p, db)


@router.get("/discover", response_model=list[TeamPublic], summary="Public teams I can join")
async def discover(p: CurrentPrincipal, db: Db) -> list[TeamPublic]:
    return await service.discover_teams(p, db)


@router.post("", response_model=TeamPublic, status_code=201)
async def create_team(body: TeamCreate, p: CurrentPrincipal, db: Db) -> TeamPublic:
    """Create a team; the caller becomes its owner and it gets a General channel."""
    return await service.create_team(p, db, body)


@router.get("/{team_id}", response_model=TeamPublic)
async def get_team(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> TeamPublic:
    return await service.get_team(p, db, team_id)


@router.patch("/{team_id}", response_model=TeamPublic, summary="Rename, describe, settings")
async def update_team(
    team_id: uuid.UUID, body: TeamUpdate, p: CurrentPrincipal, db: Db
) -> TeamPublic:
    return await service.update_team(p, db, team_id, body)


@router.post("/{team_id}/archive", response_model=TeamPublic)
async def archive(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> TeamPublic:
    return await service.set_team_archived(p, db, team_id, True)


@router.post("/{team_id}/unarchive", response_model=TeamPublic)
async def unarchive(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> TeamPublic:
    return await service.set_team_archived(p, db, team_id, False)


@router.delete("/{team_id}", status_code=204)
async def delete_team(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await service.delete_team(p, db, team_id)


@router.post("/{team_id}/join", response_model=TeamPublic, summary="Join a public team")
async def join(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> TeamPublic:
    return await service.join_team(p, db, team_id)


@router.post("/{team_id}/leave", status_code=204)
async def leave(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await service.leave_team(p, db, team_id)


@router.get("/{team_id}/members", response_model=list[TeamMemberPublic])
async def members(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[TeamMemberPublic]:
    return await service.list_members(p, db, team_id)


@router.post("/{team_id}/members", response_model=TeamMemberPublic, status_code=201)
async def add_member(
    team_id: uuid.UUID, body: MemberAdd, p: CurrentPrincipal, db: Db
) -> TeamMemberPublic:
    return await service.add_member(p, db, team_id, body)


@router.put("/{team_id}/members/{user_id}/role", status_code=204)
async def set_role(
    team_id: uuid.UUID, user_id: uuid.UUID, body: MemberRole, p: CurrentPrincipal, db: Db
) -> None:
    await service.set_member_role(p, db, team_id, user_id, body)


@router.delete("/{team_id}/members/{user_id}", status_code=204)
async def remove_member(
    team_id: uuid.UUID, user_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> None:
    await service.remove_member(p, db, team_id, user_id)


@router.get("/{team_id}/channels", response_model=list[ChannelPublic])
async def channels(team_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[ChannelPublic]:
    """The channels I can see, with my unread counts."""
    return await messaging.team_channels(p, db, team_id)


@router.post("/{team_id}/channels", response_model=ChannelPublic, status_code=201)
async def create_channel(
    team_id: uuid.UUID, body: ChannelCreate, p: CurrentPrincipal, db: Db
) -> ChannelPublic:
    return await service.create_channel(p, db, team_id, body)
