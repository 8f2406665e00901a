"""Sessions over HTTP: listing and revoking one's own, admins revoking others', disabled
accounts, idle timeout, absolute lifetime and sign-out."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from overleg.security.models import UserSession
from tests.api.conftest import (
    HOME_IP,
    Advance,
    audit,
    bearer,
    client_from,
    problem,
    sign_in,
    signed_in,
)
from tests.fixtures.world import World

MIA = "mia@contoso.example"


async def _session_row(world: World, headers: dict[str, str]) -> UserSession:
    from overleg.security.authn.tokens import hash_token

    token = headers["Authorization"].removeprefix("Bearer ")
    async with world.rt.database.session(unscoped=True, readonly=True) as db:
        s = await db.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
        assert s is not None
        return s


async def _sessions(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, object]]:
    r = await client.get("/api/v1/me/sessions", headers=headers)
    assert r.status_code == 200, r.text
    result: list[dict[str, object]] = r.json()
    return result


async def test_a_user_lists_and_revokes_own_sessions(
    world: World, client: httpx.AsyncClient
) -> None:
    here = await signed_in(client, MIA)
    async with client_from(world.rt, HOME_IP) as home:
        r = await home.post(
            "/api/v1/auth/sign-in",
            json={"email": MIA, "password": "violet anchor gravel 7391"},
            headers={"User-Agent": "Firefox at home"},
        )
        there = bearer(r.json()["token"])
    third = await signed_in(client, MIA)

    listed = await _sessions(client, here)
    assert len(listed) == 3
    [current] = [s for s in listed if s["current"]]
    at_home = next(s for s in listed if s["ip"] == HOME_IP)
    assert at_home["user_agent"] == "Firefox at home" and not at_home["current"]
    assert current["ip"] == "203.0.113.10"
    assert {s["user_id"] for s in listed} == {str(world.id("mia"))}

    r = await client.delete(f"/api/v1/me/sessions/{at_home['id']}", headers=here)
    assert r.status_code == 204, r.text
    problem(await client.get("/api/v1/me", headers=there), 401, "unauthenticated")
    assert len(await _sessions(client, here)) == 2

    # someone else's session is "not found", and the attempt is audited
    olivia = await world.session_headers("olivia")
    [olivias] = await _sessions(client, olivia)
    problem(await client.delete(f"/api/v1/me/sessions/{olivias['id']}", headers=here), 404)
    problem(await client.delete(f"/api/v1/me/sessions/{uuid.uuid4()}", headers=here), 404)
    assert (await client.get("/api/v1/me", headers=olivia)).status_code == 200
    assert len(await audit(world.rt, "session.revoke", outcome="denied")) == 2

    r = await client.post("/api/v1/me/sessions/revoke-others", headers=here)
    assert r.status_code == 200, r.text
    assert r.json() == {"revoked": 1}
    problem(await client.get("/api/v1/me", headers=third), 401)
    [only] = await _sessions(client, here)
    assert only["current"] is True

    # signing out ends this one too, and removes the cookie
    r = await client.post("/api/v1/auth/sign-out", headers=here)
    assert r.status_code == 204, r.text
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith('overleg_session="";') and "max-age=0" in cookie
    problem(await client.get("/api/v1/me", headers=here), 401, "unauthenticated")
    assert (await _session_row(world, here)).revoked_reason == "signed out"
    assert len(await audit(world.rt, "auth.sign_out")) == 1


async def test_admins_revoke_sessions_and_disabling_ends_them_at_once(
    world: World, client: httpx.AsyncClient
) -> None:
    mia = await signed_in(client, MIA)
    other = await signed_in(client, MIA)
    olivia = await world.session_headers("olivia")

    r = await client.get(f"/api/admin/users/{world.id('mia')}/sessions", headers=olivia)
    assert r.status_code == 200, r.text
    assert len(r.json()) == 2 and not any(s["current"] for s in r.json())
    target = (await _session_row(world, mia)).id
    # members may not, nor may another organisation's admin
    problem(await client.delete(f"/api/admin/sessions/{target}", headers=other), 403)
    eve = await world.session_headers("eve")
    problem(await client.delete(f"/api/admin/sessions/{target}", headers=eve), 404)
    problem(await client.get(f"/api/admin/users/{world.id('mia')}/sessions", headers=eve), 404)
    assert (await client.get("/api/v1/me", headers=mia)).status_code == 200

    r = await client.delete(f"/api/admin/sessions/{target}", headers=olivia)
    assert r.status_code == 204, r.text
    problem(await client.get("/api/v1/me", headers=mia), 401, "unauthenticated")
    assert (await _session_row(world, mia)).revoked_reason == "revoked by olivia@contoso.example"
    [rec] = await audit(world.rt, "session.revoke_any", outcome="success")
    assert rec.target_id == str(target)

    assert (await client.get("/api/v1/me", headers=other)).status_code == 200
    r = await client.post(f"/api/admin/users/{world.id('mia')}/disable", headers=olivia)
    assert r.status_code == 200, r.text
    problem(await client.get("/api/v1/me", headers=other), 401, "unauthenticated")
    problem(await sign_in(client, MIA), 401)
    # enabling the account again does not bring old sessions back
    r = await client.post(f"/api/admin/users/{world.id('mia')}/enable", headers=olivia)
    assert r.status_code == 200, r.text
    problem(await client.get("/api/v1/me", headers=other), 401)


async def test_an_idle_session_ends(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    h = await signed_in(client, MIA)
    busy = await signed_in(client, MIA)
    for _ in range(3):  # in use: stays alive well past the idle time
        frozen(minutes=50)
        assert (await client.get("/api/v1/me", headers=busy)).status_code == 200
    problem(await client.get("/api/v1/me", headers=h), 401, "unauthenticated")
    row = await _session_row(world, h)
    assert row.revoked_at is not None
    assert row.revoked_reason == "idle"
    assert len(await _sessions(client, busy)) == 1  # the ended one is not listed


@pytest.mark.parametrize(
    "settings_overrides", [{"session_absolute_hours": 1, "session_idle_minutes": 600}]
)
async def test_a_session_ends_after_its_lifetime(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    h = await signed_in(client, MIA)
    frozen(minutes=59)
    assert (await client.get("/api/v1/me", headers=h)).status_code == 200
    frozen(minutes=1)
    problem(await client.get("/api/v1/me", headers=h), 401, "unauthenticated")
    row = await _session_row(world, h)
    assert row.revoked_at is not None
    assert row.revoked_reason == "expired"
