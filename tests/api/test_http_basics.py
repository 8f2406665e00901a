"""HTTP basics: problem+json for every error, request ids, security headers, health,
readiness, metrics, and client addresses behind (only) trusted proxies."""

from __future__ import annotations

import re

import httpx
import pytest

from overleg.kernel.runtime import Runtime
from tests.api.conftest import audit, client_from, problem, sign_in
from tests.fixtures.world import PASSWORD, World

MIA = {"email": "mia@contoso.example", "password": PASSWORD}
RID = re.compile(r"^[0-9a-f]{16}$")


async def test_errors_are_problem_details(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/no-such-thing")
    assert problem(r, 404, "not-found")["instance"] == "/api/v1/no-such-thing"
    problem(await client.delete("/healthz"), 405, "method-not-allowed")
    problem(await client.get("/api/v1/auth/sign-in"), 405)
    problem(await client.get("/api/v1/me"), 401, "unauthenticated")
    mia = await world.session_headers("mia")
    problem(await client.get("/api/admin/users", headers=mia), 403, "forbidden")
    body = problem(await client.post("/api/v1/auth/sign-in", json={}), 422, "validation-failed")
    assert {p["name"] for p in body["invalid_params"]} == {"email", "password"}
    olivia = await world.session_headers("olivia")
    r = await client.post(
        "/api/admin/users",
        json={"email": "mia@contoso.example", "display_name": "Mia again"},
        headers=olivia,
    )
    body = problem(r, 409, "conflict")
    assert body["title"] and "mia@contoso.example" in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]


async def test_request_ids_are_echoed_when_valid_and_made_up_otherwise(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    r = await client.get("/healthz", headers={"X-Request-Id": "edge-7f3a.1_b"})
    assert r.headers["x-request-id"] == "edge-7f3a.1_b"
    r = await client.get("/api/v1/nope", headers={"X-Request-Id": "from-the-edge"})
    assert r.headers["x-request-id"] == "from-the-edge" == r.json()["request_id"]

    seen = set()
    for bad in ("", "has space", "x" * 65, "a\tb", "ünïcode", "semi;colon"):
        r = await client.get("/healthz", headers={"X-Request-Id": bad.encode()})
        rid = r.headers["x-request-id"]
        assert RID.match(rid) and rid != bad, (bad, rid)
        seen.add(rid)
    r = await client.get("/healthz")
    assert RID.match(r.headers["x-request-id"])
    seen.add(r.headers["x-request-id"])
    assert len(seen) == 7  # a new one each time


async def test_security_headers_on_every_answer(rt: Runtime, client: httpx.AsyncClient) -> None:
    for method, path, status in (
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/me", 401),
        ("GET", "/api/v1/missing", 404),
        ("POST", "/api/v1/auth/sign-in", 422),
    ):
        r = await client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == status
        h = r.headers
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "default-src 'self'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in h  # plain http site (https: test_sign_in)
        if path.startswith("/api/"):
            assert h["cache-control"] == "no-store", path
        else:
            assert "cache-control" not in h


async def test_health_readiness_and_metrics(rt: Runtime, client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    checks = r.json()["checks"]
    assert {"database", "keys"} <= checks.keys()
    assert set(checks.values()) == {"ok"}

    await client.get("/api/v1/me")  # something to count
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE overleg_http_requests_total counter" in text
    assert re.search(
        r'^overleg_http_requests_total\{method="GET",route="/api/v1/me",status="401"\} [1-9]',
        text,
        re.MULTILINE,
    ), text
    assert "overleg_http_request_seconds_bucket" in text


@pytest.mark.parametrize("settings_overrides", [{"trusted_proxies": ["10.0.0.0/8"]}])
async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    world: World, client: httpx.AsyncClient
) -> None:
    # the direct peer (203.0.113.10) is no proxy of ours: the header is ignored
    r = await client.post(
        "/api/v1/auth/sign-in", json=MIA, headers={"X-Forwarded-For": "192.0.2.1"}
    )
    assert r.status_code == 200, r.text
    async with client_from(world.rt, "10.1.2.3") as proxy:
        for xff in (
            "192.0.2.50",
            "198.51.100.9, 192.0.2.50",
            "192.0.2.50, 10.7.7.7",
            "not-an-address, 192.0.2.50",
            "192.0.2.50, not-an-address",  # nonsense from a proxy: the proxy is the client
            "<script>",
        ):
            r = await proxy.post(
                "/api/v1/auth/sign-in",
                json=MIA,
                headers={"X-Forwarded-For": xff},
            )
            assert r.status_code == 200, r.text
        # a proxy that adds a line of its own after the one the client made up
        r = await proxy.post(
            "/api/v1/auth/sign-in",
            json=MIA,
            headers=[("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "192.0.2.51")],
        )
        assert r.status_code == 200, r.text
        # no header: the proxy itself is the client
        r = await sign_in(proxy, "mia@contoso.example")
        assert r.status_code == 200
    ips = [rec.ip for rec in await audit(world.rt, "auth.sign_in", outcome="success")]
    via_proxy = ["192.0.2.50"] * 4 + ["10.1.2.3"] * 2 + ["192.0.2.51", "10.1.2.3"]
    assert ips == ["203.0.113.10", *via_proxy]
