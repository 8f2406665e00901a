"""The lobby over real event sockets: the person waiting hears "waiting" and then
"admitted"; only those who may admit hear about the lobby; everyone in hears who joined."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from overleg.kernel.clock import now
from tests.fixtures.world import World
from tests.realtime.conftest import Node, receive, receive_event, token_for
from tests.realtime.conftest import node as node  # the fixture: one real server


async def test_the_lobby_over_sockets(node: Node, world: World) -> None:
    start = now() + timedelta(hours=1)
    olivia, mia = await world.session_headers("olivia"), await world.session_headers("mia")
    async with node.client() as http:
        r = await http.post(
            "/api/v1/meetings",
            headers=olivia,
            json={
                "subject": "Intake",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
                "invitees": [{"user_id": str(world.id("mia"))}],
                "options": {"lobby_bypass": "invited", "who_can_present": "organizer"},
            },
        )
        assert r.status_code == 201, r.text
        meeting: dict[str, Any] = r.json()
        mid, code = meeting["id"], meeting["join_url"].rsplit("/", 1)[-1]
        for h in (olivia, mia):
            r = await http.post(f"/api/v1/meetings/join/{code}", headers=h, json={})
            assert r.status_code == 200 and r.json()["me"]["state"] == "in", r.text
        async with (
            node.socket(await token_for(world, "olivia")) as olivia_ws,
            node.socket(await token_for(world, "mia")) as mia_ws,
        ):
            for ws in (olivia_ws, mia_ws):
                assert (await receive(ws))["type"] == "resync"
            r = await http.post(f"/api/v1/meetings/join/{code}", json={"display_name": "Robin"})
            joined = r.json()
            assert joined["me"]["state"] == "lobby"
            anon = {"Authorization": f"Bearer {joined['token']}"}
            r = await http.post("/api/v1/events/ticket", headers=anon)
            assert r.status_code == 200, r.text
            # from event 0: what was said to Robin before the socket opened comes first
            async with node.socket(ticket=r.json()["ticket"], last_event_id=0) as robin_ws:
                said = await receive_event(robin_ws)
                assert (said["type"], said["data"]["state"]) == ("meeting.you", "waiting")
                knock = await receive_event(olivia_ws)
                assert knock["type"] == "meeting.lobby"
                assert knock["data"] == {
                    "meeting_id": mid,
                    "change": "entered",
                    "participant_id": joined["me"]["id"],
                }
                r = await http.post(
                    f"/api/v1/meetings/{mid}/lobby/{joined['me']['id']}/admit", headers=olivia
                )
                assert r.status_code == 200, r.text
                said = await receive_event(robin_ws)
                assert (said["type"], said["data"]["state"]) == ("meeting.you", "admitted")
                admitted = await receive_event(olivia_ws)
                assert (admitted["type"], admitted["data"]["change"]) == (
                    "meeting.lobby",
                    "admitted",
                )
                # mia (an attendee) heard nothing of the lobby, only that Robin joined
                first = await receive_event(mia_ws)
                assert (first["type"], first["data"]["change"]) == ("meeting.participant", "joined")
                assert first["data"]["participant_ids"] == [joined["me"]["id"]]
