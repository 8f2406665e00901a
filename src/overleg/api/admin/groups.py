"""Groups: static membership, or dynamic by an attribute rule."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from overleg.api.deps import CurrentPrincipal, Db
from overleg.identity import service
from overleg.identity.schemas import GroupCreate, GroupMemberAdd, GroupPublic, UserPublic

router = APIRouter(prefix="/api/admin/groups", tags=["admin: groups"])


@router.get("", response_model=list[GroupPublic])
async def list_groups(p: CurrentPrincipal, db: Db) -> list[GroupPublic]:
    return await service.list_groups(p, db)


@router.post("", response_model=GroupPublic, status_code=201)
async def create_group(body: GroupCreate, p: CurrentPrincipal, db: Db) -> GroupPublic:
    return await service.create_group(p, db, body)


@router.delete("/{group_id}", status_code=204)
async def delete_group(group_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await service.delete_group(p, db, group_id)


@router.get("/{group_id}/members", response_model=list[UserPublic])
async def members(group_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[UserPublic]:
    return await service.group_members(p, db, group_id)


@router.post("/{group_id}/members", status_code=204)
async def add_member(
    group_id: uuid.UUID, body: GroupMemberAdd, p: CurrentPrincipal, db: Db
) -> None:
    await service.add_group_member(p, db, group_id, body.user_id)


@router.delete("/{group_id}/members/{user_id}", status_code=204)
async def remove_member(
    group_id: uuid.UUID, user_id: uuid.UUID, p: CurrentPrincipal, db: Db
) -> None:
    await service.remove_group_member(p, db, group_id, user_id)
