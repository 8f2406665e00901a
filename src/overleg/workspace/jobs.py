"""Workspace housekeeping run by the scheduler (and by ``overleg teams purge``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from overleg.identity.service import active_tenants
from overleg.kernel.runtime import Runtime
from overleg.security.principal import Principal, for_tenant, system
from overleg.workspace.service import PURGE_AFTER, purge_deleted_teams


async def purge_deleted_teams_everywhere(
    rt: Runtime, *, older_than: timedelta = PURGE_AFTER, actor: Principal | None = None
) -> list[tuple[str, uuid.UUID]]:
    """Purge every tenant's teams deleted more than ``older_than`` ago, one transaction per
    tenant; (tenant slug, team id) of each purged team. ``actor`` defaults to the system."""
    who = actor or system(job="teams.purge")
    async with rt.database.transaction(unscoped=True) as db:
        tenants = await active_tenants(db)
    out: list[tuple[str, uuid.UUID]] = []
    for t in tenants:
        async with rt.database.transaction(tenant_id=t.id) as db:
            purged = await purge_deleted_teams(for_tenant(who, t.id), db, older_than=older_than)
        out += [(t.slug, team_id) for team_id in purged]
    return out
