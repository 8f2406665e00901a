"""Bad input is refused with a problem that names what is wrong, and nothing is written;
hostile-looking text is stored and returned as plain data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from overleg.audit.models import AuditRecord
from overleg.identity.models import User
from overleg.kernel.runtime import Runtime
from tests.api.conftest import count_rows, problem
from tests.fixtures.world import World

USERS = "/api/admin/users"
NEW_USER = {
    "email": "nina@contoso.example",
    "display_name": "Nina",
    "password": "quiet harbour lantern 2048",
}


async def _counts(rt: Runtime) -> tuple[int, int]:
    return await count_rows(rt, User), await count_rows(rt, AuditRecord)


async def test_malformed_requests_write_nothing(world: World, client: httpx.AsyncClient) -> None:
    olivia = await world.session_headers("olivia")
    json_headers = {**olivia, "Content-Type": "application/json"}
    before = await _counts(world.rt)

    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"content": b'{"email": "nina@contoso.example", '}, "body", "not valid JSON"),
        ({"content": b'{"email": "nina@\xff\xfe.example", "display_name": "N"}'}, "body", "UTF-8"),
        ({"content": b"\xef\xbb\xbf\xc3\x28"}, "body", "not valid JSON"),
        ({"content": b"\x00\x00\x00{"}, "body", "not valid JSON"),
        ({"json": {**NEW_USER, "email": 12345}}, "email", "string"),
        ({"json": {**NEW_USER, "display_name": ["a", "list"]}}, "display_name", "string"),
        ({"json": {**NEW_USER, "admin_roles": "global_admin"}}, "admin_roles", "list"),
        ({"json": {**NEW_USER, "admin_roles": ["overlord"]}}, "admin_roles.0", "global_admin"),
        ({"json": {**NEW_USER, "email": "not an address"}}, "email", "email"),
        ({"json": {**NEW_USER, "display_name": ""}}, "display_name", "at least 1"),
        ({"json": {**NEW_USER, "is_superuser": True}}, "is_superuser", "unknown field"),
        ({"json": [NEW_USER]}, "body", "dictionary"),
        ({"json": None}, "body", "required"),
    ]
    for kwargs, name, reason in cases:
        r = await client.post(USERS, headers=json_headers, **kwargs)
        body = problem(r, 422, "validation-failed")
        first = body["invalid_params"][0]
        assert first["name"] == name, (kwargs, body)
        assert body["detail"].startswith(f"{name}: ")
        assert reason in first["reason"], (kwargs, body)

    r = await client.patch(
        f"{USERS}/{world.id('mia')}", json={"display_name": "Mia", "role": "admin"}, headers=olivia
    )
    assert problem(r, 422)["invalid_params"][0] == {"name": "role", "reason": "unknown field"}
    # an invalid id in the path
    for path in (f"{USERS}/not-a-uuid", f"{USERS}/1 OR 1=1", "/api/v1/me/sessions/%27%3B--"):
        method = "DELETE" if "sessions" in path else "GET"
        r = await client.request(method, path, headers=olivia)
        body = problem(r, 422, "validation-failed")
        assert body["invalid_params"][0]["name"] in ("user_id", "session_id"), body

    # the same address again, in any case, is a conflict
    for email in ("mia@contoso.example", "MIA@Contoso.Example"):
        r = await client.post(USERS, json={**NEW_USER, "email": email}, headers=olivia)
        problem(r, 409, "conflict")

    # nothing was created, nor even audited
    users, records = await _counts(world.rt)
    assert users == before[0]
    assert records == before[1]


@pytest.mark.parametrize("settings_overrides", [{"max_request_bytes": 2048}])
async def test_too_large_bodies_are_refused(world: World, client: httpx.AsyncClient) -> None:
    olivia = await world.session_headers("olivia")
    before = await _counts(world.rt)
    big = {**NEW_USER, "job_title": "x" * 4000}

    r = await client.post(USERS, json=big, headers=olivia)
    assert int(r.request.headers["content-length"]) > 2048
    body = problem(r, 413, "too-large")
    assert "2048" in body["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"

    async def chunks() -> AsyncIterator[bytes]:
        data = httpx.Request("POST", "/", json=big).content
        for i in range(0, len(data), 500):
            yield data[i : i + 500]

    r = await client.post(
        USERS, content=chunks(), headers={**olivia, "Content-Type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    problem(r, 413, "too-large")

    # the sign-in form (no session at all) is limited the same way
    r = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": "mia@contoso.example", "password": "p" * 3000},
    )
    problem(r, 413, "too-large")

    assert await _counts(world.rt) == before
    # just under the limit is fine
    r = await client.post(USERS, json={**NEW_USER, "job_title": "x" * 100}, headers=olivia)
    assert r.status_code == 201, r.text


async def test_hostile_looking_text_is_just_data(world: World, client: httpx.AsyncClient) -> None:
    olivia = await world.session_headers("olivia")
    nasty = "<script>alert(1)</script>' OR 1=1 --"
    drop = "Robert'); DROP TABLE users;--"
    r = await client.post(
        USERS,
        json={
            "email": "nina@contoso.example",
            "display_name": nasty,
            "job_title": drop,
            "attributes": {"<b>": "\"'; DELETE FROM audit_records; --", "💥": "é"},
        },
        headers=olivia,
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json"
    created = r.json()["user"]
    assert created["display_name"] == nasty
    assert created["job_title"] == drop

    r = await client.get(f"{USERS}/{created['id']}", headers=olivia)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["display_name"], got["job_title"]) == (nasty, drop)
    assert got["attributes"] == {"<b>": "\"'; DELETE FROM audit_records; --", "💥": "é"}

    mia = await world.session_headers("mia")
    r = await client.get("/api/v1/directory", headers=mia)
    assert nasty in {u["display_name"] for u in r.json()}
    # no table was harmed: everyone is still there and the audit chain is intact
    assert await count_rows(world.rt, User) == len(world.users) + 1
    r = await client.post("/api/admin/audit/verify", headers=olivia)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True

    # the same strings where an address or password is expected are only wrong answers
    for email, pw in ((nasty, nasty), ("' OR 1=1 --", "' OR '1'='1"), (drop, "x")):
        r = await client.post("/api/v1/auth/sign-in", json={"email": email, "password": pw})
        problem(r, 401, "unauthenticated")


async def test_a_nul_character_is_refused(world: World, client: httpx.AsyncClient) -> None:
    olivia = await world.session_headers("olivia")
    before = await _counts(world.rt)
    r = await client.post(USERS, json={**NEW_USER, "display_name": "Ni\u0000na"}, headers=olivia)
    body = problem(r, 422, "validation-failed")
    assert body["invalid_params"][0]["name"] == "display_name"
    r = await client.post(
        "/api/v1/auth/sign-in", json={"email": "mi\u0000a@contoso.example", "password": "x"}
    )
    assert r.status_code == 422, r.text
    assert await _counts(world.rt) == before
