"""The audit log over HTTP: search filters and paging, JSON Lines export, verification,
who may read it, and that reading it is itself audited."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
from sqlalchemy import select

from overleg.audit.models import AuditRecord
from tests.fixtures.world import World

AUDIT = "/api/admin/audit"


async def _activity(world: World, client: httpx.AsyncClient) -> None:
    """Real audited actions by several people, one of them refused."""
    olivia = await world.session_headers("olivia")
    uma = await world.session_headers("uma")
    mia = await world.session_headers("mia")
    sam, hank = world.id("sam"), world.id("hank")
    for path in (f"/api/admin/users/{sam}/disable", f"/api/admin/users/{sam}/enable"):
        assert (await client.post(path, headers=olivia)).status_code == 200
    r = await client.post(f"/api/admin/users/{hank}/reset-mfa", headers=uma)
    assert r.status_code == 200
    body = {"email": "nina@contoso.example", "display_name": "Nina"}
    assert (await client.post("/api/admin/users", json=body, headers=uma)).status_code == 201
    assert (await client.get("/api/admin/users", headers=mia)).status_code == 403


async def _search(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    r = await client.get(AUDIT, params=params, headers=headers)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


def _seqs(records: list[dict[str, Any]]) -> list[int]:
    return [r["seq"] for r in records]


async def test_search_filters_and_paging(world: World, client: httpx.AsyncClient) -> None:
    await _activity(world, client)
    cora = await world.session_headers("cora")
    everything = (await _search(client, cora, limit=1000))["records"]
    assert _seqs(everything) == list(range(1, len(everything) + 1))
    assert {r["tenant_id"] for r in everything} == {str(world.tenants["contoso"].id)}

    def expected(pred: Any) -> list[int]:
        return [r["seq"] for r in everything if pred(r)]

    async def found(**params: Any) -> list[int]:
        page = await _search(client, cora, limit=1000, **params)
        assert page["next_after_seq"] is None
        return _seqs(page["records"])

    # actor, by e-mail and by id: the same two records
    olivia_did = expected(lambda r: r["actor_label"] == "olivia@contoso.example")
    assert len(olivia_did) == 2
    assert await found(actor="olivia@contoso.example") == olivia_did
    assert await found(actor=str(world.id("olivia"))) == olivia_did
    assert await found(actor="nobody@contoso.example") == []

    # action: exact, and a prefix ending in "."
    assert await found(action="user.reset_mfa") == expected(
        lambda r: r["action"] == "user.reset_mfa"
    )
    user_actions = expected(lambda r: r["action"].startswith("user."))
    assert len(user_actions) >= 8 + 4  # the cast's accounts, then the activity
    assert await found(action="user.") == user_actions
    assert await found(action="user") == []  # no dot: an exact name, and there is none
    assert await found(action="user%") == []  # no wildcards smuggled into LIKE
    assert await found(action="user._") == []

    # target, outcome
    sam = str(world.id("sam"))
    on_sam = expected(lambda r: r["target_id"] == sam)
    assert len(on_sam) == 3  # created, disabled, enabled
    assert await found(target=sam) == on_sam
    denied = await found(outcome="denied")
    assert denied == expected(lambda r: r["outcome"] == "denied") and len(denied) == 1
    refusal = everything[denied[0] - 1]
    assert refusal["actor_label"] == "mia@contoso.example" and refusal["action"] == "user.read"

    # time range: since is inclusive, until exclusive
    lo, hi = everything[3]["at"], everything[-3]["at"]
    assert await found(since=lo, until=hi) == expected(lambda r: lo <= r["at"] < hi)
    assert await found(until=everything[0]["at"]) == []

    # combined filters are ANDed
    assert await found(action="user.", actor=str(world.id("uma"))) == expected(
        lambda r: r["action"].startswith("user.") and r["actor_label"] == "uma@contoso.example"
    )

    # paging with after_seq / next_after_seq returns every record once, in order
    pages, after = [], None
    while True:
        params: dict[str, Any] = {"action": "user.", "limit": 3}
        if after is not None:
            params["after_seq"] = after
        page = await _search(client, cora, **params)
        assert 1 <= len(page["records"]) <= 3
        pages.append(_seqs(page["records"]))
        after = page["next_after_seq"]
        if after is None:
            break
        assert after == pages[-1][-1]
    assert [s for p in pages for s in p] == user_actions
    assert all(len(p) == 3 for p in pages[:-1])

    # bad parameters are a 422 problem, not a 500 or an ignored filter
    for bad in (
        {"limit": 0},
        {"limit": 1001},
        {"outcome": "maybe"},
        {"after_seq": -1},
        {"since": "yesterday"},
        {"colour": "red"},
    ):
        r = await client.get(AUDIT, params=bad, headers=cora)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_export_streams_json_lines(world: World, client: httpx.AsyncClient) -> None:
    await _activity(world, client)
    sid = await world.session_headers("sid")
    total = len((await _search(client, sid, action="user.", limit=1000))["records"])

    r = await client.get(f"{AUDIT}/export", params={"action": "user."}, headers=sid)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == "application/x-ndjson"
    assert "attachment" in r.headers["content-disposition"]
    assert r.text.endswith("\n")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == total
    assert all(x["action"].startswith("user.") for x in lines)
    assert _seqs(lines) == sorted(_seqs(lines))

    # without a filter: the whole chain, each line a complete record with its hashes
    r = await client.get(f"{AUDIT}/export", headers=sid)
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert _seqs(lines)[0] == 1 and _seqs(lines) == list(range(1, len(lines) + 1))
    assert lines[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))
    # the filters of the search apply to the export too
    r = await client.get(f"{AUDIT}/export", params={"outcome": "denied"}, headers=sid)
    assert [x["action"] for x in map(json.loads, r.text.splitlines())] == ["user.read"]


async def _audit_rows(world: World, actor: str, prefix: str = "audit.") -> list[AuditRecord]:
    tid = world.tenant_of(actor)
    async with world.rt.database.transaction(tenant_id=tid) as db:
        rows = await db.scalars(
            select(AuditRecord)
            .where(AuditRecord.actor_id == world.id(actor), AuditRecord.action.startswith(prefix))
            .order_by(AuditRecord.seq)
        )
        return list(rows.all())


async def test_reading_the_log_is_audited_and_limited_to_audit_roles(
    world: World, client: httpx.AsyncClient
) -> None:
    for name in ("cora", "sid"):
        h = await world.session_headers(name)
        assert (await client.get(AUDIT, params={"action": "user."}, headers=h)).status_code == 200
        assert (await client.get(f"{AUDIT}/export", headers=h)).status_code == 200
        r = await client.post(f"{AUDIT}/verify", headers=h)
        assert r.status_code == 200
        assert r.json()["ok"] is True and r.json()["checked"] > 10
        rows = await _audit_rows(world, name)
        assert [(x.action, x.outcome) for x in rows] == [
            ("audit.search", "success"),
            ("audit.export", "success"),
            ("audit.verify", "success"),
        ]
        assert rows[0].details == {"action": "user.", "limit": 100}
        assert rows[2].details["ok"] is True

    for name in ("mia", "uma"):
        h = await world.session_headers(name)
        responses = [
            await client.get(AUDIT, headers=h),
            await client.get(f"{AUDIT}/export", headers=h),
            await client.post(f"{AUDIT}/verify", headers=h),
        ]
        for r in responses:
            assert r.status_code == 403, r.text
            assert r.json()["type"].endswith("/forbidden")
            assert '"seq"' not in r.text
        rows = await _audit_rows(world, name)
        assert [(x.action, x.outcome) for x in rows] == [
            ("audit.read", "denied"),
            ("audit.export", "denied"),
            ("audit.verify", "denied"),
        ]

    # an audit admin without a recent second factor must step up first
    stale = await world.session_headers("cora", mfa=False)
    r = await client.get(AUDIT, headers=stale)
    assert r.status_code == 401 and r.json()["type"].endswith("/mfa-required")
    assert (await client.get(AUDIT)).status_code == 401

    # the chain after all this is still intact, and each tenant sees only its own log
    eve = await world.session_headers("eve")
    theirs = (await _search(client, eve, limit=1000))["records"]
    assert theirs and {x["tenant_id"] for x in theirs} == {str(world.tenant_of("eve"))}
    assert not any(x["actor_label"].endswith("@contoso.example") for x in theirs)
    r = await client.post(f"{AUDIT}/verify", headers=await world.session_headers("cora"))
    assert r.json()["ok"] is True


async def test_a_disable_and_a_refused_disable_share_one_action_name(
    world: World, client: httpx.AsyncClient
) -> None:
    sam = world.id("sam")
    r = await client.post(
        f"/api/admin/users/{sam}/disable", headers=await world.session_headers("mia")
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/admin/users/{sam}/disable", headers=await world.session_headers("olivia")
    )
    assert r.status_code == 200
    page = await _search(client, await world.session_headers("cora"), action="user.disable")
    assert [x["outcome"] for x in page["records"]] == ["denied", "success"]
