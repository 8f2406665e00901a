"""Load-and-authorize helpers. "Missing" and "not yours" give the same NotFound."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.identity.models import Group, User
from overleg.security.authz.enforce import not_found_denied
from overleg.security.authz.visibility import can_see_user
from overleg.security.principal import Principal


async def access_user(principal: Principal, db: AsyncSession, user_id: uuid.UUID) -> User:
    """The user, if it exists in the caller's tenant, is not deleted, and is visible."""
    user = await db.get(User, user_id)
    if user is None or user.status == "deleted" or not can_see_user(principal, user):
        raise not_found_denied(principal, "user.access", "user", str(user_id))
    return user


async def access_group(principal: Principal, db: AsyncSession, group_id: uuid.UUID) -> Group:
    group = await db.get(Group, group_id)
    if group is None:
        raise not_found_denied(principal, "group.access", "group", str(group_id))
    return group
