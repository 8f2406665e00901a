"""Messaging over HTTP: bad input and refused attempts get a problem+json, store nothing,
and refusals are audited."""

from __future__ import annotations

import httpx

from overleg.messaging.models import Message
from overleg.workspace.models import Team
from tests.api.conftest import audit, count_rows, problem
from tests.fixtures.world import World


async def _team(client: httpx.AsyncClient, world: World) -> tuple[dict[str, str], str, str]:
    olivia = await world.session_headers("olivia")
    r = await client.post("/api/v1/teams", json={"name": "Sales"}, headers=olivia)
    assert r.status_code == 201, r.text
    team = r.json()
    for who in ("mia", "sam", "gus"):
        r = await client.post(
            f"/api/v1/teams/{team['id']}/members",
            json={"user_id": str(world.id(who))},
            headers=olivia,
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/teams/{team['id']}/channels", json={"name": "News"}, headers=olivia
    )
    assert r.status_code == 201, r.text
    return olivia, team["id"], r.json()["id"]


async def test_bad_messages_are_refused_and_store_nothing(
    world: World, client: httpx.AsyncClient
) -> None:
    _, _, channel = await _team(client, world)
    mia = await world.session_headers("mia")
    url = f"/api/v1/channels/{channel}/messages"
    cases = [
        ({"text": ""}, 422, "text"),
        ({"text": "  \n"}, 422, "text"),
        ({"text": "x" * 28_001}, 422, "text"),
        ({"text": "hi", "colour": "red"}, 422, "colour"),
        ({"text": "hi", "attachments": ["not-a-file-id"]}, 422, "attachments"),
        ({"text": "ping @hank@contoso.example"}, 422, "not in this conversation"),
    ]
    for body, status, named in cases:
        r = await client.post(url, json=body, headers=mia)
        p = problem(r, status)
        assert named in r.text, (body, p)
    assert await count_rows(world.rt, Message) == 0


async def test_refusals_are_problems_and_on_record(world: World, client: httpx.AsyncClient) -> None:
    olivia, team, channel = await _team(client, world)
    mia, sam = await world.session_headers("mia"), await world.session_headers("sam")
    r = await client.put(
        f"/api/v1/channels/{channel}/moderation",
        json={"new_post_policy": "moderators", "reply_policy": "author_and_moderators"},
        headers=olivia,
    )
    assert r.status_code == 200, r.text
    # moderation on: mia may not start a post
    r = await client.post(f"/api/v1/channels/{channel}/messages", json={"text": "hi"}, headers=mia)
    assert "only moderators" in problem(r, 403, "forbidden")["detail"]
    post = await client.post(
        f"/api/v1/channels/{channel}/messages", json={"text": "news"}, headers=olivia
    )
    assert post.status_code == 201, post.text
    post_id = post.json()["id"]
    # the reply policy forbids mia's reply
    r = await client.post(
        f"/api/v1/channels/{channel}/messages/{post_id}/replies", json={"text": "+1"}, headers=mia
    )
    problem(r, 403, "forbidden")
    # sam edits olivia's post: refused
    r = await client.patch(f"/api/v1/messages/{post_id}", json={"text": "mine"}, headers=sam)
    problem(r, 403, "forbidden")
    denied = await audit(world.rt, outcome="denied")
    assert {(d.action, d.actor_id) for d in denied} >= {
        ("message.send", world.id("mia")),
        ("message.reply", world.id("mia")),
        ("message.edit", world.id("sam")),
    }
    # an archived channel takes no posts
    r = await client.post(f"/api/v1/channels/{channel}/archive", headers=olivia)
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/channels/{channel}/messages", json={"text": "late"}, headers=olivia
    )
    problem(r, 409, "conflict")
    assert await count_rows(world.rt, Message) == 1
    # another tenant's admin sees nothing of it
    eve = await world.session_headers("eve")
    r = await client.get(f"/api/v1/teams/{team}", headers=eve)
    problem(r, 404, "not-found")
    assert await count_rows(world.rt, Team) == 1
