"""``overleg tenant``: organisations and their domains."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from overleg.cli.common import console, fail, me, row, run, tenant_id
from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate, TenantPublic
from overleg.kernel.runtime import Runtime
from overleg.security.principal import for_tenant

app = typer.Typer(help="Organisations (tenants).", no_args_is_help=True)


@app.command("create")
def create(
    name: str,
    slug: str = typer.Option(..., help="short lowercase name used at sign-in"),
    domain: str | None = typer.Option(None, help="first e-mail domain"),
) -> None:
    """Create an organisation with its own keys and audit chain."""
    try:
        data = TenantCreate(name=name, slug=slug, domain=domain)
    except ValidationError as e:
        first = e.errors()[0]
        raise fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None

    async def go(rt: Runtime) -> TenantPublic:
        async with rt.database.transaction(unscoped=True) as db:
            return await identity.create_tenant(me(), db, data)

    t = run(go)
    console.print(f"created {t.slug} ({t.id})")


@app.command("list")
def list_() -> None:
    """List organisations."""

    async def go(rt: Runtime) -> list[TenantPublic]:
        async with rt.database.transaction(unscoped=True) as db:
            return await identity.list_tenants(me(), db)

    for t in run(go):
        row(t.slug, t.id, t.status, t.name)


@app.command("verify-domain")
def verify_domain(slug: str, domain: str) -> None:
    """Record that the organisation proved control of DOMAIN (after checking its TXT record)."""

    async def go(rt: Runtime) -> None:
        tid = await tenant_id(rt, slug)
        async with rt.database.transaction(tenant_id=tid) as db:
            await identity.mark_domain_verified(for_tenant(me(), tid), db, domain.lower())

    run(go)
    console.print(f"{domain} verified for {slug}")
