"""An alert reaches the connected admins who may read alerts at once, over their event
sockets; a member connected at the same time hears nothing of it."""

from __future__ import annotations

import uuid

from overleg.threat.service import raise_alert
from tests.fixtures.world import World
from tests.realtime.conftest import Node, emit, receive, receive_event, token_for
from tests.realtime.conftest import node as node  # the fixture: one real server


async def test_a_raised_alert_reaches_the_alert_readers_sockets(node: Node, world: World) -> None:
    contoso = world.tenants["contoso"].id
    async with (
        node.socket(await token_for(world, "sid")) as sid_ws,
        node.socket(await token_for(world, "cora")) as cora_ws,
        node.socket(await token_for(world, "mia")) as mia_ws,
    ):
        for ws in (sid_ws, cora_ws, mia_ws):
            assert (await receive(ws))["type"] == "resync"
        async with node.rt.database.transaction(tenant_id=contoso) as db:
            alert_id = await raise_alert(
                db,
                tenant_id=contoso,
                kind="file.infected",
                severity="high",
                title="An upload is infected",
                target_type="file",
                target_id=uuid.uuid4(),
            )
        expected = {
            "alert_id": str(alert_id),
            "kind": "file.infected",
            "severity": "high",
            "status": "open",
        }
        for ws in (sid_ws, cora_ws):
            got = await receive_event(ws)
            assert (got["type"], got["data"]) == ("alert.raised", expected)
        # events reach a socket in order: mia's next one is this, not the alert
        await emit(node.rt, contoso, [world.id("mia")], note="after the alert")
        got = await receive_event(mia_ws)
        assert (got["type"], got["data"]) == ("message.created", {"note": "after the alert"})
