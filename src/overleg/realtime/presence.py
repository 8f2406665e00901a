"""Presence: whether someone is reachable, from their connections and their own choice.

Nothing about attention is observed (see docs/privacy.md): "online" means "has at least
one event socket open", and the availability is what the user chose
(``PUT /api/v1/me/presence``); "away" is never inferred from idleness.

``PresenceTracker`` counts this node's sockets per user. With Redis it also keeps, per
user, a sorted set of the nodes where the user has sockets, scored with an expiry time
that each node renews every ``ttl / 3`` seconds; a node that dies stops renewing, so its
users drop out after at most ``ttl`` seconds instead of staying online for ever. The
scores are wall-clock times: nodes need synchronised clocks (NTP), as for sessions.
Without Redis the counts are this process's only. When Redis cannot be reached, the
tracker answers from its own counts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.identity.models import User
from overleg.realtime.models import UserPresence
from overleg.security.authz.visibility import can_see_user
from overleg.security.principal import Principal

log = structlog.get_logger("overleg.realtime")

AVAILABILITIES = ("available", "busy", "do_not_disturb", "away", "offline")
DEFAULT = "available"
_Key = tuple[uuid.UUID, uuid.UUID]  # (tenant, user)


def effective(chosen: str | None, online: bool) -> str:
    """What others see: "offline" without a connection or when the user chose to appear
    offline, else the chosen availability (default "available")."""
    if not online or chosen == "offline":
        return "offline"
    return chosen or DEFAULT


async def chosen(db: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The availability each of ``user_ids`` chose, for those who chose one."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await db.execute(
        select(UserPresence.user_id, UserPresence.availability).where(
            UserPresence.user_id.in_(wanted)
        )
    )
    return {u: a for u, a in rows}


async def visible(
    principal: Principal, db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of ``user_ids`` whose presence ``principal`` may see, in the given order:
    accounts of the session's tenant that are not deleted and that
    ``security.authz.visibility.can_see_user`` allows."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    rows = await db.scalars(select(User).where(User.id.in_(wanted), User.status != "deleted"))
    allowed = {u.id for u in rows if can_see_user(principal, u)}
    return [u for u in wanted if u in allowed]


class PresenceTracker:
    """Counts sockets per user on this node, and shares them over Redis when given one."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        node_id: str,
        ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.node_id = node_id
        self.ttl = ttl
        self.clock = clock  # wall-clock seconds (tests move it)
        self.local: dict[_Key, int] = {}

    @staticmethod
    def _key(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
        return f"overleg:presence:{tenant_id.hex}:{user_id.hex}"

    async def connected(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Count one more socket; True if the user was offline everywhere before."""
        k = (tenant_id, user_id)
        n = self.local.get(k, 0)
        self.local[k] = n + 1
        if n > 0:
            return False
        if self.redis is None:
            return True
        key, t = self._key(tenant_id, user_id), self.clock()
        try:
            async with self.redis.pipeline(transaction=True) as p:
                p.zremrangebyscore(key, "-inf", t)
                p.zcard(key)
                p.zadd(key, {self.node_id: t + self.ttl})
                p.expire(key, self.ttl * 2)
                _, before, _, _ = await p.execute()
        except (RedisError, OSError) as e:
            log.warning("presence_redis_unavailable", error=type(e).__name__)
            return True
        return int(before) == 0

    async def disconnected(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Count one socket less; True if the user is now offline everywhere."""
        k = (tenant_id, user_id)
        n = self.local.get(k, 0) - 1
        if n > 0:
            self.local[k] = n
            return False
        self.local.pop(k, None)
        if self.redis is None:
            return True
        key = self._key(tenant_id, user_id)
        try:
            async with self.redis.pipeline(transaction=True) as p:
                p.zrem(key, self.node_id)
                p.zremrangebyscore(key, "-inf", self.clock())
                p.zcard(key)
                _, _, remaining = await p.execute()
        except (RedisError, OSError) as e:
            log.warning("presence_redis_unavailable", error=type(e).__name__)
            return True
        return int(remaining) == 0

    async def online(self, tenant_id: uuid.UUID, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``user_ids`` have a socket open on any node."""
        ids = list(user_ids)
        here = {u for u in ids if self.local.get((tenant_id, u))}
        rest = [u for u in ids if u not in here]
        if self.redis is None or not rest:
            return here
        t = self.clock()
        try:
            async with self.redis.pipeline(transaction=False) as p:
                for u in rest:
                    p.zcount(self._key(tenant_id, u), t, "+inf")
                counts = await p.execute()
        except (RedisError, OSError) as e:
            log.warning("presence_redis_unavailable", error=type(e).__name__)
            return here
        return here | {u for u, c in zip(rest, counts, strict=True) if int(c) > 0}

    async def heartbeat(self) -> None:
        """Renew this node's entries (also re-adds them after Redis lost its data)."""
        if self.redis is None or not self.local:
            return
        expiry = self.clock() + self.ttl
        try:
            async with self.redis.pipeline(transaction=False) as p:
                for tenant_id, user_id in list(self.local):
                    key = self._key(tenant_id, user_id)
                    p.zadd(key, {self.node_id: expiry})
                    p.expire(key, self.ttl * 2)
                await p.execute()
        except (RedisError, OSError) as e:
            log.warning("presence_heartbeat_failed", error=type(e).__name__)

    async def clear(self) -> None:
        """Forget this node's sockets (shutdown)."""
        keys, self.local = list(self.local), {}
        if self.redis is None or not keys:
            return
        try:
            async with self.redis.pipeline(transaction=False) as p:
                for tenant_id, user_id in keys:
                    p.zrem(self._key(tenant_id, user_id), self.node_id)
                await p.execute()
        except (RedisError, OSError):
            pass  # the entries expire on their own
