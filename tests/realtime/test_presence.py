"""Presence: online from open sockets, availability chosen by the user (stored, audited),
visible only to people who may see the user: members see their organisation, guests
only themselves, other organisations nobody."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select

from overleg.audit.models import AuditRecord
from overleg.kernel.runtime import Runtime
from tests.fixtures.world import World
from tests.realtime.conftest import WITHIN, Node, emit, head, receive, token_for


async def _presence(
    http: httpx.AsyncClient, headers: dict[str, str], *ids: uuid.UUID
) -> dict[str, tuple[str, str | None]]:
    r = await http.get(
        "/api/v1/presence", params={"user_id": [str(i) for i in ids]}, headers=headers
    )
    assert r.status_code == 200, r.text
    return {p["user_id"]: (p["availability"], p["chosen"]) for p in r.json()}


async def _offline(node: Node, user_id: uuid.UUID) -> None:
    async with asyncio.timeout(WITHIN):  # the server notices the closed socket
        await node.gateway.until(lambda: node.gateway.count(user_id) == 0)


async def test_presence_comes_from_sockets_and_choice_and_only_for_those_who_may_see(
    node: Node, rt: Runtime, world: World
) -> None:
    mia, gus, eve = world.id("mia"), world.id("gus"), world.id("eve")
    as_sam = await world.session_headers("sam")
    as_gus = await world.session_headers("gus")
    as_eve = await world.session_headers("eve")
    as_mia = await world.session_headers("mia")
    async with node.client() as http:
        assert await _presence(http, as_sam, mia, gus, eve) == {
            str(mia): ("offline", None),
            str(gus): ("offline", None),  # members see guests of their organisation
        }
        r = await http.put("/api/v1/me/presence", json={"availability": "busy"}, headers=as_mia)
        assert r.status_code == 200, r.text
        assert r.json() == {"user_id": str(mia), "availability": "offline", "chosen": "busy"}
        bad = await http.put("/api/v1/me/presence", json={"availability": "asleep"}, headers=as_mia)
        assert bad.status_code == 422
        extra = await http.put(
            "/api/v1/me/presence", json={"availability": "away", "idle_for": 5}, headers=as_mia
        )
        assert extra.status_code == 422

        async with node.socket(await token_for(world, "mia")) as ws:
            await receive(ws)  # connected: online
            assert await _presence(http, as_sam, mia) == {str(mia): ("busy", None)}
            assert await _presence(http, as_mia, mia) == {str(mia): ("busy", "busy")}
            assert await _presence(http, as_gus, mia, gus) == {str(gus): ("offline", "available")}
            assert await _presence(http, as_eve, mia, eve) == {str(eve): ("offline", "available")}
            r = await http.put(
                "/api/v1/me/presence", json={"availability": "offline"}, headers=as_mia
            )
            assert r.json()["availability"] == "offline"  # appear offline
            assert await _presence(http, as_sam, mia) == {str(mia): ("offline", None)}
            await http.put(
                "/api/v1/me/presence", json={"availability": "available"}, headers=as_mia
            )
            assert await _presence(http, as_sam, mia) == {str(mia): ("available", None)}
        await _offline(node, mia)
        assert await _presence(http, as_sam, mia) == {str(mia): ("offline", None)}
    async with rt.database.session(unscoped=True, readonly=True) as db:
        audited = (
            await db.scalars(select(AuditRecord).where(AuditRecord.action == "presence.set"))
        ).all()
    assert [(r.actor_id, r.details["after"]) for r in audited] == [
        (mia, "busy"),
        (mia, "offline"),
        (mia, "available"),
    ]


async def test_presence_changes_reach_subscribers_who_may_see_the_user(
    node: Node, rt: Runtime, world: World
) -> None:
    contoso, mia, gus, eve = (
        world.tenant_of("mia"),
        world.id("mia"),
        world.id("gus"),
        world.id("eve"),
    )
    at = await head(rt, contoso)
    as_mia = await world.session_headers("mia")
    async with (
        node.socket(await token_for(world, "sam"), last_event_id=at) as sam,
        node.socket(await token_for(world, "gus"), last_event_id=at) as guest,
        node.socket(await token_for(world, "eve"), last_event_id=0) as other,
    ):
        await sam.send(_subscribe(mia, gus, eve))
        assert sorted([(await receive(sam))["data"]["user_id"] for _ in range(2)]) == sorted(
            [str(mia), str(gus)]
        )
        await guest.send(_subscribe(mia, gus))
        assert (await receive(guest))["data"] == {"user_id": str(gus), "availability": "available"}
        await other.send(_subscribe(mia))

        async with node.socket(await token_for(world, "mia"), last_event_id=at) as mia_ws:
            came = await receive(sam)
            assert came == {
                "id": None,
                "type": "presence",
                "data": {"user_id": str(mia), "availability": "available"},
            }
            async with node.client() as http:
                r = await http.put(
                    "/api/v1/me/presence", json={"availability": "do_not_disturb"}, headers=as_mia
                )
                assert r.status_code == 200
            changed = await receive(sam)
            assert changed["data"] == {"user_id": str(mia), "availability": "do_not_disturb"}
            # mia's own sockets get the change as a stored event (with an id)
            own = await receive(mia_ws)
            assert own["type"] == "presence" and isinstance(own["id"], int)
            assert own["data"]["chosen"] == "do_not_disturb"
        went = await receive(sam)
        assert went["data"] == {"user_id": str(mia), "availability": "offline"}

        # Sam has seen all three changes. Had gus or eve been sent any of them, it would
        # have come before this event addressed to them.
        await emit(rt, contoso, [gus], n="for gus")
        await emit(rt, world.tenant_of("eve"), [eve], n="for eve")
        assert (await receive(guest))["data"] == {"n": "for gus"}
        assert (await receive(other))["data"] == {"n": "for eve"}


def _subscribe(*ids: uuid.UUID) -> str:
    import json

    return json.dumps({"type": "presence.subscribe", "user_ids": [str(i) for i in ids]})
