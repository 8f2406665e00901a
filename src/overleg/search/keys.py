"""Each tenant's search key: 32 random bytes, sealed with the tenant's data key.

Created lazily by the first message indexed for the tenant. Creation is race-safe: the
key row's primary key is the tenant id and the row is inserted with ``ON CONFLICT DO
NOTHING``, so two processes indexing the tenant's first messages at once agree on the
row that committed first (the loser reads it back and uses it).

Every use reads the sealed row (one primary-key lookup, joined with the tenant's key
state), so a shredded tenant's key stops working at once in every process, and a row
that was rolled back is never mistaken for the committed one. What is cached in memory
(per runtime) is the unsealing: sealed bytes -> key, which needs the tenant's DEK.
"""

from __future__ import annotations

import os
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.clock import now
from overleg.kernel.crypto.errors import KeyUnavailable
from overleg.kernel.crypto.models import TenantKeyState
from overleg.kernel.db.tenancy import TenantScopeError
from overleg.kernel.runtime import runtime_of
from overleg.search.blind import KEY_BYTES
from overleg.search.models import SearchKey, key_aad
from overleg.security.principal import system

_CACHE = "search.keys"  # Runtime.extras entry: {(tenant_id, sealed bytes): key}
_CACHE_LIMIT = 10_000


def check_scope(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Refuse to work for ``tenant_id`` in a session scoped to another tenant."""
    scope = db.info.get("tenant_id")
    if scope is not None and scope != tenant_id:
        raise TenantScopeError("search for one tenant in a session scoped to another")


async def search_key(db: AsyncSession, tenant_id: uuid.UUID, *, create: bool) -> bytes | None:
    """The tenant's search key; ``None`` if it has none yet and ``create`` is false.

    With ``create``, a missing key is made (and the creation audited) in the caller's
    transaction. ``KeyUnavailable`` if the tenant's keys were shredded or never made.
    """
    check_scope(db, tenant_id)
    sealed = await _sealed(db, tenant_id)
    if sealed is None and create:
        await _create(db, tenant_id)
        sealed = await _sealed(db, tenant_id)
        if sealed is None:  # pragma: no cover - the insert or a concurrent one made it
            raise RuntimeError("search key row vanished while being created")
    if sealed is None:
        return None
    cache: dict[tuple[uuid.UUID, bytes], bytes] = runtime_of(db).extras.setdefault(_CACHE, {})
    key = cache.get((tenant_id, sealed))
    if key is None:
        key = await runtime_of(db).keys.decrypt(db, tenant_id, sealed, key_aad(tenant_id))
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[(tenant_id, sealed)] = key
    return key


def forget(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Drop the tenant's unsealed search key from this process's memory."""
    cache: dict[tuple[uuid.UUID, bytes], bytes] = runtime_of(db).extras.get(_CACHE, {})
    for k in [k for k in cache if k[0] == tenant_id]:
        del cache[k]


async def _sealed(db: AsyncSession, tenant_id: uuid.UUID) -> bytes | None:
    row = (
        await db.execute(
            select(SearchKey.key_enc, TenantKeyState.shredded_at)
            .outerjoin(TenantKeyState, TenantKeyState.tenant_id == SearchKey.tenant_id)
            .where(SearchKey.tenant_id == tenant_id)
        )
    ).first()
    if row is None:
        return None
    if row.shredded_at is not None:
        forget(db, tenant_id)
        raise KeyUnavailable(f"the keys of tenant {tenant_id} were shredded")
    return bytes(row.key_enc)


async def _create(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    key = os.urandom(KEY_BYTES)
    sealed = await runtime_of(db).keys.encrypt(db, tenant_id, key, key_aad(tenant_id))
    values = {"tenant_id": tenant_id, "key_enc": sealed, "created_at": now()}
    dialect = (await db.connection()).dialect.name
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    result = await db.execute(
        insert(SearchKey).values(values).on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    if getattr(result, "rowcount", 0) == 1:
        await record(
            system(tenant_id, job="search"),
            db,
            "search.key_created",
            target_type="tenant",
            target_id=tenant_id,
        )
