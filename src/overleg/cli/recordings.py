"""``overleg recordings``: post-processing and expiry of meeting recordings, on demand."""

from __future__ import annotations

import uuid

import typer

from overleg.cli.common import me, row, run
from overleg.kernel.runtime import Runtime
from overleg.meetings.recordings.expiry import ExpiryRun, run_expiry_everywhere
from overleg.meetings.recordings.process import process_pending

app = typer.Typer(help="Meeting recordings.", no_args_is_help=True)


@app.command("process")
def process() -> None:
    """Post-process every stopped recording now (the server also does it every few
    seconds). Failed ones keep their raw files and raise an admin alert."""

    async def go(rt: Runtime) -> list[uuid.UUID]:
        return await process_pending(rt)

    done = run(go)
    for rec_id in done:
        row("ready", rec_id)
    typer.echo(f"{len(done)} recording(s) processed.")


@app.command("expire")
def expire() -> None:
    """Move expired recordings to the recycle state and purge those recycled longer than
    the policy's recycle period, now (the server does it every hour). Audited as you."""

    async def go(rt: Runtime) -> ExpiryRun:
        return await run_expiry_everywhere(rt, actor=me())

    done = run(go)
    for slug, rec_id in done.recycled:
        row("recycled", slug, rec_id)
    for slug, rec_id in done.purged:
        row("purged", slug, rec_id)
    typer.echo(f"{len(done.recycled)} recycled, {len(done.purged)} purged.")
