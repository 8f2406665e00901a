"""``overleg user``: accounts."""

from __future__ import annotations

from typing import Literal

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.cli.common import console, fail, me, row, run, tenant_id
from overleg.identity import service as identity
from overleg.identity.schemas import UserCreate, UserCreated, UserPublic
from overleg.kernel.errors import NotFound
from overleg.kernel.runtime import Runtime
from overleg.security.principal import Principal, for_tenant

app = typer.Typer(help="User accounts.", no_args_is_help=True)
TENANT = typer.Option(..., "--tenant", "-t", help="organisation short name")


async def _find(principal: Principal, db: AsyncSession, email: str) -> UserPublic:
    for u in await identity.list_users(principal, db):
        if u.email == email.lower():
            return u
    raise NotFound(f"no user {email} in this organisation")


@app.command("create")
def create(
    email: str,
    name: str = typer.Option(..., help="display name"),
    tenant: str = TENANT,
    role: list[str] = typer.Option(
        [],
        help="admin role (repeatable): global_admin, security_admin, compliance_admin, user_admin",
    ),
    guest: bool = typer.Option(False, help="a guest from another organisation"),
) -> None:
    """Create a user; prints a one-time password."""
    kind: Literal["member", "guest"] = "guest" if guest else "member"
    try:
        data = UserCreate(email=email, display_name=name, kind=kind, admin_roles=role)
    except ValidationError as e:
        first = e.errors()[0]
        raise fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None

    async def go(rt: Runtime) -> UserCreated:
        tid = await tenant_id(rt, tenant)
        async with rt.database.transaction(tenant_id=tid) as db:
            return await identity.create_user(for_tenant(me(), tid), db, data)

    out = run(go)
    console.print(f"created {out.user.email} ({out.user.id})")
    console.print(f"one-time password: {out.one_time_password}")


@app.command("list")
def list_(tenant: str = TENANT) -> None:
    """List users of an organisation."""

    async def go(rt: Runtime) -> list[UserPublic]:
        tid = await tenant_id(rt, tenant)
        async with rt.database.transaction(tenant_id=tid) as db:
            return await identity.list_users(for_tenant(me(), tid), db)

    for u in run(go):
        roles = ",".join(u.admin_roles) or "-"
        mfa = "mfa" if u.mfa_enabled else "no-mfa"
        row(u.email, u.kind, u.status, roles, mfa, u.id)


def _act(tenant: str, email: str, verb: str) -> UserPublic:
    async def go(rt: Runtime) -> UserPublic:
        tid = await tenant_id(rt, tenant)
        async with rt.database.transaction(tenant_id=tid) as db:
            op = for_tenant(me(), tid)
            u = await _find(op, db, email)
            fn = {
                "disable": identity.disable_user,
                "enable": identity.enable_user,
                "reset-mfa": identity.reset_mfa,
            }[verb]
            return await fn(op, db, u.id)

    return run(go)


@app.command("disable")
def disable(email: str, tenant: str = TENANT) -> None:
    """Disable an account; its sessions end at once."""
    u = _act(tenant, email, "disable")
    console.print(f"{u.email} is {u.status}")


@app.command("enable")
def enable(email: str, tenant: str = TENANT) -> None:
    """Enable a disabled account."""
    u = _act(tenant, email, "enable")
    console.print(f"{u.email} is {u.status}")


@app.command("reset-mfa")
def reset_mfa(email: str, tenant: str = TENANT) -> None:
    """Remove a user's second factors; they enrol again at next sign-in."""
    u = _act(tenant, email, "reset-mfa")
    console.print(f"second factors of {u.email} removed")
