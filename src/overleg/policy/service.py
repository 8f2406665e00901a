"""Policy administration: read the current version, write a new one (audited).

Writes never edit a version in place; history is kept so that an auditor can see which
policy was in force when. Before a version is stored it must fit its schema and pass the
kind's check against the database, if it has one (``CHECKS``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity import service as identity
from overleg.kernel.errors import NotFound, ValidationFailed
from overleg.policy.models import TenantPolicy
from overleg.policy.schemas import POLICY_KINDS, MeetingPolicy, PolicyVersion
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize
from overleg.security.principal import Principal

P = TypeVar("P", bound=BaseModel)

#: a check of a validated policy against the session's tenant's data; raises
#: ValidationFailed (naming the field) to refuse the policy
Check = Callable[[AsyncSession, BaseModel], Awaitable[None]]


async def _meeting_groups_exist(db: AsyncSession, body: BaseModel) -> None:
    """Every group a meeting policy targets is a group of the organisation."""
    assert isinstance(body, MeetingPolicy)
    wanted = [
        (f"group_policies.{i}.group_ids", gid)
        for i, g in enumerate(body.group_policies)
        for gid in g.group_ids
    ]
    if not wanted:
        return
    found = await identity.existing_group_ids(db, {g for _, g in wanted})
    for field, gid in wanted:
        if gid not in found:
            raise ValidationFailed(
                f"{field}: no group with id {gid} in this organisation", extra={"field": field}
            )


#: per policy kind, what must hold in the database before a version is stored
CHECKS: dict[str, Check] = {"meetings": _meeting_groups_exist}


async def _latest(db: AsyncSession, kind: str) -> TenantPolicy | None:
    row: TenantPolicy | None = await db.scalar(
        select(TenantPolicy)
        .where(TenantPolicy.kind == kind)
        .order_by(TenantPolicy.version.desc())
        .limit(1)
    )
    return row


async def effective(db: AsyncSession, schema: type[P], kind: str) -> P:
    """The policy in force for the session's tenant (the default if never set).

    For services and the PDP; no authorization (reading the rules you are subject to).
    """
    row = await _latest(db, kind)
    return schema.model_validate(row.body) if row else schema()


def _schema(kind: str) -> type[BaseModel]:
    try:
        return POLICY_KINDS[kind]
    except KeyError:
        raise NotFound(f"No policy kind {kind!r}; known: {', '.join(POLICY_KINDS)}.") from None


async def get_policy(principal: Principal, db: AsyncSession, kind: str) -> PolicyVersion:
    authorize(principal, Action.POLICY_READ)
    schema = _schema(kind)
    row = await _latest(db, kind)
    if row is None:
        return PolicyVersion(
            kind=kind, version=0, body=schema().model_dump(), created_at=None, created_by=None
        )
    return PolicyVersion(
        kind=kind,
        version=row.version,
        body=row.body,
        created_at=row.created_at,
        created_by=row.created_by,
    )


async def set_policy(
    principal: Principal, db: AsyncSession, kind: str, body: dict[str, object]
) -> PolicyVersion:
    authorize(principal, Action.POLICY_MANAGE)
    schema = _schema(kind)
    try:
        new = schema.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise ValidationFailed(f"{field}: {first['msg']}", extra={"field": field}) from e
    check = CHECKS.get(kind)
    if check is not None:
        await check(db, new)
    row = await _latest(db, kind)
    before = row.body if row else schema().model_dump()
    version = (row.version if row else 0) + 1
    db.add(
        TenantPolicy(
            tenant_id=principal.tenant_id,
            kind=kind,
            version=version,
            body=new.model_dump(mode="json"),
            created_by=principal.label,
            created_by_id=principal.user_id,
        )
    )
    await db.flush()
    await record(
        principal,
        db,
        "policy.update",
        target_type="policy",
        target_id=kind,
        details={"version": version, "before": before, "after": new.model_dump(mode="json")},
    )
    return await get_policy(principal, db, kind)


async def policy_schema(principal: Principal, db: AsyncSession, kind: str) -> dict[str, Any]:
    """The JSON Schema a version of ``kind`` must fit: types, bounds, allowed values and
    defaults (the admin centre generates its forms from it)."""
    authorize(principal, Action.POLICY_READ)
    return _schema(kind).model_json_schema()


async def history(principal: Principal, db: AsyncSession, kind: str) -> list[PolicyVersion]:
    authorize(principal, Action.POLICY_READ)
    _schema(kind)
    rows = (
        await db.scalars(
            select(TenantPolicy).where(TenantPolicy.kind == kind).order_by(TenantPolicy.version)
        )
    ).all()
    return [
        PolicyVersion(
            kind=kind,
            version=r.version,
            body=r.body,
            created_at=r.created_at,
            created_by=r.created_by,
        )
        for r in rows
    ]
