"""Brute-force protection over HTTP: growing delays per account and address, blocks that
end, familiar addresses that an attacker elsewhere cannot lock out, and an audit record
for every failure."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from overleg.security.models import SignInThrottle
from tests.api.conftest import (
    HOME_IP,
    Advance,
    audit,
    client_from,
    problem,
    sign_in,
)
from tests.fixtures.world import World

WRONG = "surely not the password 42"
MIA = "mia@contoso.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "throttle_account_ip_threshold": 3,
        "throttle_account_threshold": 5,
        "throttle_ip_threshold": 50,
        "throttle_max_delay_seconds": 60,
    }


def _throttled(r: httpx.Response) -> int:
    body = problem(r, 429, "too-many-attempts")
    retry_after = int(r.headers["retry-after"])
    assert body["retry_after"] == retry_after > 0
    return retry_after


async def test_failures_block_the_account_and_address_for_growing_times(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        problem(await sign_in(client, MIA, WRONG), 401)
    # blocked now: the right password is not even looked at
    assert _throttled(await sign_in(client, MIA)) == 1
    assert _throttled(await sign_in(client, MIA, WRONG)) == 1

    waits = []
    for _ in range(3):
        frozen(seconds=waits[-1] if waits else 1)  # exactly when the block ends
        problem(await sign_in(client, MIA, WRONG), 401)
        waits.append(_throttled(await sign_in(client, MIA)))
    assert waits == [2, 4, 8]

    # blocks end; the right password then works and clears the counters
    frozen(seconds=8)
    r = await sign_in(client, MIA)
    assert r.status_code == 200, r.text
    problem(await sign_in(client, MIA, WRONG), 401)  # counting starts over: no block

    records = await audit(world.rt, "auth.sign_in", target_id=str(world.id("mia")))
    reasons = [r.details.get("reason", "ok") for r in records]
    # every attempt is recorded, the refused ones as failures
    assert reasons == (
        ["wrong password"] * 3
        + ["throttled"] * 2
        + ["wrong password", "throttled"] * 3
        + ["ok", "wrong password"]
    )
    assert all(r.outcome == ("success" if r.details.get("state") else "failed") for r in records)
    assert all(r.ip == "203.0.113.10" for r in records)
    throttled = [r for r in records if r.details.get("reason") == "throttled"]
    assert [r.details["retry_after"] for r in throttled] == [1, 1, 2, 4, 8]

    # a counter that stays quiet for twice the longest delay starts over
    for _ in range(2):
        problem(await sign_in(client, MIA, WRONG), 401)
    _throttled(await sign_in(client, MIA, WRONG))  # the 3rd failure blocks
    frozen(seconds=121)
    problem(await sign_in(client, MIA, WRONG), 401)
    # without the fresh start this would be the 4th failure in a row, and blocked
    problem(await sign_in(client, MIA, WRONG), 401)


async def test_unknown_addresses_are_throttled_like_known_ones(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    """Otherwise the 429 a real account earns, and an unknown one never does, tells an
    attacker which addresses exist."""
    for email in (MIA, "nobody@contoso.example"):
        statuses = [(await sign_in(client, email, WRONG)).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429], email
    r = await sign_in(client, "nobody@contoso.example", WRONG)
    assert (r.status_code, r.headers["retry-after"]) == (429, "1")
    # ... and the block of one address does not spill over to another
    problem(await sign_in(client, "nobody2@contoso.example", WRONG), 401)
    frozen(seconds=1)
    problem(await sign_in(client, "nobody@contoso.example", WRONG), 401)


async def test_simultaneous_failures_are_all_counted_and_audited(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    """An attacker does not wait for answers. Attempts in parallel must neither fail
    differently (a 409 from two first failures creating the same counter) nor escape
    the counters and the audit log."""
    answers = await asyncio.gather(*(sign_in(client, MIA, WRONG) for _ in range(8)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {401, 429}, [r.text for r in answers]
    records = await audit(world.rt, "auth.sign_in", target_id=str(world.id("mia")))
    assert len(records) == 8
    assert all(r.outcome == "failed" for r in records)
    wrong = [r for r in records if r.details["reason"] == "wrong password"]
    assert len(wrong) == statuses.count(401) >= 3
    async with world.rt.database.session(unscoped=True, readonly=True) as db:
        counters = (await db.scalars(select(SignInThrottle))).all()
    assert {c.key.split(":")[0]: c.failures for c in counters} == {
        "acctip": len(wrong),
        "acct": len(wrong),
        "ip": len(wrong),
    }
    _throttled(await sign_in(client, MIA))


async def test_an_attacker_elsewhere_cannot_lock_out_a_familiar_address(
    frozen: Advance, world: World, client: httpx.AsyncClient
) -> None:
    async with client_from(world.rt, HOME_IP) as home:
        r = await sign_in(home, MIA)  # mia has signed in from home before
        assert r.status_code == 200, r.text

        # a spread-out attack: each address stays below its own threshold
        problem(await sign_in(client, MIA, WRONG), 401)
        problem(await sign_in(client, MIA, WRONG), 401)
        async with client_from(world.rt, "192.0.2.66") as other:
            for _ in range(3):
                problem(await sign_in(other, MIA, WRONG), 401)
        # ... but the account as a whole is blocked for unfamiliar addresses
        async with client_from(world.rt, "192.0.2.99") as unfamiliar:
            assert _throttled(await sign_in(unfamiliar, MIA)) >= 1

        r = await sign_in(home, MIA)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "signed_in"

    failed = await audit(world.rt, "auth.sign_in", target_id=str(world.id("mia")), outcome="failed")
    assert [(f.ip, f.details["reason"]) for f in failed] == (
        [("203.0.113.10", "wrong password")] * 2
        + [("192.0.2.66", "wrong password")] * 3
        + [("192.0.2.99", "throttled")]
    )
