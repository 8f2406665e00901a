from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, inspect, select

from overleg.kernel.crypto.envelope import peek_dek_version
from overleg.kernel.crypto.errors import DecryptionFailed, KeyUnavailable
from overleg.kernel.crypto.keys import KeyService, kek_id_for
from overleg.kernel.crypto.models import TenantDataKey, TenantKeyState, dek_aad
from overleg.kernel.crypto.providers.base import KeyProvider
from overleg.kernel.crypto.providers.local import LocalKeyringProvider
from overleg.kernel.crypto.providers.pkcs11 import Pkcs11Provider
from overleg.kernel.db.session import Database
from overleg.kernel.ids import new_id

MASTER = bytes(range(32))

MakeProvider = Callable[[], KeyProvider]


class Counting(KeyProvider):
    """Delegates to a real provider and counts unwraps (to observe the DEK cache)."""

    def __init__(self, inner: KeyProvider, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.unwraps = 0

    def create_kek(self, kek_id: str) -> None:
        self.inner.create_kek(kek_id)

    def wrap(self, kek_id: str, dek: bytes, aad: bytes) -> bytes:
        return self.inner.wrap(kek_id, dek, aad)

    def unwrap(self, kek_id: str, blob: bytes, aad: bytes) -> bytes:
        self.unwraps += 1
        return self.inner.unwrap(kek_id, blob, aad)

    def destroy_kek(self, kek_id: str) -> None:
        self.inner.destroy_kek(kek_id)

    def has_kek(self, kek_id: str) -> bool:
        return self.inner.has_kek(kek_id)

    def check(self) -> None:
        self.inner.check()


@pytest.fixture(params=["local", pytest.param("pkcs11", marks=pytest.mark.hsm)])
def make_provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeProvider]:
    """Makes fresh provider instances over one key store (keyring file or HSM token)."""
    made: list[KeyProvider] = []

    def make() -> KeyProvider:
        p: KeyProvider
        if request.param == "local":
            p = LocalKeyringProvider(tmp_path / "keyring.json", MASTER)
        else:
            hsm = request.getfixturevalue("softhsm")
            p = Pkcs11Provider(hsm.lib_path, hsm.label, hsm.pin)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def provider(make_provider: MakeProvider) -> KeyProvider:
    return make_provider()


async def new_tenant(database: Database, ks: KeyService) -> uuid.UUID:
    tid = new_id()
    async with database.transaction(unscoped=True) as s:
        await ks.init_tenant(s, tid)
    return tid


def aad(tid: uuid.UUID) -> bytes:
    return b"doc:" + tid.bytes


async def seal(database: Database, ks: KeyService, tid: uuid.UUID, data: bytes) -> bytes:
    async with database.transaction(tenant_id=tid) as s:
        return await ks.encrypt(s, tid, data, aad(tid))


async def decrypt(database: Database, ks: KeyService, tid: uuid.UUID, blob: bytes) -> bytes:
    async with database.transaction(tenant_id=tid) as s:
        return await ks.decrypt(s, tid, blob, aad(tid))


async def rows_of(database: Database, tid: uuid.UUID) -> list[TenantDataKey]:
    async with database.transaction(unscoped=True) as s:
        result = await s.scalars(
            select(TenantDataKey)
            .where(TenantDataKey.tenant_id == tid)
            .order_by(TenantDataKey.version)
        )
        return list(result)


async def state_of(database: Database, tid: uuid.UUID) -> TenantKeyState | None:
    async with database.transaction(unscoped=True) as s:
        return await s.get(TenantKeyState, tid)


def as_dict(obj: Any) -> dict[str, Any]:
    return {a.key: getattr(obj, a.key) for a in inspect(type(obj)).column_attrs}


# -- encrypt / decrypt -------------------------------------------------------------


async def test_encrypt_decrypt_round_trip(database: Database, make_provider: MakeProvider) -> None:
    ks = KeyService(make_provider())
    tid = await new_tenant(database, ks)
    blob = await seal(database, ks, tid, b"secret text")
    assert peek_dek_version(blob) == 1
    assert b"secret text" not in blob
    assert await decrypt(database, ks, tid, blob) == b"secret text"
    # A fresh service (empty cache) and provider instance read it from the database.
    fresh = KeyService(make_provider())
    assert await decrypt(database, fresh, tid, blob) == b"secret text"
    async with database.transaction(unscoped=True) as s:
        with pytest.raises(DecryptionFailed):
            await fresh.decrypt(s, tid, blob, b"another aad")


