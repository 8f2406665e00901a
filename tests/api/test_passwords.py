"""Passwords over HTTP: a one-time password must be changed before anything else, weak
passwords are refused naming the field, and a change signs out the other sessions."""

from __future__ import annotations

import httpx

from tests.api.conftest import audit, bearer, problem, sign_in, signed_in
from tests.fixtures.world import PASSWORD, World

NEW = "quiet harbour lantern 2048"


async def test_a_one_time_password_must_be_changed_first(
    world: World, client: httpx.AsyncClient
) -> None:
    olivia = await world.session_headers("olivia")
    nina = {"email": "nina@contoso.example", "display_name": "Nina"}
    # an admin cannot choose a weak first password either
    weak_first = {**nina, "password": "1qaz2wsx3edc"}
    r = await client.post("/api/admin/users", json=weak_first, headers=olivia)
    assert problem(r, 422, "validation-failed")["field"] == "password"

    r = await client.post("/api/admin/users", json=nina, headers=olivia)
    assert r.status_code == 201, r.text
    nina_id = r.json()["user"]["id"]
    otp = r.json()["one_time_password"]
    assert otp and len(otp) >= 20

    r = await sign_in(client, "nina@contoso.example", otp)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["must_change_password"]) == ("signed_in", True)
    h = bearer(r.json()["token"])

    for path in ("/api/v1/me/sessions", "/api/v1/directory"):
        body = problem(await client.get(path, headers=h), 403, "forbidden")
        assert body["next"] == "change_password", path
    me = await client.get("/api/v1/me", headers=h)
    assert me.status_code == 200 and me.json()["must_change_password"] is True

    weak = {
        "short pw 1": "at least 12 characters",
        "1qaz2wsx3edc": "commonly used",
        "nina-is-my-name-2024": "name",
        "abcdefghijklmnop": "sequence",
    }
    for pw, reason in weak.items():
        r = await client.post(
            "/api/v1/me/password",
            json={"current_password": otp, "new_password": pw},
            headers=h,
        )
        body = problem(r, 422, "validation-failed")
        assert body["field"] == "new_password", pw
        assert reason in body["detail"], (pw, body["detail"])
    r = await client.post(
        "/api/v1/me/password", json={"current_password": otp, "new_password": otp}, headers=h
    )
    assert problem(r, 422)["field"] == "new_password"

    r = await client.post(
        "/api/v1/me/password", json={"current_password": otp, "new_password": NEW}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"sessions_revoked": 0}
    assert (await client.get("/api/v1/me/sessions", headers=h)).status_code == 200
    problem(await sign_in(client, "nina@contoso.example", otp), 401)
    r = await sign_in(client, "nina@contoso.example", NEW)
    assert (r.status_code, r.json()["must_change_password"]) == (200, False)

    # an admin's reset hands out a new one-time password, and the flag comes back
    r = await client.post(f"/api/admin/users/{nina_id}/reset-password", headers=olivia)
    assert r.status_code == 200, r.text
    problem(await client.get("/api/v1/me", headers=h), 401)  # the reset ended her sessions
    r = await sign_in(client, "nina@contoso.example", r.json()["one_time_password"])
    assert r.json()["must_change_password"] is True


async def test_changing_the_password_signs_out_the_other_sessions(
    world: World, client: httpx.AsyncClient
) -> None:
    here = await signed_in(client, "mia@contoso.example")
    there = await signed_in(client, "mia@contoso.example")

    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not my password 1", "new_password": NEW},
        headers=here,
    )
    assert problem(r, 422)["field"] == "current_password"
    assert (await client.get("/api/v1/me", headers=there)).status_code == 200

    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers=here,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"sessions_revoked": 1}
    problem(await client.get("/api/v1/me", headers=there), 401, "unauthenticated")
    assert (await client.get("/api/v1/me", headers=here)).status_code == 200
    problem(await sign_in(client, "mia@contoso.example", PASSWORD), 401)
    assert (await sign_in(client, "mia@contoso.example", NEW)).status_code == 200

    records = await audit(world.rt, "user.password_change")
    assert [(r.outcome, r.details.get("sessions_revoked")) for r in records] == [
        ("failed", None),
        ("success", 1),
    ]
