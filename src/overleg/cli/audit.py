"""``overleg audit``: search, export and verify the hash-chained audit log."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import typer

from overleg.audit import service
from overleg.audit.chain import SYSTEM_TENANT
from overleg.audit.schemas import AuditPage, AuditQuery, VerifyResult
from overleg.cli.common import console, fail, me, row, run, tenant_id
from overleg.identity.service import list_tenants
from overleg.kernel.runtime import Runtime
from overleg.security.principal import for_tenant

app = typer.Typer(help="Audit log.", no_args_is_help=True)


def _query(
    actor: str | None,
    action: str | None,
    target: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> AuditQuery:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise fail(f"--{name} needs a time zone, e.g. 2026-11-01T00:00:00+00:00")
    return AuditQuery(
        actor=actor, action=action, target=target, since=since, until=until, limit=limit
    )


@app.command("search")
def search(
    tenant: str = typer.Option(..., "--tenant", "-t"),
    actor: str | None = None,
    action: str | None = typer.Option(None, help="exact, or a prefix ending in '.'"),
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = typer.Option(100, min=1, max=1000),
) -> None:
    """Show matching audit records, oldest first."""
    q = _query(actor, action, target, since, until, limit)

    async def go(rt: Runtime) -> AuditPage:
        tid = await tenant_id(rt, tenant)
        async with rt.database.transaction(tenant_id=tid) as db:
            return await service.search(for_tenant(me(), tid), db, q)

    for r in run(go).records:
        target = f"{r.target_type or '-'}:{r.target_id or '-'}"
        row(r.seq, r.at.isoformat(), r.actor_label, r.action, r.outcome, target)


@app.command("export")
def export(
    tenant: str = typer.Option(..., "--tenant", "-t"),
    output: Path | None = typer.Option(None, "--output", "-o", help="file (default: stdout)"),
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """Export records as JSON Lines."""
    q = _query(None, action, None, since, until, 1000)

    async def go(rt: Runtime) -> int:
        tid = await tenant_id(rt, tenant)
        async with rt.database.transaction(tenant_id=tid) as db:
            await service.start_export(for_tenant(me(), tid), db, q)
        out = output.open("wb") if output else sys.stdout.buffer
        n = 0
        try:
            async for line in service.export_stream(rt.database, tid, q):
                out.write(line)
                n += 1
        finally:
            if output:
                out.close()
        return n

    n = run(go)
    if output:
        console.print(f"{n} records written to {output}")


@app.command("verify")
def verify(
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="default: every chain"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Walk the hash chain(s); exit 1 and name the first bad record if anything was changed."""

    async def go(rt: Runtime) -> list[tuple[str, VerifyResult]]:
        if tenant:
            chains = [(tenant, await tenant_id(rt, tenant))]
        else:
            async with rt.database.transaction(unscoped=True) as db:
                chains = [("(system)", SYSTEM_TENANT)] + [
                    (t.slug, t.id) for t in await list_tenants(me(), db)
                ]
        results = []
        for name, tid in chains:
            async with rt.database.transaction(tenant_id=tid) as db:
                results.append((name, await service.verify(for_tenant(me(), tid), db)))
        return results

    results = run(go)
    bad = False
    for name, r in results:
        if as_json:
            console.print_json(json.dumps({"chain": name, **r.model_dump(mode="json")}))
        elif r.ok:
            console.print(f"{name}: ok, {r.checked} records")
        else:
            console.print(
                f"{name}: BROKEN at record {r.first_bad_seq} ({r.first_bad_id}): {r.reason}",
                highlight=False,
            )
        bad = bad or not r.ok
    if bad:
        raise typer.Exit(code=1)
