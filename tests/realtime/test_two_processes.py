"""Two real server processes (``python -m uvicorn`` serving ``create_app``) sharing one
PostgreSQL database and one Redis (the test's own): a ticket from node A opens a socket on
node B, once; a change made through node A reaches sockets on node B, as a stored event
and as a presence change. The outbox poll is off in the children, so what crosses went
through Redis.

(Not ``overleg serve``: it checks the schema in a loop of its own before uvicorn starts,
and on PostgreSQL the pooled connection from that loop then fails in uvicorn's.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from overleg.bootstrap import build_runtime
from overleg.kernel.runtime import Runtime
from tests.conftest import MASTER_KEY, _truncate_all
from tests.conftest import test_settings as settings_for_test
from tests.e2e.server import Install, Server
from tests.fixtures.redis import RedisServer
from tests.fixtures.world import World, build_world
from tests.realtime.conftest import WITHIN, receive, token_for

#: the checkout, whose ``tests`` package the children import the app factory from
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
async def world_on_postgres(postgres_ready: str, tmp_path: Path) -> AsyncIterator[World]:
    await _truncate_all(postgres_ready)
    rt: Runtime = build_runtime(settings_for_test(tmp_path / "data", postgres_ready), create=True)
    try:
        yield await build_world(rt)
    finally:
        await rt.database.dispose()


@pytest.fixture
def servers(
    world_on_postgres: World,
    postgres_ready: str,
    redis_server: RedisServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Server, Server]]:
    """Node A and node B: the test's data directory (its keyring), database and Redis."""
    installs: list[Install] = []
    while len(installs) < 2:
        site = Install.create(tmp_path, request)
        if all(site.port != other.port for other in installs):
            installs.append(site)
    for site in installs:
        site.env.update(
            {
                "OVERLEG_DATABASE_URL": postgres_ready,
                "OVERLEG_MASTER_KEY": MASTER_KEY,
                "OVERLEG_REDIS_URL": redis_server.url,
                "OVERLEG_EVENTS_POLL_SECONDS": "3600",
            }
        )
    started = [_start(site) for site in installs]  # both at once: they start in parallel
    try:
        for server in started:
            with server.reporting():
                server.wait_ready()
        a, b = started
        with a.reporting(), b.reporting():
            yield a, b
    finally:
        for server in started:
            server.stop()


def _start(site: Install) -> Server:
    """``python -m uvicorn --factory tests.realtime.node_app:app`` in ``site``."""
    out_path, err_path = site.home / f"node-{site.port}.out", site.home / f"node-{site.port}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "tests.realtime.node_app:app",
                "--app-dir",
                str(REPOSITORY),
                "--host",
                "127.0.0.1",
                "--port",
                str(site.port),
                "--no-access-log",
            ],
            cwd=site.home,
            env=site.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    return Server(process, f"http://127.0.0.1:{site.port}", True, out_path, err_path)


def _ws(server: Server, query: str = "") -> str:
    return server.base_url.replace("http://", "ws://") + "/api/v1/events" + query


async def test_a_change_through_node_a_reaches_sockets_on_node_b(
    servers: tuple[Server, Server], world_on_postgres: World
) -> None:
    a, b = servers
    world = world_on_postgres
    mia = world.id("mia")
    as_mia = await world.session_headers("mia")
    async with httpx.AsyncClient(base_url=a.base_url, timeout=WITHIN) as node_a:
        r = await node_a.post("/api/v1/events/ticket", headers=as_mia)
        assert r.status_code == 200, r.text
        ticket = r.json()["ticket"]

        async with (
            connect(_ws(b, f"?ticket={ticket}"), origin=b.base_url) as mia_ws,  # type: ignore[arg-type]
            connect(
                _ws(b),
                origin=b.base_url,  # type: ignore[arg-type]
                additional_headers={"Cookie": f"overleg_session={await token_for(world, 'sam')}"},
            ) as sam_ws,
        ):
            first = await receive(mia_ws)
            assert first["type"] == "resync"
            position = first["id"]
            # single use, on every node
            for node in (a, b):
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(_ws(node, f"?ticket={ticket}"), origin=node.base_url):  # type: ignore[arg-type]
                        pass
                assert refused.value.response.status_code == 401

            assert (await receive(sam_ws))["type"] == "resync"
            await sam_ws.send(json.dumps({"type": "presence.subscribe", "user_ids": [str(mia)]}))
            assert (await receive(sam_ws))["data"] == {
                "user_id": str(mia),
                "availability": "available",
            }

            r = await node_a.put(
                "/api/v1/me/presence", json={"availability": "busy"}, headers=as_mia
            )
            assert r.status_code == 200, r.text
            # node A knows from Redis that mia is online (her socket is on node B)
            assert r.json() == {"user_id": str(mia), "availability": "busy", "chosen": "busy"}

            stored = await receive(mia_ws)  # the stored event, emitted on node A
            assert stored == {
                "id": position + 1,
                "type": "presence",
                "data": {"user_id": str(mia), "availability": "busy", "chosen": "busy"},
            }
            assert await receive(sam_ws) == {
                "id": None,
                "type": "presence",
                "data": {"user_id": str(mia), "availability": "busy"},
            }
