"""Benchmark 1: successful password sign-ins through the real app, against bare argon2.

Subject: ``POST /api/v1/auth/sign-in`` with the right password for a user without a second
factor, sent one after another by an httpx.AsyncClient over ASGITransport (no sockets),
through the whole middleware, routing, validation, unit of work, throttle bookkeeping,
argon2 verify, session creation and audit record, committed.

Baseline: ``argon2.PasswordHasher(...).verify`` of the same stored hash and password with
the same parameters, in a bare loop. The ratio shows what everything but argon2 costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import argon2
import httpx

from overleg.identity import service as identity
from overleg.identity.models import User
from overleg.identity.schemas import TenantCreate, UserCreate
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.security.principal import for_tenant, operator
from tests.bench.measure import Comparison, bounded, bounded_sync
from tests.fixtures.world import PASSWORD

OPERATOR = operator("bench")
EMAIL = "mia@contoso.example"


@dataclass
class SignInResult:
    comparison: Comparison
    params: str


async def _seed(rt: Runtime) -> str:
    """Create the tenant and the user; return the stored password hash."""
    async with rt.database.transaction(unscoped=True) as db:
        tenant = await identity.create_tenant(
            OPERATOR, db, TenantCreate(name="Contoso", slug="contoso", domain="contoso.example")
        )
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        created = await identity.create_user(
            for_tenant(OPERATOR, tenant.id),
            db,
            UserCreate(email=EMAIL, display_name="Mia", password=PASSWORD),
        )
        user = await db.get(User, created.user.id)
        assert user is not None and user.password_hash is not None
        return user.password_hash


async def run(rt: Runtime, *, rounds: int, per_round: int, seconds: float) -> SignInResult:
    stored = await _seed(rt)
    s = rt.settings
    bare = argon2.PasswordHasher(
        time_cost=s.argon2_time_cost,
        memory_cost=s.argon2_memory_kib,
        parallelism=s.argon2_parallelism,
    )
    params = (
        f"argon2id t={s.argon2_time_cost}, m={s.argon2_memory_kib // 1024} MiB, "
        f"p={s.argon2_parallelism}"
    )
    assert f"m={s.argon2_memory_kib},t={s.argon2_time_cost},p={s.argon2_parallelism}" in stored

    def verify() -> int:
        assert bare.verify(stored, PASSWORD)
        return 1

    app = create_app(rt, check_schema=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    body = {"email": EMAIL, "password": PASSWORD}
    result = Comparison()
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def sign_in() -> int:
            r = await client.post("/api/v1/auth/sign-in", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "signed_in", r.text
            return 1

        # Warm up both (first request builds validators, opens the pool, ...).
        await sign_in()
        verify()
        for i in range(rounds):
            # Alternate which goes first so drift in machine load hits both alike.
            order = (True, False) if i % 2 == 0 else (False, True)
            for subject in order:
                if subject:
                    sample = await bounded(sign_in, max_count=per_round, max_seconds=seconds)
                    result.subject.samples.append(sample)
                else:
                    sample = bounded_sync(verify, max_count=per_round, max_seconds=seconds)
                    result.baseline.samples.append(sample)
    return SignInResult(result, params)
