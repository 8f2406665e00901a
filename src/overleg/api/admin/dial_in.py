"""Credentials of dial-in (PSTN/SIP) gateways: create (shown once), list, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from overleg.api.deps import CurrentPrincipal, Db
from overleg.meetings import dial_in
from overleg.meetings.schemas import (
    DialInGatewayCreate,
    DialInGatewayCreated,
    DialInGatewayPublic,
)

router = APIRouter(prefix="/api/admin/dial-in/gateways", tags=["admin: dial-in"])


@router.post("", response_model=DialInGatewayCreated, status_code=201)
async def create_gateway(
    body: DialInGatewayCreate, p: CurrentPrincipal, db: Db
) -> DialInGatewayCreated:
    """The token is in this answer only: configure it in the gateway now."""
    return await dial_in.create_gateway(p, db, body)


@router.get("", response_model=list[DialInGatewayPublic])
async def list_gateways(p: CurrentPrincipal, db: Db) -> list[DialInGatewayPublic]:
    return await dial_in.list_gateways(p, db)


@router.delete("/{gateway_id}", status_code=204)
async def revoke_gateway(gateway_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> None:
    """The gateway's token stops working at once."""
    await dial_in.revoke_gateway(p, db, gateway_id)
