"""A transaction reads each data-key row it uses once; nothing it read outlives it.

``KeyService.encrypt``/``decrypt`` keep the DEKs they read for the rest of the transaction
(a file upload opens and seals with the tenant's key many times). These tests pin down the
limits of that: per transaction, per tenant, per key service; rotate, shred and init in
the same transaction start over; a savepoint's end starts over; a shred committed
elsewhere takes effect in the next transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from overleg.kernel.crypto.envelope import peek_dek_version
from overleg.kernel.crypto.errors import DecryptionFailed, KeyUnavailable
from overleg.kernel.crypto.keys import KeyService
from overleg.kernel.crypto.models import TenantKeyState
from overleg.kernel.crypto.providers.base import KeyProvider
from overleg.kernel.crypto.providers.local import LocalKeyringProvider
from overleg.kernel.db.session import Database
from overleg.kernel.ids import new_id

MASTER = bytes(range(32))


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[KeyProvider]:
    p = LocalKeyringProvider(tmp_path / "keyring.json", MASTER)
    yield p
    p.close()


class Renamed(LocalKeyringProvider):
    """The same key store under another provider name (a process configured otherwise)."""

    name = "elsewhere"


@pytest.fixture
def key_reads(database: Database) -> Iterator[list[str]]:
    """The SELECTs on the data-key table, as they are sent."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "tenant_data_keys" in statement:
            seen.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


async def new_tenant(database: Database, ks: KeyService) -> uuid.UUID:
    tid = new_id()
    async with database.transaction(unscoped=True) as s:
        await ks.init_tenant(s, tid)
    return tid


def aad(tid: uuid.UUID) -> bytes:
    return b"doc:" + tid.bytes


async def test_a_transaction_reads_a_key_row_once_and_the_next_reads_it_again(
    database: Database, provider: KeyProvider, key_reads: list[str]
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    key_reads.clear()
    async with database.transaction(unscoped=True) as s:
        blobs = [await ks.encrypt(s, tid, b"m%d" % i, aad(tid)) for i in range(3)]
        s.add(TenantKeyState(tenant_id=new_id(), kek_id="x", kek_version=1))
        await s.flush()  # a flush ends no transaction
        assert [await ks.decrypt(s, tid, b, aad(tid)) for b in blobs] == [b"m0", b"m1", b"m2"]
    # the current key once (encrypt), nothing for decrypting with the same version
    assert len(key_reads) == 1
    async with database.transaction(tenant_id=tid) as s:
        assert await ks.decrypt(s, tid, blobs[0], aad(tid)) == b"m0"
    assert len(key_reads) == 2


async def test_a_shred_committed_elsewhere_holds_for_the_next_transaction(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    async with database.transaction(tenant_id=tid) as s:
        blob = await ks.encrypt(s, tid, b"secret", aad(tid))
        assert await ks.decrypt(s, tid, blob, aad(tid)) == b"secret"
    async with database.transaction(unscoped=True) as s:
        await KeyService(provider).shred(s, tid)
    async with database.transaction(tenant_id=tid) as s:
        with pytest.raises(KeyUnavailable):
            await ks.decrypt(s, tid, blob, aad(tid))
        with pytest.raises(KeyUnavailable):
            await ks.encrypt(s, tid, b"new", aad(tid))


async def test_rotate_and_shred_in_the_same_transaction_start_over(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    async with database.transaction(unscoped=True) as s:
        before = await ks.encrypt(s, tid, b"before", aad(tid))
        await ks.rotate(s, tid)
        after = await ks.encrypt(s, tid, b"after", aad(tid))
        assert (peek_dek_version(before), peek_dek_version(after)) == (1, 2)
        assert await ks.decrypt(s, tid, before, aad(tid)) == b"before"
        await ks.shred(s, tid)
        for blob in (before, after):
            with pytest.raises(KeyUnavailable):
                await ks.decrypt(s, tid, blob, aad(tid))
        with pytest.raises(KeyUnavailable):
            await ks.encrypt(s, tid, b"later", aad(tid))


async def test_a_rolled_back_savepoint_takes_its_rotation_along(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    async with database.transaction(unscoped=True) as s:
        with pytest.raises(RuntimeError, match="boom"):
            async with s.begin_nested():
                await ks.rotate(s, tid)
                in_savepoint = await ks.encrypt(s, tid, b"x", aad(tid))
                assert peek_dek_version(in_savepoint) == 2
                raise RuntimeError("boom")
        # DEK v2 is gone with the savepoint: nothing may still seal with it
        assert peek_dek_version(await ks.encrypt(s, tid, b"y", aad(tid))) == 1
        with pytest.raises(KeyUnavailable):
            await ks.decrypt(s, tid, in_savepoint, aad(tid))


async def test_tenants_do_not_share_what_a_transaction_read(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    a, b = await new_tenant(database, ks), await new_tenant(database, ks)
    async with database.transaction(unscoped=True) as s:
        of_a = await ks.encrypt(s, a, b"a's", aad(a))
        of_b = await ks.encrypt(s, b, b"b's", aad(a))  # the same aad: only the key differs
        assert await ks.decrypt(s, a, of_a, aad(a)) == b"a's"
        assert await ks.decrypt(s, b, of_b, aad(a)) == b"b's"
        # both are DEK v1, each tenant's own: neither opens as the other's
        with pytest.raises(DecryptionFailed):
            await ks.decrypt(s, b, of_a, aad(a))
        with pytest.raises(DecryptionFailed):
            await ks.decrypt(s, a, of_b, aad(a))


async def test_another_key_service_on_the_same_session_reads_for_itself(
    database: Database, provider: KeyProvider, tmp_path: Path
) -> None:
    ks = KeyService(provider)
    tid = await new_tenant(database, ks)
    elsewhere = KeyService(Renamed(tmp_path / "keyring.json", MASTER))
    async with database.transaction(tenant_id=tid) as s:
        blob = await ks.encrypt(s, tid, b"x", aad(tid))
        assert await ks.decrypt(s, tid, blob, aad(tid)) == b"x"
        # its provider did not wrap this tenant's DEK: the row says so, whatever ks read
        with pytest.raises(KeyUnavailable, match="elsewhere"):
            await elsewhere.decrypt(s, tid, blob, aad(tid))
        with pytest.raises(KeyUnavailable, match="elsewhere"):
            await elsewhere.encrypt(s, tid, b"y", aad(tid))


async def test_an_init_rolled_back_leaves_nothing_for_the_next_transaction(
    database: Database, provider: KeyProvider
) -> None:
    ks = KeyService(provider)
    tid = new_id()
    s = database.session(unscoped=True)
    async with s:
        async with s.begin():
            await ks.init_tenant(s, tid)
            first = await ks.encrypt(s, tid, b"x", aad(tid))
            await s.rollback()
        # the same session, a new transaction: the tenant has no keys
        async with s.begin():
            with pytest.raises(KeyUnavailable):
                await ks.decrypt(s, tid, first, aad(tid))
            with pytest.raises(KeyUnavailable):
                await ks.encrypt(s, tid, b"y", aad(tid))
