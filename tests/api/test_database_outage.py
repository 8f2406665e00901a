"""A database outage: requests get 503 problem+json and nothing is half written; when the
database is back, the same request succeeds once.

A small TCP proxy stands between the app and PostgreSQL so the test can cut the line.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from overleg.audit.models import AuditRecord
from overleg.bootstrap import build_runtime
from overleg.identity.models import User
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from tests.api.conftest import count_rows, problem
from tests.conftest import test_settings as settings_for  # (not collected as a test)
from tests.fixtures.world import build_world


class Proxy:
    """Forwards 127.0.0.1:<port> to the database; ``cut`` drops every connection and
    refuses new ones until ``restore``. ``cut_between(first, then)`` cuts the line when
    ``then`` is about to go to the database after ``first`` went (``then`` is not sent)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.trigger: list[bytes] = []

    def cut_between(self, first: bytes, then: bytes) -> None:
        self.trigger = [first, then]

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def restore(self) -> None:
        await self.start()  # same port again

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if up and self.trigger and self.trigger[0] in data:
                        self.trigger.pop(0)
                        if not self.trigger:  # the database "dies" before it sees this
                            await self.cut()
                            return
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))
        self.writers -= {writer, up_writer}


@pytest.fixture
def backend() -> str:
    """A network outage needs a network: this module runs on PostgreSQL only."""
    return "postgresql"


async def test_a_mutating_request_during_an_outage_gets_503_and_writes_nothing(
    rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    url = make_url(database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    # without cached prepared statements every statement's text passes the proxy
    proxied = url.set(
        host="127.0.0.1", port=proxy.port, query={"prepared_statement_cache_size": "0"}
    ).render_as_string(hide_password=False)
    # same data dir as ``rt`` (which emptied the database): same keys
    runtime = build_runtime(settings_for(tmp_path / "data", proxied), create=True)
    try:
        world = await build_world(runtime)
        olivia = await world.session_headers("olivia")
        app = create_app(runtime, check_schema=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
        new_user = {"email": "nina@contoso.example", "display_name": "Nina"}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/readyz")).status_code == 200
            before = await count_rows(rt, AuditRecord)

            await proxy.cut()
            r = await c.post("/api/admin/users", json=new_user, headers=olivia)
            body = problem(r, 503, "service-unavailable")
            assert "nothing was changed" in body["detail"]
            assert r.headers["retry-after"].isdigit()
            r = await c.get("/readyz")
            body = problem(r, 503, "not-ready")
            assert body["checks"]["database"].startswith("unreachable")
            # the database itself (seen directly, not through the proxy) holds nothing new
            assert await count_rows(rt, AuditRecord) == before

            # the database goes away in the middle of the transaction that writes the user
            # and its audit record, just before COMMIT
            await proxy.restore()
            proxy.cut_between(b"INSERT INTO users", b"COMMIT")
            r = await c.post("/api/admin/users", json=new_user, headers=olivia)
            problem(r, 503, "service-unavailable")
            assert proxy.server is None  # it was cut where planned
            assert await count_rows(rt, AuditRecord) == before
            assert await count_rows(rt, User) == len(world.users)

            await proxy.restore()
            r = await c.post("/api/admin/users", json=new_user, headers=olivia)
            assert r.status_code == 201, r.text
            r = await c.get("/api/admin/users", headers=olivia)
            emails = [u["email"] for u in r.json()]
            assert emails.count("nina@contoso.example") == 1
            assert (await c.get("/readyz")).status_code == 200
        async with rt.database.session(unscoped=True, readonly=True) as db:
            n = await db.scalar(
                select(func.count()).select_from(User).where(User.email == "nina@contoso.example")
            )
        assert n == 1
        assert await count_rows(rt, User) == len(world.users) + 1
    finally:
        await runtime.database.dispose()
        if proxy.server is not None:
            await proxy.cut()
