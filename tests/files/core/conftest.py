"""Files over HTTP on top of the named cast: a private team "Sales" (olivia owns it; mia
and the guest gus are members; hank is not), and a ``Shelf`` that uploads in parts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from overleg.workspace import service as workspace
from overleg.workspace.schemas import MemberAdd, TeamCreate, TeamSettings
from tests.fixtures.world import World


@dataclass
class Shelf:
    world: World
    client: httpx.AsyncClient
    channel_id: uuid.UUID
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    async def h(self, who: str) -> dict[str, str]:
        if who not in self._headers:
            self._headers[who] = await self.world.session_headers(who)
        return self._headers[who]

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**(await self.h(who)), **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)

    def place(self, where: str = "channel", who: str = "mia") -> dict[str, str]:
        if where == "channel":
            return {"container_type": "channel", "container_id": str(self.channel_id)}
        return {"container_type": "user", "container_id": str(self.world.id(who))}

    async def start(self, who: str, name: str, size: int, **kw: Any) -> httpx.Response:
        body = {**self.place(kw.pop("where", "channel"), who), "name": name, "size": size, **kw}
        return await self.call(who, "POST", "/api/v1/files/uploads", json=body)

    async def put(self, who: str, upload_id: str, n: int, data: bytes) -> httpx.Response:
        return await self.call(
            who, "PUT", f"/api/v1/files/uploads/{upload_id}/parts/{n}", content=data
        )

    async def upload(self, who: str, name: str, data: bytes, **kw: Any) -> dict[str, Any]:
        """Start, send every part, complete; the file (asserting each step worked)."""
        r = await self.start(who, name, len(data), **kw)
        assert r.status_code == 201, r.text
        up = r.json()
        size = up["part_size"]
        for n in range(up["parts"]):
            r = await self.put(who, up["id"], n, data[n * size : (n + 1) * size])
            assert r.status_code == 200, r.text
        r = await self.call(who, "POST", f"/api/v1/files/uploads/{up['id']}/complete")
        assert r.status_code == 201, r.text
        made: dict[str, Any] = r.json()
        return made

    async def content(self, who: str, file_id: str, **headers: str) -> httpx.Response:
        return await self.call(who, "GET", f"/api/v1/files/{file_id}/content", headers=headers)


@pytest.fixture
async def shelf(world: World, client: httpx.AsyncClient) -> Shelf:
    olivia = world.principal("olivia")
    async with world.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        team = await workspace.create_team(
            olivia, db, TeamCreate(name="Sales", privacy="private", settings=TeamSettings())
        )
        for who in ("mia", "gus"):
            await workspace.add_member(olivia, db, team.id, MemberAdd(user_id=world.id(who)))
    assert team.general_channel_id is not None
    return Shelf(world, client, team.general_channel_id)
