"""Meetings over HTTP: a ``Hall`` that schedules meetings, joins people (signed in, from
another organisation, anonymous) and calls meeting routes as them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from overleg.kernel.clock import now
from tests.fixtures.world import World

Joined = dict[str, Any]


@dataclass
class Hall:
    world: World
    client: httpx.AsyncClient
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    async def h(self, who: str) -> dict[str, str]:
        """A live session of cast member ``who`` (made once per test)."""
        if who not in self._headers:
            self._headers[who] = await self.world.session_headers(who)
        return self._headers[who]

    async def call(
        self, who: str | dict[str, str] | None, method: str, path: str, **kw: Any
    ) -> httpx.Response:
        """``who``: a cast member, participant headers (``as_participant``), or None."""
        headers = await self.h(who) if isinstance(who, str) else (who or {})
        return await self.client.request(method, path, headers=headers, **kw)

    async def policy(self, kind: str, body: dict[str, Any]) -> None:
        r = await self.call("olivia", "PUT", f"/api/admin/policies/{kind}", json=body)
        assert r.status_code == 200, r.text

    async def schedule(
        self,
        organizer: str = "olivia",
        *,
        invite: tuple[str, ...] = (),
        emails: tuple[str, ...] = (),
        options: dict[str, Any] | None = None,
        allow_forwarding: bool = True,
    ) -> dict[str, Any]:
        """A meeting starting in an hour; ``invite`` names cast members of the organizer's
        organisation (by account), ``emails`` anyone (by address)."""
        start = now() + timedelta(hours=1)
        invitees: list[dict[str, str]] = [{"user_id": str(self.world.id(w))} for w in invite]
        invitees += [{"email": e} for e in emails]
        body: dict[str, Any] = {
            "subject": "Weekly",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "invitees": invitees,
            "allow_forwarding": allow_forwarding,
        }
        if options:
            body["options"] = options
        r = await self.call(organizer, "POST", "/api/v1/meetings", json=body)
        assert r.status_code == 201, r.text
        meeting: dict[str, Any] = r.json()
        return meeting

    @staticmethod
    def code(meeting: dict[str, Any]) -> str:
        return str(meeting["join_url"]).rsplit("/", 1)[-1]

    async def join_raw(
        self,
        who: str | None,
        meeting: dict[str, Any],
        *,
        name: str | None = None,
        invitation: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {}
        if name is not None:
            body["display_name"] = name
        if invitation is not None:
            body["invitation"] = invitation
        return await self.call(
            who, "POST", f"/api/v1/meetings/join/{self.code(meeting)}", json=body
        )

    async def join(self, who: str | None, meeting: dict[str, Any], **kw: Any) -> Joined:
        """Join as cast member ``who`` (None: anonymous, give ``name``); the JoinResult."""
        r = await self.join_raw(who, meeting, **kw)
        assert r.status_code == 200, r.text
        joined: Joined = r.json()
        return joined

    def as_participant(self, joined: Joined) -> dict[str, str]:
        """Headers of someone who joined with a participant credential."""
        assert joined["token"], joined
        return {"Authorization": f"Bearer {joined['token']}"}

    async def room(self, who: str | dict[str, str], meeting_id: str) -> dict[str, Any]:
        r = await self.call(who, "GET", f"/api/v1/meetings/{meeting_id}/room")
        assert r.status_code == 200, r.text
        view: dict[str, Any] = r.json()
        return view


@pytest.fixture
async def hall(world: World, client: httpx.AsyncClient) -> Hall:
    return Hall(world, client)
