"""Typing indicators: to the other members of the conversation only, rate-limited per
connection; a non-member's attempt reaches nobody and is audited as a denial."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from overleg.audit.models import AuditRecord
from overleg.kernel.runtime import Runtime
from overleg.messaging.chats import create_chat
from overleg.messaging.schemas import ChatCreate
from tests.fixtures.world import World
from tests.realtime.conftest import Node, emit, head, receive, token_for


def _typing(chat_id: uuid.UUID) -> str:
    return json.dumps({"type": "typing", "container_type": "chat", "container_id": str(chat_id)})


async def test_typing_reaches_the_other_members_only(node: Node, rt: Runtime, world: World) -> None:
    contoso = world.tenant_of("mia")
    mia, sam, hank, gus = (world.id(n) for n in ("mia", "sam", "hank", "gus"))
    async with rt.database.transaction(tenant_id=contoso) as db:
        chat = await create_chat(world.principal("mia"), db, ChatCreate(members=[sam, hank]))
    at = await head(rt, contoso)
    async with (
        node.socket(await token_for(world, "mia"), last_event_id=at) as mia_ws,
        node.socket(await token_for(world, "sam"), last_event_id=at) as sam_ws,
        node.socket(await token_for(world, "hank"), last_event_id=at) as hank_ws,
        node.socket(await token_for(world, "gus"), last_event_id=at) as gus_ws,
    ):
        for _ in range(10):  # a burst: the rate limit lets the first few through
            await mia_ws.send(_typing(chat.id))
        # the reader handles messages in order: when this is answered, the burst is done
        await mia_ws.send(json.dumps({"type": "presence.subscribe", "user_ids": [str(mia)]}))
        assert (await receive(mia_ws))["type"] == "presence"
        await gus_ws.send(_typing(chat.id))  # not a member
        # answered only after the typing message (and the audit of its refusal) is done
        await gus_ws.send(json.dumps({"type": "presence.subscribe", "user_ids": [str(gus)]}))
        assert (await receive(gus_ws))["type"] == "presence"
        await hank_ws.send(_typing(chat.id))  # the end marker for sam

        expected_from_mia = {
            "user_id": str(mia),
            "container_type": "chat",
            "container_id": str(chat.id),
        }
        from_mia = 0
        while (msg := await receive(sam_ws))["data"]["user_id"] != str(hank):
            assert msg == {"id": None, "type": "typing", "data": expected_from_mia}
            from_mia += 1
        assert 5 <= from_mia < 10
        assert (await receive(hank_ws)) == {"id": None, "type": "typing", "data": expected_from_mia}

        # mia got hank's and none of her own; gus got nothing: then comes this event
        assert (await receive(mia_ws))["data"]["user_id"] == str(hank)
        await emit(rt, contoso, [gus, mia], n=1)
        assert (await receive(gus_ws))["data"] == {"n": 1}
        assert (await receive(mia_ws))["data"] == {"n": 1}
    async with rt.database.session(unscoped=True, readonly=True) as db:
        denied = (
            await db.scalars(
                select(AuditRecord).where(
                    AuditRecord.actor_id == gus, AuditRecord.outcome == "denied"
                )
            )
        ).all()
    assert [r.target_id for r in denied] == [str(chat.id)]
