"""Realtime fixtures: a real uvicorn server on loopback in the test's event loop (so the
test can reach its gateway and runtime), WebSocket clients (the ``websockets`` library),
sessions for the cast, and events committed through the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from overleg.identity.models import User
from overleg.kernel.clock import now
from overleg.kernel.events import outbox
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.realtime.gateway import Gateway
from overleg.security.sessions import ACTIVE, start_session
from tests.fixtures.redis import redis_server
from tests.fixtures.world import World

__all__ = ["redis_server"]  # a fixture for this package's tests

#: how long a test waits for something that should happen at once (a bound, not a sleep)
WITHIN = 10.0


@dataclass
class Node:
    """One Overleg server (app + gateway) on 127.0.0.1."""

    rt: Runtime
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/events"

    @property
    def gateway(self) -> Gateway:
        gw = self.rt.gateway
        assert isinstance(gw, Gateway), "the node's gateway is not running"
        return gw

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.http, timeout=WITHIN)

    def socket(
        self,
        token: str | None = None,
        *,
        ticket: str | None = None,
        last_event_id: int | str | None = None,
        origin: str | None = "same",
        query: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """``async with node.socket(token) as ws``: a client socket, session cookie ``token``
        and/or ``ticket``; ``origin="same"`` sends this node's own origin; ``query`` is
        added to the URL as it is."""
        params = [query] if query else []
        if ticket is not None:
            params.append(f"ticket={ticket}")
        if last_event_id is not None:
            params.append(f"last_event_id={last_event_id}")
        url = self.ws + ("?" + "&".join(params) if params else "")
        headers = {}
        if token is not None:
            headers["Cookie"] = f"overleg_session={token}"
        return connect(
            url,
            additional_headers=headers,
            origin=self.http if origin == "same" else origin,  # type: ignore[arg-type]
            open_timeout=WITHIN,
            **kwargs,
        )


@contextlib.asynccontextmanager
async def serving(rt: Runtime) -> AsyncIterator[Node]:
    """Serve ``create_app(rt)`` with uvicorn in this event loop until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(rt, check_schema=False),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(WITHIN):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield Node(rt, port)
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def node(rt: Runtime, world: World) -> AsyncIterator[Node]:
    async with serving(rt) as n:
        yield n


async def token_for(world: World, name: str) -> str:
    """A live, fully signed-in session of ``name``; returns its token."""
    headers = await world.session_headers(name)
    return headers["Authorization"].removeprefix("Bearer ")


async def session_of(rt: Runtime, tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        user = await db.get(User, user_id)
        assert user is not None
        token, _ = await start_session(
            db, user, state=ACTIVE, ip="203.0.113.10", user_agent="pytest", mfa_at=now()
        )
    return token


async def emit(
    rt: Runtime,
    tenant_id: uuid.UUID,
    recipients: Iterable[uuid.UUID],
    type: str = "message.created",
    **data: Any,
) -> None:
    """Commit one event through the outbox."""
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        await outbox.emit(db, tenant_id=tenant_id, type=type, payload=data, recipients=recipients)


async def receive(ws: ClientConnection, *, within: float = WITHIN) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), within)
    msg: dict[str, Any] = json.loads(raw)
    return msg


async def receive_event(ws: ClientConnection, *, within: float = WITHIN) -> dict[str, Any]:
    """The next message that is not presence or typing chatter."""
    while True:
        msg = await receive(ws, within=within)
        if msg["type"] not in ("presence", "typing"):
            return msg


async def head(rt: Runtime, tenant_id: uuid.UUID) -> int:
    async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
        return (await outbox.heads(db, [tenant_id]))[tenant_id]