async def test_tenants_have_their_own_keys(database: Database, provider: KeyProvider) -> None:
    ks = KeyService(provider)
    a, b = await new_tenant(database, ks), await new_tenant(database, ks)
    blob = await seal(database, ks, a, b"for a only")
    with pytest.raises(DecryptionFailed):
        async with database.transaction(tenant_id=b) as s:
            await ks.decrypt(s, b, blob, aad(a))
    state_a, state_b = await state_of(database, a), await state_of(database, b)
    assert state_a is not None and state_b is not None
    assert state_a.kek_id == kek_id_for(a, 1) != state_b.kek_id == kek_id_for(b, 1)
    assert provider.has_kek(state_a.kek_id) and provider.has_kek(state_b.kek_id)


async def test_init_tenant_is_idempotent(database: Database, provider: KeyProvider) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    before = [as_dict(r) for r in await rows_of(database, tid)]
    async with database.transaction(tenant_id=tid) as s:
        await ks.init_tenant(s, tid)
    assert [as_dict(r) for r in await rows_of(database, tid)] == before
    assert len(before) == 1
    assert not provider.has_kek(kek_id_for(tid, 2))


async def test_uninitialised_tenant_has_no_keys(database: Database, provider: KeyProvider) -> None:
    ks = KeyService(provider)
    other = await new_tenant(database, ks)
    blob = await seal(database, ks, other, b"x")
    tid = new_id()
    async with database.transaction(unscoped=True) as s:
        with pytest.raises(KeyUnavailable, match="not initialised"):
            await ks.encrypt(s, tid, b"x", b"")
        with pytest.raises(KeyUnavailable):
            await ks.decrypt(s, tid, blob, aad(other))


async def test_unwrapped_deks_are_cached_and_dropped_on_rotate_and_forget(
    database: Database, provider: KeyProvider
) -> None:
    counting = Counting(provider)
    ks = KeyService(counting)
    tid = await new_tenant(database, ks)
    blobs = [await seal(database, ks, tid, b"m%d" % i) for i in range(3)]
    for blob in blobs:
        assert await decrypt(database, ks, tid, blob)
    assert counting.unwraps == 1
    async with database.transaction(unscoped=True) as s:
        await ks.rotate(s, tid)
    unwraps_after_rotate = counting.unwraps  # the rotation unwrapped v1 to re-wrap it
    assert await decrypt(database, ks, tid, blobs[0])
    assert counting.unwraps == unwraps_after_rotate + 1
    ks.forget(tid)
    assert await decrypt(database, ks, tid, blobs[0])
    assert counting.unwraps == unwraps_after_rotate + 2


async def test_cache_expires(database: Database, provider: KeyProvider) -> None:
    counting = Counting(provider)
    ks = KeyService(counting, cache_ttl=0)
    tid = await new_tenant(database, ks)
    blob = await seal(database, ks, tid, b"x")
    await decrypt(database, ks, tid, blob)
    await decrypt(database, ks, tid, blob)
    assert counting.unwraps == 3


async def test_cache_does_not_outlive_a_rolled_back_init(
    database: Database, make_provider: MakeProvider
) -> None:
    ks = KeyService(make_provider())
    tid = new_id()
    with pytest.raises(RuntimeError):
        async with database.transaction(unscoped=True) as s:
            await ks.init_tenant(s, tid)
            await ks.encrypt(s, tid, b"x", aad(tid))  # caches a DEK v1 that never commits
            raise RuntimeError
    async with database.transaction(unscoped=True) as s:
        await ks.init_tenant(s, tid)  # a different DEK v1
    blob = await seal(database, ks, tid, b"after")
    assert await decrypt(database, KeyService(make_provider()), tid, blob) == b"after"


