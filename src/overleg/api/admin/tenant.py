"""The organisation, its domains and its policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from overleg.api.deps import CurrentPrincipal, Db
from overleg.identity import service
from overleg.identity.schemas import DomainCreate, DomainPublic, TenantPublic
from overleg.policy import service as policy
from overleg.policy.schemas import PolicyVersion

router = APIRouter(prefix="/api/admin", tags=["admin: organisation"])


@router.get("/tenant", response_model=TenantPublic)
async def tenant(p: CurrentPrincipal, db: Db) -> TenantPublic:
    return await service.get_tenant(p, db)


@router.get("/domains", response_model=list[DomainPublic])
async def domains(p: CurrentPrincipal, db: Db) -> list[DomainPublic]:
    return await service.list_domains(p, db)


@router.post("/domains", response_model=DomainPublic, status_code=201)
async def add_domain(body: DomainCreate, p: CurrentPrincipal, db: Db) -> DomainPublic:
    """Publish the returned `txt_record` in DNS, then POST `/api/admin/domains/{domain}/verify`."""
    return await service.add_domain(p, db, body)


@router.post("/domains/{domain}/verify", response_model=DomainPublic)
async def verify_domain(domain: str, p: CurrentPrincipal, db: Db) -> DomainPublic:
    """Checks DNS for the domain's TXT record (see `txt_record`) and marks it verified."""
    return await service.verify_domain(p, db, domain.lower())


@router.get("/policies/{kind}", response_model=PolicyVersion, tags=["admin: policies"])
async def get_policy(kind: str, p: CurrentPrincipal, db: Db) -> PolicyVersion:
    return await policy.get_policy(p, db, kind)


@router.put("/policies/{kind}", response_model=PolicyVersion, tags=["admin: policies"])
async def set_policy(
    kind: str,
    p: CurrentPrincipal,
    db: Db,
    body: dict[str, Any] = Body(examples=[{"require": "all", "allow_recovery_codes": True}]),
) -> PolicyVersion:
    """Writes a new version; the previous ones stay in the history."""
    return await policy.set_policy(p, db, kind, body)


@router.get("/policies/{kind}/schema", response_model=dict[str, Any], tags=["admin: policies"])
async def policy_schema(kind: str, p: CurrentPrincipal, db: Db) -> dict[str, Any]:
    """The JSON Schema of the kind's body: types, bounds, allowed values and defaults."""
    return await policy.policy_schema(p, db, kind)


@router.get(
    "/policies/{kind}/history", response_model=list[PolicyVersion], tags=["admin: policies"]
)
async def policy_history(kind: str, p: CurrentPrincipal, db: Db) -> list[PolicyVersion]:
    return await policy.history(p, db, kind)
