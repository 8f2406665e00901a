"""Users, their roles, status, second factors and sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from overleg.api.deps import CurrentPrincipal, Db
from overleg.identity import service
from overleg.identity.schemas import RolesUpdate, UserCreate, UserCreated, UserPublic, UserUpdate
from overleg.security import sessions
from overleg.security.sessions import SessionPublic

router = APIRouter(prefix="/api/admin", tags=["admin: users"])


@router.get("/users", response_model=list[UserPublic])
async def list_users(p: CurrentPrincipal, db: Db) -> list[UserPublic]:
    return await service.list_users(p, db)


@router.post("/users", response_model=UserCreated, status_code=201)
async def create_user(body: UserCreate, p: CurrentPrincipal, db: Db) -> UserCreated:
    """Without `password`, a one-time password is generated and returned once."""
    return await service.create_user(p, db, body)


@router.get("/users/{user_id}", response_model=UserPublic)
async def get_user(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UserPublic:
    return await service.get_user(p, db, user_id)


@router.patch("/users/{user_id}", response_model=UserPublic)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, p: CurrentPrincipal, db: Db
) -> UserPublic:
    return await service.update_user(p, db, user_id, body)


@router.put("/users/{user_id}/roles", response_model=UserPublic)
async def set_roles(
    user_id: uuid.UUID, body: RolesUpdate, p: CurrentPrincipal, db: Db
) -> UserPublic:
    return await service.set_roles(p, db, user_id, body)


@router.post("/users/{user_id}/disable", response_model=UserPublic)
async def disable_user(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UserPublic:
    """Sessions of the user end at once."""
    return await service.disable_user(p, db, user_id)


@router.post("/users/{user_id}/enable", response_model=UserPublic)
async def enable_user(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UserPublic:
    return await service.enable_user(p, db, user_id)


@router.delete("/users/{user_id}", response_model=UserPublic)
async def delete_user(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UserPublic:
    return await service.delete_user(p, db, user_id)


@router.post("/users/{user_id}/reset-mfa", response_model=UserPublic)
async def reset_mfa(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UserPublic:
    return await service.reset_mfa(p, db, user_id)


@router.post("/users/{user_id}/reset-password", response_model=UserCreated)
async def reset_password(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UserCreated:
    return await service.reset_password(p, db, user_id)


@router.get("/users/{user_id}/sessions", response_model=list[SessionPublic])
async def user_sessions(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> list[SessionPublic]:
    return await sessions.user_sessions(p, db, user_id)


@router.delete("/sessions/{session_id}", status_code=204, tags=["admin: sessions"])
async def revoke_session(session_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    await sessions.admin_revoke_session(p, db, session_id)