async def test_dek_of_another_provider_is_unavailable(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    blob = await seal(database, ks, tid, b"x")
    elsewhere = KeyService(Counting(provider, name="other"))
    with pytest.raises(KeyUnavailable, match="other"):
        await decrypt(database, elsewhere, tid, blob)


# -- rotation ----------------------------------------------------------------------


async def test_rotate(database: Database, make_provider: MakeProvider) -> None:
    provider = make_provider()
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    blob1 = await seal(database, ks, tid, b"written before rotation")
    (before,) = await rows_of(database, tid)

    async with database.transaction(tenant_id=tid) as s:
        result = await ks.rotate(s, tid)

    assert result.old_kek_id == kek_id_for(tid, 1)
    assert result.new_kek_id == kek_id_for(tid, 2)
    assert (result.kek_version, result.rewrapped, result.new_dek_version) == (2, 1, 2)
    assert provider.has_kek(result.old_kek_id)  # kept: older backups need it
    assert provider.has_kek(result.new_kek_id)
    v1, v2 = await rows_of(database, tid)
    assert v1.id == before.id
    assert v1.kek_id == v2.kek_id == result.new_kek_id
    assert v1.wrapped != before.wrapped
    assert v1.retired_at is not None and v2.retired_at is None
    state = await state_of(database, tid)
    assert state is not None
    assert (state.kek_id, state.kek_version) == (result.new_kek_id, 2)
    # The pre-rotation wrapping (e.g. from a backup) still opens until the old KEK goes.
    assert provider.unwrap(before.kek_id, before.wrapped, dek_aad(tid, 1))
    async with database.transaction(tenant_id=tid) as s:
        assert await ks.destroy_retired_keks(s, tid) == [result.old_kek_id]
    assert not provider.has_kek(result.old_kek_id)
    with pytest.raises(KeyUnavailable):
        provider.unwrap(before.kek_id, before.wrapped, dek_aad(tid, 1))

    fresh = KeyService(make_provider())
    assert await decrypt(database, fresh, tid, blob1) == b"written before rotation"
    blob2 = await seal(database, fresh, tid, b"written after rotation")
    assert peek_dek_version(blob2) == 2

    async with database.transaction(unscoped=True) as s:
        again = await fresh.rotate(s, tid)
    assert (again.kek_version, again.rewrapped, again.new_dek_version) == (3, 2, 3)
    assert provider.has_kek(kek_id_for(tid, 2))
    other = KeyService(make_provider())
    assert await decrypt(database, other, tid, blob1) == b"written before rotation"
    assert await decrypt(database, other, tid, blob2) == b"written after rotation"
    assert peek_dek_version(await seal(database, other, tid, b"new")) == 3


async def test_rolled_back_rotation_keeps_the_old_kek(
    database: Database, make_provider: MakeProvider
) -> None:
    provider = make_provider()
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    blob = await seal(database, ks, tid, b"precious")

    with pytest.raises(RuntimeError, match="boom"):
        async with database.transaction(unscoped=True) as s:
            await ks.rotate(s, tid)
            raise RuntimeError("boom")

    assert provider.has_kek(kek_id_for(tid, 1))
    state = await state_of(database, tid)
    assert state is not None and state.kek_version == 1
    assert await decrypt(database, KeyService(make_provider()), tid, blob) == b"precious"
    # The next rotation goes through (reusing the KEK the failed attempt created).
    async with database.transaction(unscoped=True) as s:
        result = await ks.rotate(s, tid)
    assert result.kek_version == 2
    assert provider.has_kek(kek_id_for(tid, 1))
    with pytest.raises(RuntimeError, match="boom"):
        async with database.transaction(unscoped=True) as s:
            await ks.destroy_retired_keks(s, tid)
            raise RuntimeError("boom")
    assert provider.has_kek(kek_id_for(tid, 1))  # not destroyed: the transaction rolled back
    async with database.transaction(unscoped=True) as s:
        await ks.destroy_retired_keks(s, tid)
    assert not provider.has_kek(kek_id_for(tid, 1))
    assert await decrypt(database, KeyService(make_provider()), tid, blob) == b"precious"


async def test_rotation_in_a_savepoint_waits_for_the_outer_commit(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    blob = await seal(database, ks, tid, b"precious")

    with pytest.raises(RuntimeError, match="boom"):
        async with database.transaction(unscoped=True) as s:
            async with s.begin_nested():
                await ks.rotate(s, tid)
            assert provider.has_kek(kek_id_for(tid, 1))  # savepoint released, not committed
            raise RuntimeError("boom")

    assert provider.has_kek(kek_id_for(tid, 1))
    assert await decrypt(database, KeyService(provider), tid, blob) == b"precious"


async def test_rotation_in_a_rolled_back_savepoint_keeps_the_old_kek(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    blob = await seal(database, ks, tid, b"precious")

    async with database.transaction(unscoped=True) as s:
        with pytest.raises(RuntimeError, match="boom"):
            async with s.begin_nested():
                await ks.rotate(s, tid)
                raise RuntimeError("boom")
        # the outer transaction commits, without the rotation

    assert provider.has_kek(kek_id_for(tid, 1))
    state = await state_of(database, tid)
    assert state is not None and state.kek_version == 1
    assert await decrypt(database, KeyService(provider), tid, blob) == b"precious"


async def test_rotate_needs_keys(database: Database, provider: KeyProvider) -> None:
    ks = KeyService(provider)
    async with database.transaction(unscoped=True) as s:
        with pytest.raises(KeyUnavailable):
            await ks.rotate(s, new_id())


# -- shredding ---------------------------------------------------------------------


async def test_shred_is_final_even_with_restored_backup_rows(
    database: Database, make_provider: MakeProvider
) -> None:
    provider = make_provider()
    ks = KeyService(provider)
    tid, bystander = await new_tenant(database, ks), await new_tenant(database, ks)
    blob = await seal(database, ks, tid, b"to be forgotten")
    kept = await seal(database, ks, bystander, b"to be kept")
    assert await decrypt(database, ks, tid, blob)  # DEK now cached in ks
    # "Backup" of the tenant's key rows, taken before the shred.
    backup_rows = [as_dict(r) for r in await rows_of(database, tid)]
    backup_state = await state_of(database, tid)
    assert backup_rows and backup_state is not None
    backup_state_row = as_dict(backup_state)

    async with database.transaction(unscoped=True) as s:
        await ks.shred(s, tid)

    assert not provider.has_kek(kek_id_for(tid, 1))
    assert await rows_of(database, tid) == []
    state = await state_of(database, tid)
    assert state is not None and state.shredded_at is not None
    with pytest.raises(KeyUnavailable, match="shredded"):
        await decrypt(database, ks, tid, blob)
    async with database.transaction(unscoped=True) as s:
        with pytest.raises(KeyUnavailable, match="shredded"):
            await ks.encrypt(s, tid, b"new", b"")
        with pytest.raises(KeyUnavailable, match="shredded"):
            await ks.init_tenant(s, tid)
    assert await decrypt(database, ks, bystander, kept) == b"to be kept"

    # Restore the backup: the rows come back exactly as they were, state included.
    async with database.transaction(unscoped=True) as s:
        await s.execute(delete(TenantKeyState).where(TenantKeyState.tenant_id == tid))
        s.add(TenantKeyState(**backup_state_row))
        s.add_all(TenantDataKey(**row) for row in backup_rows)
    assert len(await rows_of(database, tid)) == len(backup_rows)

    fresh_provider = make_provider()
    fresh = KeyService(fresh_provider)
    with pytest.raises(KeyUnavailable):
        await decrypt(database, fresh, tid, blob)
    for row in backup_rows:
        with pytest.raises(KeyUnavailable):
            fresh_provider.unwrap(row["kek_id"], row["wrapped"], dek_aad(tid, row["version"]))
    assert await decrypt(database, fresh, bystander, kept) == b"to be kept"


async def test_shred_destroys_every_kek_version(database: Database, provider: KeyProvider) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    async with database.transaction(unscoped=True) as s:
        await ks.rotate(s, tid)
    with pytest.raises(RuntimeError):
        async with database.transaction(unscoped=True) as s:
            await ks.rotate(s, tid)  # leaves KEK v3 behind when rolled back
            raise RuntimeError
    assert provider.has_kek(kek_id_for(tid, 3))
    async with database.transaction(tenant_id=tid) as s:
        await ks.shred(s, tid)
    assert not any(provider.has_kek(kek_id_for(tid, v)) for v in (1, 2, 3))
    async with database.transaction(unscoped=True) as s:
        count = await s.scalar(
            select(func.count()).select_from(TenantDataKey).where(TenantDataKey.tenant_id == tid)
        )
    assert count == 0


async def test_shred_of_unknown_tenant_blocks_later_init(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = new_id()
    async with database.transaction(unscoped=True) as s:
        await ks.shred(s, tid)
    async with database.transaction(unscoped=True) as s:
        with pytest.raises(KeyUnavailable, match="shredded"):
            await ks.init_tenant(s, tid)
    assert not provider.has_kek(kek_id_for(tid, 1))
