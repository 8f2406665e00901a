"""Recordings to watch: a ready recording of a scheduled meeting and one of a channel
meeting, each with real sealed files in the object store (``factory``), and helpers to ask
for them over HTTP as anyone of the cast (the ``hall`` of tests/meetings/conftest.py).

The scheduled meeting: olivia organizes, sam started the recording, mia and the guest gus
are invited; hank (a member) is not. The channel meeting: in the General channel of a team
that hank owns, with olivia, mia, sam and the guest gus as members; olivia organizes it and
sam started the recording; uma is not in the team.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from overleg.audit.models import AuditRecord
from overleg.kernel.clock import now
from tests.meetings.conftest import Hall
from tests.meetings.recordings.factory import Made, make_recording


@dataclass
class Scene:
    hall: Hall
    rec: Made
    meeting: dict[str, Any]

    @property
    def path(self) -> str:
        return f"/api/v1/recordings/{self.rec.id}"

    def file(self, file_id: uuid.UUID | None = None, *, download: bool = False) -> str:
        fid = file_id or self.rec.video_id
        return f"{self.path}/files/{fid}" + ("/download" if download else "")

    async def call(
        self, who: str, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """As ``who``, with ``headers`` added to their session's."""
        return await self.hall.call(
            {**await self.hall.h(who), **(headers or {})}, method, path, **kw
        )

    async def listed(self, who: str) -> str:
        """ "listed", "not listed" (the meeting is answered, without it) or the status."""
        r = await self.call(who, "GET", f"/api/v1/meetings/{self.meeting['id']}/recordings")
        if r.status_code != 200:
            return str(r.status_code)
        return "listed" if str(self.rec.id) in [x["id"] for x in r.json()] else "not listed"

    async def answers(self, who: str) -> tuple[str, int, int, int]:
        """What ``who`` gets: the list, the details, watching and downloading the video."""
        detail = await self.call(who, "GET", self.path)
        stream = await self.call(who, "GET", self.file())
        down = await self.call(who, "GET", self.file(download=True))
        if stream.status_code == 200:
            assert stream.content == self.rec.files[self.rec.video_id]
        return await self.listed(who), detail.status_code, stream.status_code, down.status_code

    async def grant(self, who: str, allowed: bool, *, by: str = "olivia") -> httpx.Response:
        uid = self.hall.world.id(who)
        return await self.call(by, "PUT", f"{self.path}/access/{uid}", json={"allowed": allowed})

    async def audit(self, action: str, *, outcome: str | None = None) -> list[AuditRecord]:
        """Audit records of contoso about this recording (``action``; all outcomes)."""
        w = self.hall.world
        async with w.rt.database.transaction(tenant_id=w.tenant_of("olivia")) as db:
            q = select(AuditRecord).where(
                AuditRecord.action == action, AuditRecord.target_id == str(self.rec.id)
            )
            if outcome is not None:
                q = q.where(AuditRecord.outcome == outcome)
            return list((await db.scalars(q.order_by(AuditRecord.seq))).all())


def problem(r: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    if kind is not None:
        assert body["type"].endswith("/" + kind), body
    return body


async def scheduled_scene(hall: Hall, **kw: Any) -> Scene:
    w = hall.world
    meeting = await hall.schedule("olivia", invite=("sam", "mia", "gus"))
    rec = await make_recording(
        w.rt,
        w.tenant_of("olivia"),
        uuid.UUID(meeting["id"]),
        organizer_id=w.id("olivia"),
        started_by=w.id("sam"),
        people=(("Olivia", w.id("olivia")), ("Mia", w.id("mia"))),
        **kw,
    )
    return Scene(hall, rec, meeting)


async def channel_scene(hall: Hall) -> Scene:
    w = hall.world
    r = await hall.call("hank", "POST", "/api/v1/teams", json={"name": "Ops"})
    assert r.status_code == 201, r.text
    team = r.json()
    for who in ("olivia", "mia", "sam", "gus"):
        r = await hall.call(
            "hank", "POST", f"/api/v1/teams/{team['id']}/members", json={"user_id": str(w.id(who))}
        )
        assert r.status_code == 201, r.text
    channel = team["general_channel_id"]
    start = now() + timedelta(hours=1)
    body = {
        "subject": "Ops sync",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }
    r = await hall.call("olivia", "POST", f"/api/v1/channels/{channel}/meetings", json=body)
    assert r.status_code == 201, r.text
    meeting = r.json()
    rec = await make_recording(
        w.rt,
        w.tenant_of("olivia"),
        uuid.UUID(meeting["id"]),
        organizer_id=w.id("olivia"),
        started_by=w.id("sam"),
        channel_id=uuid.UUID(channel),
        subject="Ops sync",
    )
    return Scene(hall, rec, meeting)


@pytest.fixture
async def scheduled(hall: Hall) -> Scene:
    return await scheduled_scene(hall)


@pytest.fixture
async def channel(hall: Hall) -> Scene:
    return await channel_scene(hall)
