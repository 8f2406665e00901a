"""Session-level tenant scoping.

A session is opened either for one tenant (``info["tenant_id"]``) or explicitly unscoped
(``info["unscoped"] = True``, for system jobs, the operator CLI and sign-in lookups that
must find a user's tenant). A scoped session:

- adds ``tenant_id == scope`` to every ORM SELECT/UPDATE/DELETE of a ``TenantScoped``
  entity (``with_loader_criteria``), including relationship loads;
- refuses to flush a ``TenantScoped`` row of another tenant (and fills a missing one).

A session that is neither refuses to run ORM statements on tenant-owned entities, so a
forgotten scope is an error, not a leak.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from overleg.kernel.db.base import TenantScoped


class TenantScopeError(RuntimeError):
    """Code touched tenant-owned rows without a tenant scope, or across tenants."""


def _touches_tenant_rows(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, TenantScoped) for m in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    info = state.session.info
    tenant_id = info.get("tenant_id")
    if tenant_id is None:
        if not info.get("unscoped") and _touches_tenant_rows(state):
            raise TenantScopeError("tenant-owned rows queried from a session without scope")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            if not session.info.get("unscoped"):
                raise TenantScopeError("tenant-owned row written from a session without scope")
            continue
        if obj.tenant_id is None and obj in session.new:
            obj.tenant_id = tenant_id
        if obj.tenant_id != tenant_id:
            raise TenantScopeError("write to a row of another tenant refused")
