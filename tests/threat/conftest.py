"""Alerts: a ``Queue`` that raises alerts as a job would (``raise_alert`` in a transaction
of the tenant) and calls the alert routes as cast members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from overleg.threat.service import raise_alert
from tests.fixtures.world import World

ALERTS = "/api/admin/alerts"
FAILED = "recording.processing_failed"


@dataclass
class Queue:
    world: World
    client: httpx.AsyncClient
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    async def h(self, who: str) -> dict[str, str]:
        """A live session of cast member ``who`` (made once per test)."""
        if who not in self._headers:
            self._headers[who] = await self.world.session_headers(who)
        return self._headers[who]

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=await self.h(who), **kw)

    async def raise_(
        self,
        *,
        tenant: str = "contoso",
        kind: str = FAILED,
        severity: str = "medium",
        target_id: str | uuid.UUID | None = None,
        target_type: str | None = "recording",
        **kw: Any,
    ) -> uuid.UUID:
        """Raise an alert as a job would, in a committed transaction of ``tenant``."""
        tenant_id = self.world.tenants[tenant].id
        async with self.world.rt.database.transaction(tenant_id=tenant_id) as db:
            return await raise_alert(
                db,
                tenant_id=tenant_id,
                kind=kind,
                severity=severity,  # type: ignore[arg-type]
                title=kw.pop("title", "A recording could not be processed"),
                target_type=target_type,
                target_id=target_id if target_id is not None else uuid.uuid4(),
                **kw,
            )

    async def resolve(self, who: str, alert_id: uuid.UUID, note: str = "done") -> httpx.Response:
        return await self.call(
            who, "POST", f"{ALERTS}/{alert_id}/resolve", json={"resolution": note}
        )

    async def listed(self, who: str, **query: Any) -> list[dict[str, Any]]:
        r = await self.call(who, "GET", ALERTS, params=query)
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()
        return out


@pytest.fixture
async def queue(world: World, client: httpx.AsyncClient) -> Queue:
    return Queue(world, client)
