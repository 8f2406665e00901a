"""Domain verification by DNS TXT record, against a real DNS server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fixtures.dns_server import txt_server
from tests.fixtures.world import World

RECORDS: dict[str, list[str]] = {}


@pytest.fixture
async def nameserver() -> AsyncIterator[str]:
    RECORDS.clear()
    async with txt_server(RECORDS) as address:
        yield address


@pytest.fixture
def settings_overrides(nameserver: str) -> dict[str, object]:
    return {"dns_nameservers": [nameserver]}


async def test_domain_is_verified_once_its_txt_record_is_published(
    world: World, client: httpx.AsyncClient
) -> None:
    h = await world.session_headers("olivia")
    added = await client.post(
        "/api/admin/domains", json={"domain": "Sub.Contoso.example"}, headers=h
    )
    assert added.status_code == 201
    body = added.json()
    assert body["domain"] == "sub.contoso.example" and body["verified_at"] is None
    assert body["txt_record"].startswith("overleg-verification=")

    RECORDS["sub.contoso.example"] = ["v=spf1 -all"]
    early = await client.post("/api/admin/domains/sub.contoso.example/verify", headers=h)
    assert early.status_code == 422
    assert body["txt_record"] in early.json()["detail"]

    RECORDS["sub.contoso.example"].append(body["txt_record"])
    ok = await client.post("/api/admin/domains/sub.contoso.example/verify", headers=h)
    assert ok.status_code == 200, ok.text
    assert ok.json()["verified_at"] is not None

    audit = await client.get("/api/admin/audit", params={"action": "domain.verify"}, headers=h)
    outcomes = [r["outcome"] for r in audit.json()["records"]]
    assert outcomes == ["failed", "success"]


async def test_unknown_domain_and_other_tenants_domain_look_the_same(
    world: World, client: httpx.AsyncClient
) -> None:
    eve = await world.session_headers("eve")
    other = await client.post("/api/admin/domains/contoso.example/verify", headers=eve)
    missing = await client.post("/api/admin/domains/nowhere.example/verify", headers=eve)
    assert other.status_code == missing.status_code == 404


async def test_members_cannot_verify_domains(world: World, client: httpx.AsyncClient) -> None:
    h = await world.session_headers("mia")
    r = await client.post("/api/admin/domains/contoso.example/verify", headers=h)
    assert r.status_code == 403
