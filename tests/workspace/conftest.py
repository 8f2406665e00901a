"""A small workspace on top of the named cast: a team "Sales" owned by olivia with mia,
sam and the guest gus, and a chat; helpers to act as someone in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from overleg.kernel.errors import OverlegError
from overleg.security.principal import Principal
from overleg.workspace import service as workspace
from overleg.workspace.schemas import MemberAdd, TeamCreate, TeamSettings
from tests.fixtures.world import World

T = TypeVar("T")
NOTHING = uuid.UUID(int=0)  # until the fixture has made the team


@dataclass
class Desk:
    """Acts as a cast member: ``await desk.as_("mia", fn, *args)`` runs ``fn(principal, db,
    *args)`` in its own transaction (rolled back when it raises, like a request)."""

    world: World
    team_id: uuid.UUID = NOTHING
    general_id: uuid.UUID = NOTHING

    def p(self, who: str) -> Principal:
        return self.world.principal(who)

    async def as_(self, who: str, fn: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        principal = self.p(who)
        async with self.world.rt.database.transaction(tenant_id=principal.tenant_id) as db:
            return await fn(principal, db, *args, **kw)

    async def fails(
        self, who: str, fn: Callable[..., Awaitable[Any]], *args: Any, **kw: Any
    ) -> OverlegError:
        with pytest.raises(OverlegError) as e:
            await self.as_(who, fn, *args, **kw)
        return e.value


@pytest.fixture
async def desk(world: World) -> Desk:
    d = Desk(world)
    team = await d.as_(
        "olivia",
        workspace.create_team,
        TeamCreate(name="Sales", privacy="private", settings=TeamSettings()),
    )
    d.team_id = team.id
    assert team.general_channel_id is not None
    d.general_id = team.general_channel_id
    for who in ("mia", "sam", "gus"):
        await d.as_("olivia", workspace.add_member, team.id, MemberAdd(user_id=world.id(who)))
    return d
