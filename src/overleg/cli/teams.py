"""``overleg teams``: housekeeping of teams."""

from __future__ import annotations

import uuid
from datetime import timedelta

import typer

from overleg.cli.common import me, row, run
from overleg.identity.service import list_tenants
from overleg.kernel.runtime import Runtime
from overleg.security.principal import for_tenant
from overleg.workspace import service

app = typer.Typer(help="Teams.", no_args_is_help=True)


@app.command("purge")
def purge(days: int = typer.Option(30, min=0, help="deleted at least this many days ago")) -> None:
    """Remove teams deleted more than DAYS days ago, with all their content (audited).
    Run it daily from a timer; until then deleted teams stay restorable in the database."""

    async def go(rt: Runtime) -> list[tuple[str, uuid.UUID]]:
        out: list[tuple[str, uuid.UUID]] = []
        async with rt.database.transaction(unscoped=True) as db:
            tenants = await list_tenants(me(), db)
        for t in tenants:
            async with rt.database.transaction(tenant_id=t.id) as db:
                purged = await service.purge_deleted_teams(
                    for_tenant(me(), t.id), db, older_than=timedelta(days=days)
                )
            out += [(t.slug, tid) for tid in purged]
        return out

    purged = run(go)
    for slug, tid in purged:
        row(slug, tid)
    typer.echo(f"{len(purged)} team(s) purged.")
