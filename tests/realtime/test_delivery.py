"""Events reach exactly their recipients' sockets, only after commit, in order; a client
that reconnects with its last id gets what it missed, or ``resync``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from overleg.kernel import clock
from overleg.kernel.events import outbox
from overleg.kernel.runtime import Runtime
from overleg.realtime.service import purge_expired
from overleg.security.principal import system
from tests.fixtures.world import World
from tests.realtime.conftest import Node, emit, head, receive, token_for


async def test_a_committed_event_reaches_exactly_its_recipients(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso = world.tenant_of("mia")
    at = await head(rt, contoso)
    async with (
        node.socket(await token_for(world, "mia"), last_event_id=at) as mia,
        node.socket(await token_for(world, "sam"), last_event_id=at) as sam,
        node.socket(await token_for(world, "eve"), last_event_id=0) as eve,
    ):
        with pytest.raises(RuntimeError):
            async with rt.database.transaction(tenant_id=contoso) as db:
                await outbox.emit(
                    db,
                    tenant_id=contoso,
                    type="message.created",
                    payload={"text": "rolled back"},
                    recipients=[world.id("mia"), world.id("sam")],
                )
                raise RuntimeError("abort")
        await emit(rt, contoso, [world.id("mia")], text="for mia")
        await emit(rt, contoso, [world.id("sam")], text="for sam")
        # another organisation's user listed as a recipient gets nothing either
        await emit(rt, contoso, [world.id("eve"), world.id("mia")], text="for mia again")
        await emit(rt, world.tenant_of("eve"), [world.id("eve")], text="for eve")
        got_mia = [await receive(mia), await receive(mia)]
        got_sam = await receive(sam)
        got_eve = await receive(eve)
    assert got_mia == [
        {"id": at + 1, "type": "message.created", "data": {"text": "for mia"}},
        {"id": at + 3, "type": "message.created", "data": {"text": "for mia again"}},
    ]
    assert got_sam == {"id": at + 2, "type": "message.created", "data": {"text": "for sam"}}
    assert got_eve == {"id": 1, "type": "message.created", "data": {"text": "for eve"}}


async def test_a_new_connection_starts_with_resync_at_the_current_position(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso = world.tenant_of("mia")
    await emit(rt, contoso, [world.id("mia")], text="before")
    async with node.socket(await token_for(world, "mia")) as mia:
        first = await receive(mia)
        await emit(rt, contoso, [world.id("mia")], text="after")
        second = await receive(mia)
    assert first == {"id": 1, "type": "resync", "data": {"reason": "new"}}
    assert second["id"] == 2
    assert second["data"] == {"text": "after"}


async def test_reconnecting_with_the_last_id_gets_the_missed_events_in_order(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso, mia, sam = world.tenant_of("mia"), world.id("mia"), world.id("sam")
    token = await token_for(world, "mia")
    async with node.socket(token, last_event_id=0) as ws:
        await emit(rt, contoso, [mia], n=1)
        last = (await receive(ws))["id"]
    assert last == 1
    await emit(rt, contoso, [mia], n=2)
    await emit(rt, contoso, [sam], n=3)
    await emit(rt, contoso, [sam, mia], n=4)
    async with node.socket(token, last_event_id=last) as ws:
        missed = [await receive(ws), await receive(ws)]
        await emit(rt, contoso, [mia], n=5)
        live = await receive(ws)
    assert [(m["id"], m["data"]["n"]) for m in missed] == [(2, 2), (4, 4)]
    assert (live["id"], live["data"]["n"]) == (5, 5)


@pytest.mark.parametrize("settings_overrides", [{"events_replay_max": 3}])
async def test_more_missed_events_than_the_replay_limit_give_resync(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    for n in range(5):
        await emit(rt, contoso, [mia], n=n)
    async with node.socket(await token_for(world, "mia"), last_event_id=0) as ws:
        first = await receive(ws)
        await emit(rt, contoso, [mia], n=5)
        live = await receive(ws)
    assert first == {"id": 5, "type": "resync", "data": {"reason": "too_many"}}
    assert live["id"] == 6


@pytest.mark.parametrize("settings_overrides", [{"events_retention_seconds": 60}])
async def test_an_id_older_than_the_retention_time_gets_resync(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    token = await token_for(world, "mia")
    await emit(rt, contoso, [mia], n=1)
    await emit(rt, contoso, [mia], n=2)
    async with node.socket(token, last_event_id=1) as ws:  # within retention: replayed
        assert (await receive(ws))["id"] == 2

    clock.freeze(clock.now() + timedelta(seconds=90))  # both events are now too old
    async with node.socket(token, last_event_id=0) as ws:
        assert await receive(ws) == {"id": 2, "type": "resync", "data": {"reason": "expired"}}

    async with rt.database.transaction(unscoped=True) as db:  # and once they are purged
        assert (await purge_expired(system(job="test"), db)).events == 2
    async with node.socket(token, last_event_id=1) as ws:
        assert await receive(ws) == {"id": 2, "type": "resync", "data": {"reason": "expired"}}
    async with node.socket(token, last_event_id=2) as ws:  # nothing missed: live at once
        await emit(rt, contoso, [mia], n=3)
        assert (await receive(ws))["id"] == 3


async def test_an_unknown_position_gets_resync(node: Node, rt: Runtime, world: World) -> None:
    contoso, mia = world.tenant_of("mia"), world.id("mia")
    await emit(rt, contoso, [mia], n=1)
    token = await token_for(world, "mia")
    for bad in (7, "x", "-1"):
        async with node.socket(token, last_event_id=bad) as ws:
            assert await receive(ws) == {
                "id": 1,
                "type": "resync",
                "data": {"reason": "unknown_position"},
            }
