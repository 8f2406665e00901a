"""Two nodes (two runtimes and servers in this process) sharing one database and one Redis
of the test's own: events and presence cross nodes; Redis going away loses nothing that
was committed, and delivery resumes when it is back. The outbox poll is switched off
here, so whatever crosses nodes crosses them through Redis or the catch-up after it."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from overleg.bootstrap import build_runtime
from overleg.kernel.events import broker
from overleg.kernel.events.broker import EVENT, Envelope, RedisBroker
from overleg.kernel.runtime import Runtime
from overleg.realtime.presence import PresenceTracker
from tests.fixtures.redis import RedisServer
from tests.fixtures.world import World
from tests.realtime.conftest import WITHIN, Node, emit, head, receive, serving, token_for


@pytest.fixture
def settings_overrides(redis_server: RedisServer) -> dict[str, object]:
    return {"redis_url": redis_server.url, "events_poll_seconds": 3600.0}


@pytest.fixture
async def nodes(rt: Runtime, world: World) -> AsyncIterator[tuple[Node, Node]]:
    other = build_runtime(rt.settings)  # same database, keys and Redis: another node
    try:
        async with serving(rt) as a, serving(other) as b:
            yield a, b
    finally:
        await other.database.dispose()


async def test_an_event_committed_on_one_node_reaches_a_socket_on_the_other(
    nodes: tuple[Node, Node], world: World
) -> None:
    a, b = nodes
    assert isinstance(a.rt.broker, RedisBroker) and a.rt.broker.healthy
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    at = await head(a.rt, contoso)
    async with b.socket(await token_for(world, "mia"), last_event_id=at) as ws:
        await emit(a.rt, contoso, [mia], n=1)
        await emit(b.rt, contoso, [mia], n=2)
        await emit(a.rt, contoso, [mia], n=3)
        got = [await receive(ws) for _ in range(3)]
    assert [(m["id"], m["data"]["n"]) for m in got] == [(at + 1, 1), (at + 2, 2), (at + 3, 3)]


async def test_when_redis_is_down_events_are_stored_and_delivered_once_it_is_back(
    nodes: tuple[Node, Node], world: World, redis_server: RedisServer
) -> None:
    a, b = nodes
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    at = await head(a.rt, contoso)
    async with b.socket(await token_for(world, "mia"), last_event_id=at) as ws:
        await emit(a.rt, contoso, [mia], n=1)
        assert (await receive(ws))["data"] == {"n": 1}

        redis_server.stop()
        await emit(a.rt, contoso, [mia], n=2)  # sending still works: stored in the outbox
        assert await head(a.rt, contoso) == at + 2

        redis_server.start()
        missed = await receive(ws)  # B re-subscribed and read what it missed
        assert (missed["id"], missed["data"]) == (at + 2, {"n": 2})
        await emit(a.rt, contoso, [mia], n=3)  # and Redis carries events again
        assert (await receive(ws))["data"] == {"n": 3}
    assert a.rt.broker.healthy and b.rt.broker.healthy


class BrokenLog:
    """A log whose sink is gone: structlog's ``PrintLogger`` on a closed stream raises like
    this (as it does after a CLI run in the same process closed the stderr it captured)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._changed = asyncio.Event()

    def __getattr__(self, level: str) -> Callable[..., None]:
        def fail(event: str, **fields: Any) -> None:
            self.counts[event] += 1
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()
            raise ValueError("I/O operation on closed file.")

        return fail

    async def logged(self, event: str, times: int) -> None:
        """Return once ``event`` has been logged (has failed to be) ``times`` times in all."""
        async with asyncio.timeout(WITHIN):
            while self.counts[event] < times:
                await self._changed.wait()


async def test_a_failing_log_does_not_end_the_brokers_loops(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = BrokenLog()
    monkeypatch.setattr(broker, "log", log)
    tenant = uuid.uuid4()
    got: list[int | None] = []
    arrived = asyncio.Event()

    def on_message(env: Envelope) -> None:
        got.append(env.seq)
        arrived.set()

    def event(n: int) -> Envelope:
        return Envelope(EVENT, tenant, "message.created", f'{{"n":{n}}}', seq=n)

    # two nodes: each listens (both log "redis_subscribed"), the sender publishes
    sender, receiver = RedisBroker(redis_server.url), RedisBroker(redis_server.url)
    receiver.subscribe(on_message)
    await sender.start()
    await receiver.start()
    try:
        await log.logged("redis_subscribed", 2)
        assert sender.healthy and receiver.healthy
        redis_server.stop()
        sender.publish([event(1)])
        await log.logged("redis_publish_failed", 1)  # and the publisher goes on
        await log.logged("redis_subscription_lost", 2)  # and both listeners go on
        assert not sender.healthy and not receiver.healthy

        redis_server.start()
        await log.logged("redis_subscribed", 4)  # both listeners subscribed again
        sender.publish([event(2)])
        async with asyncio.timeout(WITHIN):
            await arrived.wait()  # the publisher publishes again
        await log.logged("redis_publish_resumed", 1)
        assert got == [2]
        assert sender.healthy and receiver.healthy
    finally:
        await sender.stop()
        await receiver.stop()


async def test_presence_is_shared_between_nodes(nodes: tuple[Node, Node], world: World) -> None:
    a, b = nodes
    mia = world.id("mia")
    as_sam = await world.session_headers("sam")

    async def seen_on_b() -> str:
        async with b.client() as http:
            r = await http.get("/api/v1/presence", params={"user_id": str(mia)}, headers=as_sam)
            assert r.status_code == 200, r.text
            return str(r.json()[0]["availability"])

    assert await seen_on_b() == "offline"
    async with a.socket(await token_for(world, "mia")) as ws:
        await receive(ws)
        assert await seen_on_b() == "available"
    async with asyncio.timeout(WITHIN):  # node A noticed the socket is gone
        await a.gateway.until(lambda: a.gateway.count(mia) == 0)
    assert await seen_on_b() == "offline"


async def test_a_dead_nodes_users_go_offline_after_the_presence_ttl(
    redis_server: RedisServer,
) -> None:
    redis = Redis.from_url(redis_server.url)
    now = [1_000_000.0]
    dead = PresenceTracker(redis, node_id="dead", ttl=30, clock=lambda: now[0])
    alive = PresenceTracker(redis, node_id="alive", ttl=30, clock=lambda: now[0])
    tenant, user = uuid.uuid4(), uuid.uuid4()
    try:
        assert await dead.connected(tenant, user)  # came online
        assert await alive.online(tenant, [user]) == {user}
        assert not await alive.connected(tenant, user)  # online already (on the other node)
        assert not await alive.disconnected(tenant, user)  # still online on "dead"
        now[0] += 31  # "dead" stops renewing its entries
        assert await alive.online(tenant, [user]) == set()
    finally:
        await redis.aclose()
