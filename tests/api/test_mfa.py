"""The second factor over HTTP: enrolment, verification, replay, recovery codes,
throttling, the tenant's MFA policy and step-up for admin actions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    Advance,
    audit,
    bearer,
    code_now,
    problem,
    sign_in,
    wrong_code,
)
from tests.fixtures.world import World

OLIVIA = "olivia@contoso.example"
MIA = "mia@contoso.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"throttle_account_ip_threshold": 3}


async def _mfa(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/v1/auth/mfa", json=body, headers=headers)


async def _pending(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Sign in with the password; the session waits for the second factor."""
    r = await sign_in(client, email)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "mfa_required"
    return bearer(r.json()["token"])


async def _enrol(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    r = await client.post("/api/v1/me/mfa/totp", headers=headers)
    assert r.status_code == 200, r.text
    enrolment = r.json()
    secret = enrolment["secret"]
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    assert enrolment["qr_svg"].startswith("<svg")
    assert enrolment["qr_png"].startswith("data:image/png;base64,")
    r = await client.post(
        "/api/v1/me/mfa/totp/activate", json={"code": wrong_code(secret)}, headers=headers
    )
    assert problem(r, 422, "validation-failed")["field"] == "code"
    r = await client.post(
        "/api/v1/me/mfa/totp/activate", json={"code": code_now(secret)}, headers=headers
    )
    assert r.status_code == 200, r.text
    return secret, r.json()["codes"]


async def test_an_admin_without_a_second_factor_must_enrol_first(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    r = await sign_in(client, OLIVIA)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "mfa_enrolment_required"
    h = bearer(r.json()["token"])

    me = await client.get("/api/v1/me", headers=h)
    assert me.status_code == 200, me.text
    assert me.json()["session_state"] == "mfa_enrol"
    for path in ("/api/admin/users", "/api/v1/me/sessions", "/api/v1/directory"):
        body = problem(await client.get(path, headers=h), 401, "mfa-required")
        assert body["next"] == "enrol", path
    # the password route is open to an enrolling session (here: refused on its merits)
    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not it at all 1", "new_password": "x"},
        headers=h,
    )
    assert problem(r, 422)["field"] == "current_password"

    secret, codes = await _enrol(client, h)
    assert len(codes) == len(set(codes)) == 10

    # the same session is now fully signed in, with a fresh second factor
    r = await client.get("/api/admin/users", headers=h)
    assert r.status_code == 200, r.text
    me = await client.get("/api/v1/me", headers=h)
    assert me.json()["mfa_enabled"] is True
    assert me.json()["session_state"] == "active"
    assert [r.outcome for r in await audit(world.rt, "mfa.totp_activate")] == [
        "failed",
        "success",
    ]

    # next time: the code from the app (the one used at activation is spent: wait for the next)
    frozen(seconds=30)
    h = await _pending(client, OLIVIA)
    r = await _mfa(client, h, code=code_now(secret))
    assert r.status_code == 200, r.text

    # a recovery code works in place of the app, once
    h = await _pending(client, OLIVIA)
    r = await _mfa(client, h, recovery_code=codes[0])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed_in"
    h = await _pending(client, OLIVIA)
    problem(await _mfa(client, h, recovery_code=codes[0]), 401, "unauthenticated")
    r = await _mfa(client, h, recovery_code=codes[1])
    assert r.status_code == 200, r.text
    factors = [r.details.get("factor") for r in await audit(world.rt, "auth.mfa")]
    assert factors == ["totp", "recovery_code", None, "recovery_code"]


async def test_a_user_with_an_authenticator_gives_a_code_and_gets_a_new_token(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    secret = await world.enrol_totp("mia")
    r = await sign_in(client, MIA)
    assert r.json()["status"] == "mfa_required"
    pre, pre_csrf = bearer(r.json()["token"]), r.json()["csrf_token"]
    assert (await client.get("/api/v1/me", headers=pre)).json()["session_state"] == "mfa_pending"
    body = problem(await client.get("/api/v1/me/sessions", headers=pre), 401, "mfa-required")
    assert body["next"] == "verify"
    assert problem(await _mfa(client, pre), 422)["field"] == "code"

    code = code_now(secret)
    r = await _mfa(client, pre, code=code)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed_in"
    post, post_csrf = bearer(r.json()["token"]), r.json()["csrf_token"]
    assert post != pre and post_csrf != pre_csrf
    assert client.cookies.get("overleg_session") == r.json()["token"]
    # the CSRF token was renewed together with the session token
    revoke_others = "/api/v1/me/sessions/revoke-others"
    problem(await client.post(revoke_others, headers={"X-CSRF-Token": pre_csrf}), 403)
    r = await client.post(revoke_others, headers={"X-CSRF-Token": post_csrf})
    assert r.status_code == 200, r.text
    client.cookies.clear()

    problem(await client.get("/api/v1/me", headers=pre), 401, "unauthenticated")
    r = await client.get("/api/v1/me/sessions", headers=post)
    assert r.status_code == 200, r.text
    problem(await _mfa(client, post, code=code), 409, "conflict")  # nothing to verify

    # the same code cannot be used twice, not even in another session
    again = await _pending(client, MIA)
    problem(await _mfa(client, again, code=code), 401, "unauthenticated")
    frozen(seconds=30)  # the app shows the next code
    r = await _mfa(client, again, code=code_now(secret))
    assert r.status_code == 200, r.text

    assert [r.outcome for r in await audit(world.rt, "auth.mfa")] == [
        "success",
        "failed",
        "success",
    ]


async def test_wrong_codes_are_throttled(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    secret = await world.enrol_totp("mia")
    h = await _pending(client, MIA)
    for _ in range(3):
        problem(await _mfa(client, h, code=wrong_code(secret)), 401)
    r = await _mfa(client, h, code=code_now(secret))  # even the right code
    body = problem(r, 429, "too-many-attempts")
    assert r.headers["retry-after"] == "1" and body["retry_after"] == 1
    assert problem(await client.get("/api/v1/me/sessions", headers=h), 401)["next"] == "verify"

    frozen(seconds=1)
    r = await _mfa(client, h, code=code_now(secret))
    assert r.status_code == 200, r.text
    details = [(r.outcome, r.details.get("reason")) for r in await audit(world.rt, "auth.mfa")]
    assert details == [("failed", "wrong code")] * 3 + [("failed", "throttled"), ("success", None)]


async def test_the_tenant_policy_decides_who_needs_a_second_factor(
    world: World, client: httpx.AsyncClient
) -> None:
    # default "admins": a member signs in directly
    r = await sign_in(client, MIA)
    assert r.json()["status"] == "signed_in"

    olivia = await world.session_headers("olivia")
    r = await client.put("/api/admin/policies/mfa", json={"require": "all"}, headers=olivia)
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["body"]["require"]) == (1, "all")
    for email in (MIA, "gus@northwind.example"):
        r = await sign_in(client, email)
        assert r.json()["status"] == "mfa_enrolment_required", email
        h = bearer(r.json()["token"])
        assert problem(await client.get("/api/v1/me/sessions", headers=h), 401)["next"] == "enrol"
    # another tenant's policy is its own
    r = await sign_in(client, "frank@fabrikam.example")
    assert r.json()["status"] == "signed_in"

    r = await client.put("/api/admin/policies/mfa", json={"require": "off"}, headers=olivia)
    assert r.status_code == 200, r.text
    r = await sign_in(client, OLIVIA)
    assert r.json()["status"] == "signed_in"
    h = bearer(r.json()["token"])
    assert (await client.get("/api/v1/me/sessions", headers=h)).status_code == 200
    # ... but admin actions still need a recent second factor
    problem(await client.get("/api/admin/users", headers=h), 401, "mfa-required")
    # and whoever has set up an authenticator is still asked for it
    await world.enrol_totp("mia")
    r = await sign_in(client, MIA)
    assert r.json()["status"] == "mfa_required"

    r = await client.put("/api/admin/policies/mfa", json={"require": "some"}, headers=olivia)
    assert problem(r, 422)["field"] == "require"
    r = await client.get("/api/admin/policies/mfa/history", headers=olivia)
    assert [v["body"]["require"] for v in r.json()] == ["all", "off"]


async def test_admin_actions_need_a_recent_second_factor(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    secret = await world.enrol_totp("olivia")
    r = await _mfa(client, await _pending(client, OLIVIA), code=code_now(secret))
    h = bearer(r.json()["token"])
    assert (await client.get("/api/admin/users", headers=h)).status_code == 200

    frozen(minutes=16)
    problem(await client.get("/api/admin/users", headers=h), 401, "mfa-required")
    # self-service still works with a stale factor, but changing the factors does not
    assert (await client.get("/api/v1/me/sessions", headers=h)).status_code == 200
    problem(await client.post("/api/v1/me/mfa/recovery-codes", headers=h), 401, "mfa-required")
    denied = await audit(world.rt, outcome="denied", actor_id=world.id("olivia"))
    assert [d.action for d in denied] == ["user.read", "mfa.recovery_codes"]

    for _ in range(3):
        r = await client.post("/api/v1/auth/step-up", json={"code": wrong_code(secret)}, headers=h)
        problem(r, 401)
    r = await client.post("/api/v1/auth/step-up", json={"code": code_now(secret)}, headers=h)
    assert problem(r, 429, "too-many-attempts")["retry_after"] == int(r.headers["retry-after"])
    problem(await client.get("/api/admin/users", headers=h), 401, "mfa-required")
    frozen(seconds=1)
    r = await client.post("/api/v1/auth/step-up", json={"code": code_now(secret)}, headers=h)
    assert r.status_code == 204, r.text
    assert (await client.get("/api/admin/users", headers=h)).status_code == 200
    r = await client.post("/api/v1/me/mfa/recovery-codes", headers=h)
    assert r.status_code == 200 and len(r.json()["codes"]) == 10
    # every refused attempt is audited, the throttled one too
    steps = [(r.outcome, r.details.get("reason")) for r in await audit(world.rt, "auth.step_up")]
    assert steps == [("failed", "wrong code")] * 3 + [("failed", "throttled"), ("success", None)]

    # without an authenticator there is nothing to step up with
    mia = await world.session_headers("mia", mfa=False)
    problem(await client.post("/api/v1/auth/step-up", json={"code": "123456"}, headers=mia), 409)
