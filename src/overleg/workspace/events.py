"""The ``membership.changed`` event, the one way teams, channels and chats announce who
joined, left or was moved (the realtime clients refetch what they may now see)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.events.outbox import emit
from overleg.security.principal import Principal


async def membership_changed(
    db: AsyncSession,
    principal: Principal,
    container_type: str,
    container_id: uuid.UUID,
    change: str,
    recipients: Iterable[uuid.UUID],
    **about: Any,
) -> None:
    """Queue the event for ``recipients`` in the caller's transaction. ``about`` adds ids
    such as ``user_id`` or ``user_ids`` (already JSON-ready)."""
    await emit(
        db,
        tenant_id=principal.tenant_id,
        type="membership.changed",
        payload={
            "container_type": container_type,
            "container_id": str(container_id),
            "change": change,
            **about,
        },
        recipients=recipients,
    )
