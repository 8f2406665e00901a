"""Which meeting policy governs a meeting, and which organisations are trusted.

The organizer's policy governs (as in Teams): the first group policy whose groups include
the organizer, else the organisation's default. Read on every decision, so a policy
change applies to meetings already scheduled.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.identity import service as identity
from overleg.policy.schemas import FederationPolicy, MeetingPolicy, MeetingPolicySettings
from overleg.policy.service import effective


async def policy_for(db: AsyncSession, organizer_id: uuid.UUID) -> MeetingPolicySettings:
    """The meeting policy of ``organizer_id`` in the session's tenant."""
    policy = await effective(db, MeetingPolicy, "meetings")
    if not policy.group_policies:
        return policy.default
    groups = set(await identity.groups_of_user_id(db, organizer_id))
    for g in policy.group_policies:
        if groups.intersection(g.group_ids):
            return g.settings
    return policy.default


async def trusted_domains(db: AsyncSession) -> frozenset[str]:
    """E-mail domains of organisations the session's tenant trusts (federation policy)."""
    return frozenset((await effective(db, FederationPolicy, "federation")).trusted_domains)
