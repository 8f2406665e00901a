"""``overleg teams``: housekeeping of teams."""

from __future__ import annotations

import uuid
from datetime import timedelta

import typer

from overleg.cli.common import me, row, run
from overleg.kernel.runtime import Runtime
from overleg.workspace.jobs import purge_deleted_teams_everywhere

app = typer.Typer(help="Teams.", no_args_is_help=True)


@app.command("purge")
def purge(days: int = typer.Option(30, min=0, help="deleted at least this many days ago")) -> None:
    """Remove teams deleted more than DAYS days ago, with all their content (audited).
    Run it daily from a timer; until then deleted teams stay restorable in the database."""

    async def go(rt: Runtime) -> list[tuple[str, uuid.UUID]]:
        return await purge_deleted_teams_everywhere(rt, older_than=timedelta(days=days), actor=me())

    purged = run(go)
    for slug, tid in purged:
        row(slug, tid)
    typer.echo(f"{len(purged)} team(s) purged.")
