"""Sign-in over HTTP: the session it gives, the cookie, and answers that tell an attacker
nothing about which accounts exist."""

from __future__ import annotations

import httpx
import pytest

from overleg.audit.chain import SYSTEM_TENANT
from tests.api.conftest import audit, bearer, problem, sign_in, without_request_id
from tests.fixtures.world import PASSWORD, World

WRONG = "surely not the password 42"


def _cookie_attributes(set_cookie: str) -> tuple[str, set[str]]:
    first, *attrs = (part.strip() for part in set_cookie.split(";"))
    return first, {a.lower() for a in attrs}


async def test_right_password_gives_a_session_by_bearer_and_by_cookie(
    world: World, client: httpx.AsyncClient
) -> None:
    r = await sign_in(client, "mia@contoso.example", keep_cookie=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "signed_in"
    assert body["must_change_password"] is False
    assert body["token"] and body["csrf_token"] and body["token"] != body["csrf_token"]

    first, attrs = _cookie_attributes(r.headers["set-cookie"])
    assert first == f"overleg_session={body['token']}"
    assert {"httponly", "samesite=strict", "path=/"} <= attrs
    assert "secure" not in attrs  # public_base_url is http:// in the test settings

    # the cookie alone is a session (a GET needs no CSRF header)
    me = await client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "mia@contoso.example"

    client.cookies.clear()
    problem(await client.get("/api/v1/me"), 401, "unauthenticated")
    me = await client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == str(world.id("mia"))
    assert me.json()["session_state"] == "active"
    problem(await client.get("/api/v1/me", headers=bearer(body["token"] + "x")), 401)

    [rec] = await audit(world.rt, "auth.sign_in", target_id=str(world.id("mia")))
    assert rec.outcome == "success"
    assert rec.tenant_id == world.tenant_of("mia")
    assert rec.ip == "203.0.113.10"

    # the address is matched without regard to case or surrounding blanks
    r = await sign_in(client, "  MIA@Contoso.EXAMPLE ")
    assert r.status_code == 200, r.text
    me = await client.get("/api/v1/me", headers=bearer(r.json()["token"]))
    assert me.json()["email"] == "mia@contoso.example"


@pytest.mark.parametrize("settings_overrides", [{"public_base_url": "https://overleg.example"}])
async def test_over_https_the_cookie_is_secure_and_hsts_is_sent(
    world: World, client: httpx.AsyncClient
) -> None:
    r = await sign_in(client, "mia@contoso.example")
    assert r.status_code == 200, r.text
    _, attrs = _cookie_attributes(r.headers["set-cookie"])
    assert {"secure", "httponly", "samesite=strict"} <= attrs
    for answer in (r, await client.get("/healthz"), await client.get("/api/v1/me")):
        hsts = answer.headers["strict-transport-security"]
        assert int(hsts.removeprefix("max-age=").split(";")[0]) >= 31536000, hsts


async def test_wrong_password_unknown_address_and_disabled_account_look_the_same(
    world: World, client: httpx.AsyncClient
) -> None:
    wrong = await sign_in(client, "mia@contoso.example", WRONG)
    unknown = await sign_in(client, "nobody@contoso.example", WRONG)
    wrong_case = await sign_in(client, "mia@contoso.example", PASSWORD.upper())
    expected = without_request_id(problem(wrong, 401, "unauthenticated"))
    assert without_request_id(problem(unknown, 401)) == expected
    assert without_request_id(problem(wrong_case, 401)) == expected
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers
    assert set(wrong.headers) == set(unknown.headers)

    failed = await audit(world.rt, "auth.sign_in", target_id=str(world.id("mia")))
    assert [(f.outcome, f.details["reason"]) for f in failed] == [("failed", "wrong password")] * 2
    [stranger] = await audit(world.rt, "auth.sign_in", tenant_id=SYSTEM_TENANT)
    assert stranger.outcome == "failed"
    assert stranger.details == {"email": "nobody@contoso.example", "reason": "unknown account"}

    olivia = await world.session_headers("olivia")
    r = await client.post(f"/api/admin/users/{world.id('mia')}/disable", headers=olivia)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "disabled"
    disabled = await sign_in(client, "mia@contoso.example")  # the right password
    assert without_request_id(problem(disabled, 401)) == expected

    r = await client.post(f"/api/admin/users/{world.id('mia')}/enable", headers=olivia)
    assert r.status_code == 200, r.text
    assert (await sign_in(client, "mia@contoso.example")).status_code == 200


async def test_a_guest_signs_in_to_the_organisation_named_by_its_slug(
    world: World, client: httpx.AsyncClient
) -> None:
    r = await sign_in(client, "gus@northwind.example", tenant="contoso")
    assert r.status_code == 200, r.text
    me = (await client.get("/api/v1/me", headers=bearer(r.json()["token"]))).json()
    assert me["kind"] == "guest"
    assert me["tenant_id"] == str(world.tenants["contoso"].id)

    # gus is nobody in fabrikam, and an unknown slug is no way in either
    problem(await sign_in(client, "gus@northwind.example", tenant="fabrikam"), 401)
    problem(await sign_in(client, "gus@northwind.example", tenant="nowhere"), 401)
    # the slug narrows the search: mia is not found through fabrikam
    problem(await sign_in(client, "mia@contoso.example", tenant="fabrikam"), 401)
