"""CSRF: a session carried by the cookie must prove with X-CSRF-Token that the page making
an unsafe request is ours; Bearer requests cannot be forged by a browser and need none."""

from __future__ import annotations

import httpx

from tests.api.conftest import bearer, problem, sign_in, signed_in
from tests.fixtures.world import World

MIA = "mia@contoso.example"


async def test_unsafe_requests_with_the_cookie_need_the_csrf_token(
    world: World, client: httpx.AsyncClient
) -> None:
    other = await signed_in(client, MIA)
    r = await sign_in(client, MIA, keep_cookie=True)
    csrf, token = r.json()["csrf_token"], r.json()["token"]
    assert client.cookies.get("overleg_session") == token

    # safe methods need no token
    r = await client.get("/api/v1/me/sessions")
    assert r.status_code == 200, r.text

    for headers in ({}, {"X-CSRF-Token": "guess"}, {"X-CSRF-Token": csrf[:-1]}):
        r = await client.post("/api/v1/me/sessions/revoke-others", headers=headers)
        body = problem(r, 403, "forbidden")
        assert body["type_hint"] == "csrf"
        r = await client.post("/api/v1/auth/sign-out", headers=headers)
        problem(r, 403, "forbidden")
    # nothing happened
    assert (await client.get("/api/v1/me", headers=other)).status_code == 200
    assert (await client.get("/api/v1/me")).status_code == 200

    r = await client.post("/api/v1/me/sessions/revoke-others", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json() == {"revoked": 1}
    problem(await client.get("/api/v1/me", headers=other), 401)

    # a Bearer request needs no CSRF token (a browser cannot be made to send the header)
    client.cookies.clear()
    r = await client.post("/api/v1/me/sessions/revoke-others", headers=bearer(token))
    assert r.status_code == 200, r.text

    # with the cookie again: sign-out is an unsafe request too
    client.cookies.set("overleg_session", token)
    r = await client.post("/api/v1/auth/sign-out", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204, r.text
    problem(await client.get("/api/v1/me", headers=bearer(token)), 401)


async def test_a_refused_cross_site_request_is_audited(
    world: World, client: httpx.AsyncClient
) -> None:
    await sign_in(client, MIA, keep_cookie=True)
    r = await client.post("/api/v1/me/sessions/revoke-others")
    problem(r, 403, "forbidden")
    client.cookies.clear()
    audit = await client.get(
        "/api/admin/audit",
        params={"action": "auth.csrf"},
        headers=await world.session_headers("cora"),
    )
    (rec,) = audit.json()["records"]
    assert rec["outcome"] == "denied" and rec["actor_label"] == MIA
    assert rec["target_id"] == "POST /api/v1/me/sessions/revoke-others"
    assert rec["details"] == {"reason": "missing"}
