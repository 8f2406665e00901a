"""Helpers for the sharing and managing tests, on top of the files ``Shelf`` (a private
team "Sales" of olivia's with mia and the guest gus in it; hank, sam and the admins are
not): files in a chosen scan state, the files policy, links used without a session, the
audit records of a file, and the parts in the object store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from overleg.audit.models import AuditRecord
from overleg.files.models import FileItem, FileVersion
from tests.files.core.conftest import Shelf

PART = 128 * 1024  # tests/conftest.py: files_part_bytes


def text(size: int, marker: bytes = b"figures") -> bytes:
    line = marker + b": the plain text of a report, line after line.\n"
    return (line * (size // len(line) + 1))[:size]


@dataclass
class Desk:
    shelf: Shelf

    @property
    def rt(self) -> Any:
        return self.shelf.world.rt

    @property
    def contoso(self) -> uuid.UUID:
        return self.shelf.world.tenant_of("olivia")

    def id(self, who: str) -> uuid.UUID:
        return self.shelf.world.id(who)

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.shelf.call(who, method, path, **kw)

    async def file(
        self,
        who: str = "mia",
        name: str = "report.txt",
        data: bytes | None = None,
        *,
        state: str = "clean",
        **where: Any,
    ) -> dict[str, Any]:
        """An uploaded file, its scan state set as the scan job would have set it."""
        made = await self.shelf.upload(who, name, data if data is not None else text(1000), **where)
        if state != "scan_pending":
            await self.set_state(made["id"], state)
            made["state"] = state
        return made

    async def set_state(self, file_id: str, state: str) -> None:
        async with self.rt.database.transaction(tenant_id=self.contoso) as db:
            f = await db.get(FileItem, uuid.UUID(file_id))
            assert f is not None and f.current_version_id is not None
            v = await db.get(FileVersion, f.current_version_id)
            assert v is not None
            v.scan_state = f.state = state

    async def policy(self, **body: Any) -> None:
        r = await self.call("olivia", "PUT", "/api/admin/policies/files", json=body)
        assert r.status_code == 200, r.text

    async def anon(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A request without a session."""
        return await self.shelf.client.request(method, path, **kw)

    async def link(self, who: str, file_id: str, **body: Any) -> dict[str, Any]:
        r = await self.call(who, "POST", f"/api/v1/files/{file_id}/links", json=body)
        assert r.status_code == 201, r.text
        made: dict[str, Any] = r.json()
        return made

    async def share(self, who: str, file_id: str, to: str, role: str = "view") -> httpx.Response:
        return await self.call(
            who, "PUT", f"/api/v1/files/{file_id}/shares/{self.id(to)}", json={"role": role}
        )

    async def audit(
        self, action: str, *, target: str | None = None, outcome: str | None = None
    ) -> list[AuditRecord]:
        async with self.rt.database.transaction(tenant_id=self.contoso) as db:
            q = select(AuditRecord).where(AuditRecord.action == action)
            if target is not None:
                q = q.where(AuditRecord.target_id == target)
            if outcome is not None:
                q = q.where(AuditRecord.outcome == outcome)
            return list((await db.scalars(q.order_by(AuditRecord.seq))).all())

    def stored(self) -> list[Path]:
        """The objects in the local object store (sealed parts)."""
        root = Path(self.rt.settings.storage_dir or "")
        return sorted(p for p in root.rglob("*") if p.is_file())

    def parts_of(self, blob_id: uuid.UUID) -> list[Path]:
        return [p for p in self.stored() if p.parent.name == str(blob_id)]


def problem(r: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    if kind is not None:
        assert body["type"].endswith("/" + kind), body
    return body


@pytest.fixture
def desk(shelf: Shelf) -> Desk:
    return Desk(shelf)
