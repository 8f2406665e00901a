"""``overleg db``: schema migrations."""

from __future__ import annotations

import typer
from alembic import command

from overleg.bootstrap import alembic_config, schema_status
from overleg.cli.common import console, run
from overleg.kernel.runtime import Runtime
from overleg.settings import Settings

app = typer.Typer(help="Database schema.", no_args_is_help=True)


def upgrade_schema(url: str) -> None:
    """Apply every migration (synchronously; alembic runs its own event loop)."""
    command.upgrade(alembic_config(url), "head")


@app.command("upgrade")
def upgrade() -> None:
    """Bring the database schema up to this version of Overleg."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    upgrade_schema(settings.db_url)
    console.print("schema is up to date")


@app.command("status")
def status() -> None:
    """Show the schema revision in the database and the one this version needs."""

    async def go(rt: Runtime) -> tuple[str | None, str | None]:
        return await schema_status(rt.database)

    current, head = run(go, schema=False)
    console.print(f"database: {current or 'none'}; needed: {head}")
    if current != head:
        raise typer.Exit(code=1)


__all__ = ["app", "upgrade_schema"]
