"""Helpers for the HTTP-level tests: sign in, read audit records, count rows, problems."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from overleg.audit.models import AuditRecord
from overleg.kernel import clock
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.security.authn import totp
from tests.fixtures.world import PASSWORD

SIGN_IN = "/api/v1/auth/sign-in"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}
#: addresses used as "other computers" (documentation ranges, RFC 5737)
HOME_IP = "198.51.100.7"


async def sign_in(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    keep_cookie: bool = False,
    **extra: Any,
) -> httpx.Response:
    """POST the sign-in form. The client's cookie jar is emptied afterwards unless
    ``keep_cookie``: most tests authenticate with an explicit Bearer header."""
    r = await client.post(SIGN_IN, json={"email": email, "password": password, **extra})
    if not keep_cookie:
        client.cookies.clear()
    return r


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signed_in(client: httpx.AsyncClient, email: str, **extra: Any) -> dict[str, str]:
    """Sign in (no second factor involved) and return the Bearer headers."""
    r = await sign_in(client, email, **extra)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed_in", r.json()
    return bearer(r.json()["token"])


def problem(r: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    """Assert ``r`` is an RFC 9457 problem with ``status`` (and type slug); return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body.keys() >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["instance"] == r.request.url.path
    if slug is not None:
        assert body["type"].endswith("/" + slug), body
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def audit(rt: Runtime, action: str | None = None, **where: Any) -> list[AuditRecord]:
    """Audit records of every tenant (oldest first), optionally filtered by column values."""
    stmt = select(AuditRecord).order_by(AuditRecord.at, AuditRecord.seq)
    if action is not None:
        stmt = stmt.where(AuditRecord.action == action)
    for column, value in where.items():
        stmt = stmt.where(getattr(AuditRecord, column) == value)
    async with rt.database.session(unscoped=True, readonly=True) as db:
        return list((await db.scalars(stmt)).all())


async def count_rows(rt: Runtime, model: type[Any]) -> int:
    async with rt.database.session(unscoped=True, readonly=True) as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


@asynccontextmanager
async def client_from(rt: Runtime, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another computer: a client whose requests come from ``ip``."""
    transport = httpx.ASGITransport(app=create_app(rt, check_schema=False), client=(ip, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


Advance = Callable[..., datetime]


@pytest.fixture
def frozen() -> Advance:
    """Freeze the clock at the start of a TOTP step; call the result to move it forward
    (``advance(minutes=16)``). The root conftest unfreezes after the test."""
    t = datetime.now(UTC)
    start = t - timedelta(seconds=t.second % 30, microseconds=t.microsecond)
    clock.freeze(start)

    def advance(**delta: float) -> datetime:
        clock.freeze(clock.now() + timedelta(**delta))
        return clock.now()

    return advance


def code_now(secret: str) -> str:
    """The authenticator app's code at the (frozen) current time."""
    return totp.code_at(secret, clock.now())


def wrong_code(secret: str) -> str:
    """A six-digit code that no step around now accepts."""
    valid = {totp.code_at(secret, clock.now() + totp.PERIOD * k) for k in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)
