"""Domain verification by DNS TXT record, against a real DNS server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import httpx
import pytest

from tests.fixtures.world import World

RECORDS: dict[str, list[str]] = {}


class _DnsServer(asyncio.DatagramProtocol):
    """Answers TXT queries from RECORDS; NXDOMAIN for names it does not know."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True)
        if name in RECORDS and question.rdtype == dns.rdatatype.TXT:
            texts = [f'"{t}"' for t in RECORDS[name]]
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", *texts))
        elif name not in RECORDS:
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_port() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_DnsServer, local_addr=("127.0.0.1", 0))
    RECORDS.clear()
    yield transport.get_extra_info("sockname")[1]
    transport.close()


@pytest.fixture
def settings_overrides(dns_port: int) -> dict[str, object]:
    return {"dns_nameservers": [f"127.0.0.1:{dns_port}"]}


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
