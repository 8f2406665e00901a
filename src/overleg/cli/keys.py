"""``overleg keys``: rotate tenant key-encryption keys."""

from __future__ import annotations

import typer

from overleg.audit.service import record
from overleg.cli.common import console, fail, me, run, tenant_id
from overleg.identity.service import list_tenants
from overleg.kernel.runtime import Runtime
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize
from overleg.security.principal import for_tenant

app = typer.Typer(help="Encryption keys.", no_args_is_help=True)


@app.command("rotate")
def rotate(
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="default: every tenant"),
) -> None:
    """New key-encryption key; data keys are re-wrapped (content is not re-encrypted) and
    new writes use a fresh data key."""

    async def go(rt: Runtime) -> list[str]:
        if tenant:
            targets = [(tenant, await tenant_id(rt, tenant))]
        else:
            async with rt.database.transaction(unscoped=True) as db:
                targets = [(t.slug, t.id) for t in await list_tenants(me(), db)]
        lines = []
        for slug, tid in targets:
            op = for_tenant(me(), tid)
            async with rt.database.transaction(tenant_id=tid) as db:
                authorize(op, Action.KEYS_ROTATE)
                result = await rt.keys.rotate(db, tid)
                await record(
                    op,
                    db,
                    "keys.rotate",
                    target_type="tenant",
                    target_id=tid,
                    details=result.__dict__,
                )
            lines.append(
                f"{slug}: now {result.new_kek_id}, {result.rewrapped} data keys re-wrapped, "
                f"new writes use data key v{result.new_dek_version}"
            )
        return lines

    for line in run(go):
        console.print(line, highlight=False)


@app.command("destroy-retired")
def destroy_retired(
    tenant: str = typer.Option(..., "--tenant", "-t"),
    yes: bool = typer.Option(False, "--yes", help="confirm: no older backup needs restoring"),
) -> None:
    """Destroy the organisation's key-encryption keys from before the last rotation.

    Database backups taken before that rotation become unreadable: run this only once
    they have expired.
    """
    if not yes:
        raise fail("this makes backups from before the last rotation unreadable; add --yes")

    async def go(rt: Runtime) -> list[str]:
        tid = await tenant_id(rt, tenant)
        op = for_tenant(me(), tid)
        async with rt.database.transaction(tenant_id=tid) as db:
            authorize(op, Action.KEYS_ROTATE)
            destroyed = await rt.keys.destroy_retired_keks(db, tid)
            await record(
                op,
                db,
                "keys.destroy_retired",
                target_type="tenant",
                target_id=tid,
                details={"kek_ids": destroyed},
            )
        return destroyed

    destroyed = run(go)
    console.print(f"{tenant}: destroyed {len(destroyed)} retired key-encryption keys")
