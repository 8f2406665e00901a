"""Per-tenant envelope encryption: KEKs in a provider, wrapped DEKs in the database.

Every tenant has its own KEK (``t-<tenant hex>-v<n>``) in the key provider and one or more
data-key versions in ``tenant_data_keys``, wrapped by that KEK. Content is sealed with the
newest non-retired DEK (see ``envelope``).

- **Rotation** creates KEK version n+1, re-wraps every DEK under it (content is not
  re-encrypted), retires the old DEKs for writing and adds a fresh DEK for new writes. Old
  KEK versions are KEPT: database backups taken before the rotation hold DEKs wrapped by
  them, and must stay restorable. ``destroy_retired_keks`` destroys them once such backups
  have expired; it acts only after its transaction commits (destroying earlier would lose
  keys if the commit then failed).
- **Shredding** destroys the tenant's KEKs in the provider at once, deletes the wrapped DEKs
  and marks the tenant shredded (for good: ``init_tenant`` refuses it afterwards). Wrapped
  DEKs restored from an old backup are useless without the KEK.

Concurrency: ``rotate`` and ``shred`` first take a write lock on the tenant's key-state
row, and ``init_tenant`` claims the tenant by inserting that row before touching the
provider, so two processes never work on the same tenant's KEKs at once. A KEK left behind
by a transaction that rolled back is never referenced by committed rows and is reused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from overleg.kernel.clock import now
from overleg.kernel.crypto.envelope import DEK_SIZE, open_sealed, peek_dek_version, seal
from overleg.kernel.crypto.errors import KeyExists, KeyUnavailable
from overleg.kernel.crypto.models import TenantDataKey, TenantKeyState, dek_aad
from overleg.kernel.crypto.providers.base import KeyProvider

log = logging.getLogger(__name__)

_DESTROY_AFTER_COMMIT = "overleg.crypto.destroy_after_commit"
#: session.info key: the DEKs this transaction has read, per KeyService: (tenant, version or
#: None for the current one) -> (version, dek); dropped when the transaction (or a
#: savepoint) ends
_TRANSACTION_DEKS = "overleg.crypto.transaction_deks"


def kek_id_for(tenant_id: uuid.UUID, version: int) -> str:
    """The provider id of a tenant's KEK version."""
    return f"t-{tenant_id.hex}-v{version}"


@dataclass(frozen=True)
class RotationResult:
    tenant_id: uuid.UUID
    old_kek_id: str
    new_kek_id: str
    kek_version: int
    #: DEK versions re-wrapped under the new KEK (all the tenant had before rotating)
    rewrapped: int
    #: the DEK version new writes now use
    new_dek_version: int


