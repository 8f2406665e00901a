"""GET /api/admin/status (is each service Overleg needs answering?) and
GET /api/admin/policies/{kind}/schema (the forms of the admin centre).

Status is for global and security admins with a fresh second factor; every other caller is
refused, and the refusal is audited. Each check is bounded: a service that accepts a
connection and never answers is reported down, and the answer still comes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from overleg.meetings.media.plane import MediaPlane
from overleg.status import service as status_service
from tests.api.conftest import audit, problem
from tests.fixtures.clamd import ClamdInstance, clamd
from tests.fixtures.janus import JanusInstance, janus
from tests.fixtures.redis import RedisServer, redis_server
from tests.fixtures.world import World

__all__ = ["clamd", "janus", "redis_server"]

STATUS = "/api/admin/status"


def _listener() -> socket.socket:
    """A TCP port that takes connections (the kernel's backlog) and never says a word."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


@pytest.fixture
def silent_port() -> Iterator[int]:
    s = _listener()
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    """``live``: the real Redis, clamd and Janus of the tests; ``silent``: Redis and clamd
    at a port that never answers; otherwise nothing configured (clamd's default socket
    does not exist)."""
    kind = getattr(request, "param", None)
    if kind == "live":
        redis: RedisServer = request.getfixturevalue("redis_server")
        av: ClamdInstance = request.getfixturevalue("clamd")
        media: JanusInstance = request.getfixturevalue("janus")
        return {
            "redis_url": redis.url,
            "scan_clamd_tcp": av.tcp,
            "media_janus": [media.server],
            "media_api_secret": media.api_secret,
        }
    if kind == "silent":
        port = request.getfixturevalue("silent_port")
        return {"redis_url": f"redis://127.0.0.1:{port}/0", "scan_clamd_tcp": f"127.0.0.1:{port}"}
    return {}


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["component"]: c for c in body["components"]}


async def test_only_global_and_security_admins_see_status(
    client: httpx.AsyncClient, world: World
) -> None:
    problem(await client.get(STATUS), 401, "unauthenticated")
    for who in ("mia", "gus", "cora", "uma"):
        problem(await client.get(STATUS, headers=await world.session_headers(who)), 403)
    # an admin whose second factor is not fresh is asked to give it again
    stale = await world.session_headers("olivia", mfa=False)
    problem(await client.get(STATUS, headers=stale), 401, "mfa-required")
    for who in ("olivia", "sid"):
        r = await client.get(STATUS, headers=await world.session_headers(who))
        assert r.status_code == 200, r.text
    denied = await audit(world.rt, "status.read", outcome="denied")
    assert sorted(r.actor_label.split("@")[0] for r in denied) == [
        "cora",
        "gus",
        "mia",
        "olivia",
        "uma",
    ]


async def test_nothing_configured(client: httpx.AsyncClient, world: World) -> None:
    r = await client.get(STATUS, headers=await world.session_headers("sid"))
    got = by_name(r.json())
    assert got["database"]["state"] == "ok"
    assert got["database"]["detail"].split()[0] in ("sqlite", "postgresql")
    assert got["redis"]["state"] == "not_configured"
    assert got["janus"]["state"] == "not_configured"
    # the default socket does not exist: down, said without the path
    assert got["clamd"]["state"] == "down"
    assert got["clamd"]["detail"] == "no socket to connect to"
    assert str(world.rt.settings.data_dir) not in r.text


@pytest.mark.parametrize("settings_overrides", ["live"], indirect=True)
async def test_every_service_answers(client: httpx.AsyncClient, world: World) -> None:
    r = await client.get(STATUS, headers=await world.session_headers("olivia"))
    assert r.status_code == 200, r.text
    got = by_name(r.json())
    assert {k: v["state"] for k, v in got.items()} == {
        "database": "ok",
        "redis": "ok",
        "janus": "ok",
        "clamd": "ok",
    }, r.text
    assert got["redis"]["detail"].startswith("Redis ")
    assert got["janus"]["detail"].startswith("Janus ")
    assert got["janus"]["instance"] == world.rt.settings.media_janus[0].name
    assert got["clamd"]["detail"].startswith("ClamAV ")
    assert all(c["latency_ms"] is not None for c in got.values())


@pytest.mark.parametrize("settings_overrides", ["live"], indirect=True)
async def test_janus_through_the_media_plane(client: httpx.AsyncClient, world: World) -> None:
    """While the app serves, Janus is checked over the plane's own connection; an instance
    the plane cannot reach is down (and the plane keeps retrying)."""
    settings = world.rt.settings
    unreachable = settings.media_janus[0].model_copy(
        update={"name": "spare", "url": "ws://127.0.0.1:9"}
    )
    settings.media_janus = [*settings.media_janus, unreachable]
    plane = MediaPlane.from_settings(settings)
    await plane.start()
    world.rt.media = plane
    try:
        r = await client.get(STATUS, headers=await world.session_headers("olivia"))
    finally:
        world.rt.media = None
        await plane.stop()
    janus_rows = {c["instance"]: c for c in r.json()["components"] if c["component"] == "janus"}
    assert janus_rows[settings.media_janus[0].name]["state"] == "ok", r.text
    assert janus_rows["spare"]["state"] == "down"
    assert janus_rows["spare"]["detail"] == "not connected; reconnecting"


@pytest.mark.parametrize("settings_overrides", ["silent"], indirect=True)
async def test_a_service_that_never_answers_is_down_not_waited_for(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_service, "CHECK_TIMEOUT_SECONDS", 0.3)
    r = await client.get(STATUS, headers=await world.session_headers("olivia"))
    assert r.status_code == 200, r.text
    got = by_name(r.json())
    assert got["redis"]["state"] == "down"
    assert got["clamd"]["state"] == "down"
    assert got["database"]["state"] == "ok"
    assert r.json()["timeout_seconds"] == 0.3


async def test_policy_schema(client: httpx.AsyncClient, world: World) -> None:
    path = "/api/admin/policies/{}/schema"
    r = await client.get(path.format("meetings"), headers=await world.session_headers("cora"))
    assert r.status_code == 200, r.text
    schema = r.json()
    settings = schema["$defs"]["MeetingPolicySettings"]["properties"]
    assert "lobby_bypass" in settings and "allow_meeting_chat" in settings
    assert "organizationExcludingGuests" in schema["$defs"]["LobbyBypass"]["enum"]
    r = await client.get(path.format("recordings"), headers=await world.session_headers("sid"))
    expiry = r.json()["properties"]["expiry_days"]["anyOf"][0]
    assert (expiry["minimum"], expiry["maximum"]) == (1, 99_999)
    problem(await client.get(path.format("nope"), headers=await world.session_headers("sid")), 404)
    for who in ("mia", "uma"):
        problem(await client.get(path.format("mfa"), headers=await world.session_headers(who)), 403)
