"""Entry point: ``overleg --help``."""

from __future__ import annotations

import typer

from overleg.cli import (
    audit,
    db,
    keys,
    media,
    recordings,
    scan,
    server,
    storage,
    teams,
    tenants,
    users,
)

app = typer.Typer(
    help="Overleg: run and administer a self-hosted team workspace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("init")(server.init)
app.command("serve")(server.serve)
app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenant")
app.add_typer(users.app, name="user")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(teams.app, name="teams")
app.add_typer(media.app, name="media")
app.add_typer(recordings.app, name="recordings")
app.add_typer(scan.app, name="scan")
app.add_typer(storage.app, name="storage")


def main() -> None:
    app()
