"""Passkeys over HTTP, against a software authenticator (tests/fixtures/webauthn.py): adding,
naming and removing them; the second factor; step-up; passwordless sign-in under the MFA
policy; user verification, the signature counter, challenges; the relying party."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from overleg.audit.chain import SYSTEM_TENANT
from overleg.kernel.runtime import Runtime
from overleg.security.models import Passkey, UserSession
from tests.api.conftest import Advance, audit, bearer, problem, sign_in
from tests.fixtures.webauthn import SoftAuthenticator, SoftCredential, b64u
from tests.fixtures.world import World

ORIGIN = "http://testserver"  # the test client's address: Host "testserver", plain http
MIA = "mia@contoso.example"
OLIVIA = "olivia@contoso.example"


async def _add(
    client: httpx.AsyncClient,
    h: dict[str, str],
    auth: SoftAuthenticator,
    name: str = "Laptop",
    origin: str = ORIGIN,
) -> httpx.Response:
    r = await client.post("/api/v1/me/passkeys/options", headers=h)
    assert r.status_code == 200, r.text
    credential = auth.create(r.json()["options"], origin)
    body = {"name": name, "credential": credential}
    return await client.post("/api/v1/me/passkeys", json=body, headers=h)


async def _options(client: httpx.AsyncClient, h: dict[str, str]) -> dict[str, Any]:
    r = await client.post("/api/v1/auth/passkey/options", headers=h)
    assert r.status_code == 200, r.text
    options: dict[str, Any] = r.json()["options"]
    return options


async def _second_step(
    client: httpx.AsyncClient, h: dict[str, str], auth: SoftAuthenticator, **kw: Any
) -> httpx.Response:
    credential = auth.get(await _options(client, h), ORIGIN, **kw)
    r = await client.post("/api/v1/auth/mfa/passkey", json={"credential": credential}, headers=h)
    client.cookies.clear()
    return r


async def _pending(client: httpx.AsyncClient, email: str = MIA) -> dict[str, str]:
    r = await sign_in(client, email)
    assert r.json()["status"] == "mfa_required", r.text
    return bearer(r.json()["token"])


async def _passwordless(
    client: httpx.AsyncClient, auth: SoftAuthenticator, **kw: Any
) -> httpx.Response:
    r = await client.post("/api/v1/auth/passkey/sign-in/options")
    assert r.status_code == 200, r.text
    assert (
        "allowCredentials" not in r.json()["options"] or not r.json()["options"]["allowCredentials"]
    )
    body = {
        "ceremony": r.json()["ceremony"],
        "credential": auth.get(r.json()["options"], ORIGIN, **kw),
    }
    return await client.post("/api/v1/auth/passkey/sign-in", json=body)


async def _passkeys(rt: Runtime) -> list[Passkey]:
    async with rt.database.session(unscoped=True, readonly=True) as db:
        return list((await db.scalars(select(Passkey).order_by(Passkey.created_at))).all())


async def _amr(rt: Runtime, token_headers: dict[str, str], client: httpx.AsyncClient) -> str:
    current = [
        s
        for s in (await client.get("/api/v1/me/sessions", headers=token_headers)).json()
        if s["current"]
    ]
    async with rt.database.session(unscoped=True, readonly=True) as db:
        s = await db.get(UserSession, uuid.UUID(current[0]["id"]))
        assert s is not None
        return s.amr


async def test_passkeys_are_added_named_and_used_as_the_second_factor(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    auth = SoftAuthenticator()
    r = await _add(client, h, auth, "Laptop")
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["passkey"]["name"] == "Laptop"
    assert len(first["recovery_codes"]) == 10  # the account's first second factor

    r = await client.post("/api/v1/me/passkeys/options", headers=h)
    options = r.json()["options"]
    assert options["rp"]["id"] == "testserver"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    # the passkey already there is excluded, so one authenticator is not registered twice
    assert [c["id"] for c in options["excludeCredentials"]] == [
        b64u(auth.credentials[0].credential_id)
    ]
    r = await _add(client, h, SoftAuthenticator(), "Phone")
    assert r.status_code == 201, r.text
    assert r.json()["recovery_codes"] is None
    phone = r.json()["passkey"]["id"]
    r = await client.patch(f"/api/v1/me/passkeys/{phone}", json={"name": " Work phone "}, headers=h)
    assert r.status_code == 200, r.text
    problem(await client.patch(f"/api/v1/me/passkeys/{phone}", json={"name": "  "}, headers=h), 422)
    r = await client.get("/api/v1/me/passkeys", headers=h)
    assert [p["name"] for p in r.json()] == ["Laptop", "Work phone"]

    # a passkey is a second factor: the password alone no longer signs mia in
    pre = await _pending(client)
    r = await _second_step(client, pre, auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed_in"
    post = bearer(r.json()["token"])
    assert post != pre
    problem(await client.get("/api/v1/me", headers=pre), 401, "unauthenticated")
    assert await _amr(world.rt, post, client) == "pwd hwk"
    # a session that is not waiting for a second factor has nothing to complete
    problem(
        await client.post("/api/v1/auth/mfa/passkey", json={"credential": {}}, headers=post), 409
    )

    assert [(a.outcome, a.details.get("factor")) for a in await audit(world.rt, "auth.mfa")] == [
        ("success", "passkey")
    ]
    assert [a.outcome for a in await audit(world.rt, "passkey.register")] == ["success"] * 2
    assert [a.details for a in await audit(world.rt, "passkey.rename")] == [
        {"before": "Phone", "after": "Work phone"}
    ]


async def test_an_assertion_works_once_and_only_for_its_own_session(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    auth = SoftAuthenticator()
    assert (await _add(client, h, auth)).status_code == 201
    a, b = await _pending(client), await _pending(client)

    # b presents an answer to a's challenge: b has no ceremony open
    answer = auth.get(await _options(client, a), ORIGIN)
    r = await client.post("/api/v1/auth/mfa/passkey", json={"credential": answer}, headers=b)
    problem(r, 409, "conflict")
    # a challenge expires after a few minutes
    frozen(minutes=6)
    r = await client.post("/api/v1/auth/mfa/passkey", json={"credential": answer}, headers=a)
    assert "expired" in problem(r, 409)["detail"]
    # ... and is spent when presented, whatever came of it
    r = await client.post("/api/v1/auth/mfa/passkey", json={"credential": answer}, headers=a)
    assert "start again" in problem(r, 409)["detail"]
    # an old answer to a new challenge: refused (the signature covers the challenge)
    await _options(client, a)
    r = await client.post("/api/v1/auth/mfa/passkey", json={"credential": answer}, headers=a)
    problem(r, 401, "unauthenticated")
    r = await _second_step(client, a, auth)
    assert r.status_code == 200, r.text
    outcomes = [
        (x.outcome, x.details.get("reason", "")[:30]) for x in await audit(world.rt, "auth.mfa")
    ]
    assert outcomes[0][0] == "failed" and "challenge" in outcomes[0][1].lower()
    assert outcomes[1] == ("success", "")


async def test_user_verification_is_required(world: World, client: httpx.AsyncClient) -> None:
    h = await world.session_headers("mia")
    r = await _add(client, h, SoftAuthenticator(uv=False))
    assert problem(r, 422, "validation-failed")["field"] == "credential"
    assert (await client.get("/api/v1/me/passkeys", headers=h)).json() == []
    refused = await audit(world.rt, "passkey.register")
    assert [x.outcome for x in refused] == ["failed"]
    assert "verif" in refused[0].details["reason"]

    auth = SoftAuthenticator()
    assert (await _add(client, h, auth)).status_code == 201
    auth.uv = False  # the same passkey, used without a PIN or biometrics
    r = await _second_step(client, await _pending(client), auth)
    problem(r, 401, "unauthenticated")
    failed = await audit(world.rt, "auth.mfa")
    assert [x.outcome for x in failed] == ["failed"]
    assert "verif" in failed[0].details["reason"]


async def test_a_counter_that_goes_backwards_is_refused_and_audited(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    auth = SoftAuthenticator()
    assert (await _add(client, h, auth)).status_code == 201  # counter 1
    assert (await _second_step(client, await _pending(client), auth)).status_code == 200  # 2

    # a copy of the authenticator that has not seen the last sign-in
    r = await _second_step(client, await _pending(client), auth, counter=2)
    assert "counter" in problem(r, 401, "unauthenticated")["detail"]
    refused = (await audit(world.rt, "auth.mfa"))[-1]
    assert refused.outcome == "denied"
    assert refused.details["stored_count"] == 2 and refused.details["presented_count"] == 2
    assert [p.sign_count for p in await _passkeys(world.rt)] == [2]

    assert (await _second_step(client, await _pending(client), auth, counter=7)).status_code == 200
    assert [p.sign_count for p in await _passkeys(world.rt)] == [7]


async def test_a_synced_passkey_without_a_counter_is_accepted(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    auth = SoftAuthenticator(counts=False)  # always 0, as synced passkeys report
    assert (await _add(client, h, auth)).status_code == 201
    for _ in range(2):
        r = await _second_step(client, await _pending(client), auth)
        assert r.status_code == 200, r.text


async def test_passwordless_sign_in_is_the_organisations_choice(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    auth = SoftAuthenticator()
    assert (await _add(client, h, auth)).status_code == 201

    # off by default: the passkey is genuine, the policy says no
    r = await _passwordless(client, auth)
    assert "alone" in problem(r, 403, "forbidden")["detail"]
    denied = await audit(world.rt, "auth.sign_in", outcome="denied")
    assert [x.details["method"] for x in denied] == ["passkey"]
    assert denied[0].tenant_id == world.tenant_of("mia")
    assert [p.sign_count for p in await _passkeys(world.rt)] == [2]  # its use still counts

    olivia = await world.session_headers("olivia")
    r = await client.put(
        "/api/admin/policies/mfa",
        json={"require": "admins", "passwordless_passkeys": True},
        headers=olivia,
    )
    assert r.status_code == 200, r.text
    r = await _passwordless(client, auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed_in"
    assert client.cookies.get("overleg_session") == r.json()["token"]
    client.cookies.clear()
    signed = bearer(r.json()["token"])
    assert (await client.get("/api/v1/me", headers=signed)).json()["email"] == MIA
    assert await _amr(world.rt, signed, client) == "hwk mfa"
    ok = await audit(world.rt, "auth.sign_in", outcome="success")
    assert ok[-1].details["method"] == "passkey"

    # a pending sign-in's challenge works once
    r = await client.post("/api/v1/auth/passkey/sign-in/options")
    body = {"ceremony": r.json()["ceremony"], "credential": auth.get(r.json()["options"], ORIGIN)}
    assert (await client.post("/api/v1/auth/passkey/sign-in", json=body)).status_code == 200
    client.cookies.clear()
    problem(await client.post("/api/v1/auth/passkey/sign-in", json=body), 409)

    # a passkey this server does not know
    stranger = SoftAuthenticator(
        credentials=[SoftCredential(rp_id="testserver", user_handle=b"x" * 32)]
    )
    problem(await _passwordless(client, stranger), 401, "unauthenticated")
    unknown = await audit(world.rt, "auth.sign_in", tenant_id=SYSTEM_TENANT)
    assert unknown[-1].details == {"method": "passkey", "reason": "unknown passkey"}

    # an account that was disabled cannot sign in with its passkey
    r = await client.post(f"/api/admin/users/{world.id('mia')}/disable", headers=olivia)
    assert r.status_code == 200, r.text
    problem(await _passwordless(client, auth), 401, "unauthenticated")


async def test_removing_passkeys_and_stepping_up_with_one(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    auth = SoftAuthenticator()
    laptop = (await _add(client, h, auth, "Laptop")).json()["passkey"]["id"]
    phone = (await _add(client, h, SoftAuthenticator(), "Phone")).json()["passkey"]["id"]

    # someone else's passkey is "not found", and the attempt is on record
    olivia = await world.session_headers("olivia")
    problem(await client.delete(f"/api/v1/me/passkeys/{laptop}", headers=olivia), 404)
    r = await client.patch(f"/api/v1/me/passkeys/{laptop}", json={"name": "x"}, headers=olivia)
    problem(r, 404)
    assert {x.action for x in await audit(world.rt, outcome="denied")} == {
        "passkey.remove",
        "passkey.rename",
    }

    # removing needs a recent second factor, which a passkey can give
    stale = await world.session_headers("mia", mfa=False)
    r = await client.delete(f"/api/v1/me/passkeys/{phone}", headers=stale)
    problem(r, 401, "mfa-required")
    assert (await audit(world.rt, "passkey.remove"))[-1].outcome == "denied"
    problem(await client.post("/api/v1/auth/step-up", json={"code": "123456"}, headers=stale), 409)
    answer = auth.get(await _options(client, stale), ORIGIN)
    r = await client.post(
        "/api/v1/auth/step-up/passkey", json={"credential": answer}, headers=stale
    )
    assert r.status_code == 204, r.text
    r = await client.delete(f"/api/v1/me/passkeys/{phone}", headers=stale)
    assert r.status_code == 204, r.text

    # where every account needs a second factor, the last one stays
    r = await client.put("/api/admin/policies/mfa", json={"require": "all"}, headers=olivia)
    assert r.status_code == 200, r.text
    problem(await client.delete(f"/api/v1/me/passkeys/{laptop}", headers=h), 409)
    r = await client.put("/api/admin/policies/mfa", json={"require": "admins"}, headers=olivia)
    assert (await client.delete(f"/api/v1/me/passkeys/{laptop}", headers=h)).status_code == 204
    assert (await client.get("/api/v1/me/passkeys", headers=h)).json() == []
    assert (await sign_in(client, MIA)).json()["status"] == "signed_in"
    assert [
        x.details["name"] for x in await audit(world.rt, "passkey.remove", outcome="success")
    ] == [
        "Phone",
        "Laptop",
    ]


async def test_an_admin_may_enrol_a_passkey_instead_of_an_app(
    world: World, client: httpx.AsyncClient
) -> None:
    r = await sign_in(client, OLIVIA)
    assert r.json()["status"] == "mfa_enrolment_required"
    h = bearer(r.json()["token"])
    r = await _add(client, h, SoftAuthenticator())
    assert r.status_code == 201, r.text
    assert len(r.json()["recovery_codes"]) == 10
    assert (await client.get("/api/v1/me", headers=h)).json()["session_state"] == "active"
    assert (await client.get("/api/admin/users", headers=h)).status_code == 200

    # with a passkey, the authenticator app is no longer her only factor: it may go
    await world.enrol_totp("olivia")
    assert (await client.delete("/api/v1/me/mfa/totp", headers=h)).status_code == 204

    # an admin's reset of a user's second factors takes the passkeys too
    mia = await world.session_headers("mia")
    assert (await _add(client, mia, SoftAuthenticator())).status_code == 201
    r = await client.post(f"/api/admin/users/{world.id('mia')}/reset-mfa", headers=h)
    assert r.status_code == 200, r.text
    assert {p.user_id for p in await _passkeys(world.rt)} == {world.id("olivia")}
    assert (await audit(world.rt, "user.reset_mfa"))[-1].details["passkeys_removed"] == 1


async def test_the_relying_party_is_the_servers_own_address(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    foreign = {**h, "Origin": "http://evil.example"}
    problem(await client.post("/api/v1/me/passkeys/options", headers=foreign), 403, "forbidden")
    denied = await audit(world.rt, "passkey.register_begin")
    assert [(x.outcome, x.details["reason"]) for x in denied] == [("denied", "foreign origin")]
    problem(await client.post("/api/v1/auth/passkey/sign-in/options", headers=foreign), 403)
    # an IP address cannot be a relying party
    r = await client.post(
        "http://127.0.0.1/api/v1/me/passkeys/options", headers={**h, "Host": "127.0.0.1"}
    )
    assert "IP address" in problem(r, 422)["detail"]
    # the request's own origin is fine
    r = await client.post("/api/v1/me/passkeys/options", headers={**h, "Origin": ORIGIN})
    assert r.json()["options"]["rp"]["id"] == "testserver"


@pytest.mark.parametrize("settings_overrides", [{"public_base_url": "https://overleg.example"}])
async def test_a_configured_public_address_is_the_relying_party(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("mia")
    here = {**h, "Origin": "https://overleg.example"}
    r = await client.post("/api/v1/me/passkeys/options", headers=here)
    assert r.json()["options"]["rp"]["id"] == "overleg.example"
    credential = SoftAuthenticator().create(r.json()["options"], "https://overleg.example")
    r = await client.post(
        "/api/v1/me/passkeys", json={"name": "Laptop", "credential": credential}, headers=here
    )
    assert r.status_code == 201, r.text
    # the address the request happened to reach is not the relying party then
    problem(await client.post("/api/v1/me/passkeys/options", headers={**h, "Origin": ORIGIN}), 403)
    # an answer made for another origin is refused
    r = await client.post("/api/v1/me/passkeys/options", headers=here)
    wrong = SoftAuthenticator().create(r.json()["options"], ORIGIN)
    r = await client.post(
        "/api/v1/me/passkeys", json={"name": "Copy", "credential": wrong}, headers=here
    )
    assert "origin" in problem(r, 422)["detail"].lower()