class KeyService:
    """Encrypts and decrypts tenant data; creates, rotates and shreds tenant keys.

    Methods work on the caller's session and transaction, scoped to the tenant or
    unscoped. Unwrapped DEKs are cached in memory for ``cache_ttl`` seconds; every
    transaction still reads the DEK row it uses (once: later calls in the same transaction
    use what it read, and rotate, shred and init_tenant in it start over), so a shred by
    another process takes effect here for every transaction that starts after it commits.
    """

    def __init__(self, provider: KeyProvider, *, cache_ttl: float = 300.0) -> None:
        self.provider = provider
        self._cache_ttl = cache_ttl
        # (tenant, version) -> (row id, dek, expires). The row id guards against a DEK row
        # that was rolled back and created again with the same version but another key.
        self._cache: dict[tuple[uuid.UUID, int], tuple[uuid.UUID, bytes, float]] = {}
        # this service's entry in a transaction's DEKs (another service, with another
        # provider, on the same session reads and unwraps for itself)
        self._token = object()

    # -- lifecycle -----------------------------------------------------------------

    async def init_tenant(self, db: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Create KEK v1 and DEK v1 for the tenant; nothing if it has keys already.

        ``KeyUnavailable`` if the tenant was shredded.
        """
        self._drop_transaction_deks(db, tenant_id)
        state = await self._state(db, tenant_id)
        if state is not None:
            if state.shredded_at is not None:
                raise KeyUnavailable(f"the keys of tenant {tenant_id} were shredded")
            return
        kek_id = kek_id_for(tenant_id, 1)
        # Claim the tenant before touching the provider: a concurrent init waits for or
        # fails on this primary key.
        db.add(TenantKeyState(tenant_id=tenant_id, kek_id=kek_id, kek_version=1))
        await db.flush()
        self._ensure_kek(kek_id)
        dek = os.urandom(DEK_SIZE)
        row = TenantDataKey(
            tenant_id=tenant_id,
            version=1,
            kek_id=kek_id,
            wrapped=self.provider.wrap(kek_id, dek, dek_aad(tenant_id, 1)),
            provider=self.provider.name,
        )
        db.add(row)
        await db.flush()

    async def rotate(self, db: AsyncSession, tenant_id: uuid.UUID) -> RotationResult:
        """Move the tenant to a new KEK version and a new DEK for writing.

        The old KEKs are destroyed when the transaction commits (not if it rolls back).
        ``KeyUnavailable`` if the tenant has no keys or was shredded.
        """
        await self._lock_state(db, tenant_id)
        self._drop_transaction_deks(db, tenant_id)
        state = await self._state(db, tenant_id)
        if state is None or state.shredded_at is not None:
            raise await self._missing(db, tenant_id)
        old_kek_id = state.kek_id
        kek_version = state.kek_version + 1
        new_kek_id = kek_id_for(tenant_id, kek_version)
        self._ensure_kek(new_kek_id)

        rows = await self._rows(db, tenant_id)
        stamp = now()
        for row in rows:
            aad = dek_aad(tenant_id, row.version)
            dek = self._unwrap(row, tenant_id)
            row.wrapped = self.provider.wrap(new_kek_id, dek, aad)
            row.kek_id = new_kek_id
            row.provider = self.provider.name
            if row.retired_at is None:
                row.retired_at = stamp
        new_dek_version = max((r.version for r in rows), default=0) + 1
        db.add(
            TenantDataKey(
                tenant_id=tenant_id,
                version=new_dek_version,
                kek_id=new_kek_id,
                wrapped=self.provider.wrap(
                    new_kek_id, os.urandom(DEK_SIZE), dek_aad(tenant_id, new_dek_version)
                ),
                provider=self.provider.name,
            )
        )
        state.kek_id = new_kek_id
        state.kek_version = kek_version
        await db.flush()
        self.forget(tenant_id)
        return RotationResult(
            tenant_id=tenant_id,
            old_kek_id=old_kek_id,
            new_kek_id=new_kek_id,
            kek_version=kek_version,
            rewrapped=len(rows),
            new_dek_version=new_dek_version,
        )

    async def destroy_retired_keks(self, db: AsyncSession, tenant_id: uuid.UUID) -> list[str]:
        """Destroy the tenant's KEK versions older than the current one, after commit.

        Do this only when no backup from before the last rotation needs restoring: such
        backups hold DEKs wrapped by the old versions. Returns the ids to be destroyed.
        """
        await self._lock_state(db, tenant_id)
        state = await self._state(db, tenant_id)
        if state is None or state.shredded_at is not None:
            raise await self._missing(db, tenant_id)
        old = [kek_id_for(tenant_id, v) for v in range(1, state.kek_version)]
        old = [k for k in old if self.provider.has_kek(k)]
        _destroy_after_commit(db, self.provider, old)
        return old

    async def shred(self, db: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Make every ciphertext of the tenant undecryptable, for good.

        The KEKs are destroyed in the provider immediately after the database changes are
        flushed, and stay destroyed even if the transaction later rolls back.
        """
        await self._lock_state(db, tenant_id)
        self._drop_transaction_deks(db, tenant_id)
        state = await self._state(db, tenant_id)
        rows = await self._rows(db, tenant_id)
        keks = {r.kek_id for r in rows}
        stamp = now()
        if state is None:
            # Record the shred anyway, so the tenant can never be given keys again.
            db.add(TenantKeyState(tenant_id=tenant_id, kek_id="", kek_version=0, shredded_at=stamp))
        else:
            # +1: a KEK of a rotation that rolled back may be lying around too.
            keks |= {kek_id_for(tenant_id, v) for v in range(1, state.kek_version + 2)}
            if state.shredded_at is None:
                state.shredded_at = stamp
        await db.execute(
            delete(TenantDataKey)
            .where(TenantDataKey.tenant_id == tenant_id)
            .execution_options(synchronize_session="fetch")
        )
        await db.flush()
        self.forget(tenant_id)
        for kek_id in sorted(keks):
            self.provider.destroy_kek(kek_id)

    def forget(self, tenant_id: uuid.UUID) -> None:
        """Drop the tenant's cached DEKs from memory."""
        for key in [k for k in self._cache if k[0] == tenant_id]:
            del self._cache[key]

    # -- data ----------------------------------------------------------------------

    async def encrypt(
        self, db: AsyncSession, tenant_id: uuid.UUID, plaintext: bytes, aad: bytes
    ) -> bytes:
        """Seal ``plaintext`` with the tenant's current DEK. ``KeyUnavailable`` if the
        tenant has no keys (never initialised, or shredded)."""
        known = self._transaction_deks(db)
        hit = known.get((tenant_id, None))
        if hit is None:
            row = await db.scalar(
                select(TenantDataKey)
                .where(TenantDataKey.tenant_id == tenant_id, TenantDataKey.retired_at.is_(None))
                .order_by(TenantDataKey.version.desc())
                .limit(1)
                .execution_options(populate_existing=True)
            )
            if row is None:
                raise await self._missing(db, tenant_id)
            hit = known[(tenant_id, None)] = (row.version, self._dek(tenant_id, row))
            known[(tenant_id, row.version)] = hit
        version, dek = hit
        return seal(dek, version, plaintext, aad)

    async def decrypt(
        self, db: AsyncSession, tenant_id: uuid.UUID, blob: bytes, aad: bytes
    ) -> bytes:
        """Open a blob from ``encrypt`` with the DEK version it names.

        ``DecryptionFailed`` for a malformed or tampered blob or wrong ``aad``;
        ``KeyUnavailable`` if that DEK or its KEK is gone (shredded).
        """
        version = peek_dek_version(blob)
        known = self._transaction_deks(db)
        hit = known.get((tenant_id, version))
        if hit is None:
            row = await db.scalar(
                select(TenantDataKey)
                .where(TenantDataKey.tenant_id == tenant_id, TenantDataKey.version == version)
                .execution_options(populate_existing=True)
            )
            if row is None:
                self.forget(tenant_id)
                raise await self._missing(db, tenant_id, version)
            hit = known[(tenant_id, version)] = (version, self._dek(tenant_id, row))
        dek = hit[1]
        return open_sealed(lambda _v: dek, blob, aad)

    # -- internals -----------------------------------------------------------------

    def _transaction_deks(
        self, db: AsyncSession
    ) -> dict[tuple[uuid.UUID, int | None], tuple[int, bytes]]:
        per_service: dict[object, dict[tuple[uuid.UUID, int | None], tuple[int, bytes]]]
        per_service = db.info.setdefault(_TRANSACTION_DEKS, {})
        return per_service.setdefault(self._token, {})

    def _drop_transaction_deks(self, db: AsyncSession, tenant_id: uuid.UUID) -> None:
        known = self._transaction_deks(db)
        for key in [k for k in known if k[0] == tenant_id]:
            del known[key]

    def _dek(self, tenant_id: uuid.UUID, row: TenantDataKey) -> bytes:
        key = (tenant_id, row.version)
        hit = self._cache.get(key)
        clock = time.monotonic()
        if hit is not None and hit[0] == row.id and hit[2] > clock:
            return hit[1]
        dek = self._unwrap(row, tenant_id)
        self._cache[key] = (row.id, dek, clock + self._cache_ttl)
        return dek

    def _unwrap(self, row: TenantDataKey, tenant_id: uuid.UUID) -> bytes:
        if row.provider != self.provider.name:
            raise KeyUnavailable(
                f"DEK v{row.version} of tenant {tenant_id} is wrapped by the "
                f"{row.provider!r} key provider, this process uses {self.provider.name!r}"
            )
        return self.provider.unwrap(row.kek_id, row.wrapped, dek_aad(tenant_id, row.version))

    def _ensure_kek(self, kek_id: str) -> None:
        # An existing KEK here was made by an attempt that rolled back or crashed (the
        # caller holds the tenant's state row, and it does not name this KEK yet): reuse it.
        if not self.provider.has_kek(kek_id):
            with contextlib.suppress(KeyExists):
                self.provider.create_kek(kek_id)

    async def _state(self, db: AsyncSession, tenant_id: uuid.UUID) -> TenantKeyState | None:
        return await db.scalar(
            select(TenantKeyState)
            .where(TenantKeyState.tenant_id == tenant_id)
            .execution_options(populate_existing=True)
        )

    async def _lock_state(self, db: AsyncSession, tenant_id: uuid.UUID) -> None:
        # A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so
        # the state read after it is current and stays ours until commit.
        await db.execute(
            update(TenantKeyState)
            .where(TenantKeyState.tenant_id == tenant_id)
            .values(kek_version=TenantKeyState.kek_version)
            .execution_options(synchronize_session=False)
        )

    async def _rows(self, db: AsyncSession, tenant_id: uuid.UUID) -> list[TenantDataKey]:
        result = await db.scalars(
            select(TenantDataKey)
            .where(TenantDataKey.tenant_id == tenant_id)
            .order_by(TenantDataKey.version)
            .execution_options(populate_existing=True)
        )
        return list(result)

    async def _missing(
        self, db: AsyncSession, tenant_id: uuid.UUID, version: int | None = None
    ) -> KeyUnavailable:
        state = await self._state(db, tenant_id)
        if state is not None and state.shredded_at is not None:
            return KeyUnavailable(f"the keys of tenant {tenant_id} were shredded")
        if version is not None and state is not None:
            return KeyUnavailable(f"tenant {tenant_id} has no data key version {version}")
        return KeyUnavailable(f"tenant {tenant_id} has no data keys (not initialised)")


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction_deks(session: Session, transaction: SessionTransaction) -> None:
    # every transaction reads the DEK rows again (a shred elsewhere must take effect), and
    # a savepoint's end may have undone a rotation or an init: start over either way (a
    # flush's inner transaction ends nothing)
    if transaction.parent is None or transaction.nested:
        session.info.pop(_TRANSACTION_DEKS, None)


def _destroy_after_commit(db: AsyncSession, provider: KeyProvider, kek_ids: list[str]) -> None:
    pending: list[tuple[KeyProvider, str]] = db.info.setdefault(_DESTROY_AFTER_COMMIT, [])
    pending.extend((provider, k) for k in kek_ids)


@event.listens_for(Session, "after_commit")
def _destroy_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction may still roll back
    for provider, kek_id in session.info.pop(_DESTROY_AFTER_COMMIT, ()):
        try:
            provider.destroy_kek(kek_id)
        except Exception:
            # The commit has happened; failing now would only confuse the caller. The KEK
            # is unreferenced, and the next rotation of the tenant tries again.
            log.exception("could not destroy retired KEK %s", kek_id)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, _previous: Any) -> None:
    # Whatever rotation queued these may have been rolled back with it: keeping an unused
    # KEK is harmless, destroying a used one is not.
    session.info.pop(_DESTROY_AFTER_COMMIT, None)
