"""Crypto-shredding and key rotation, proven on real database rows.

TOTP secrets are stored encrypted with the tenant's data key, so they serve as the tenant's
content here: the test reads their raw bytes with SQL, decrypts them, shreds the tenant's
keys and shows that neither the running process, nor a freshly started one, nor a restore
of the wrapped data keys from a backup can open them again.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, text

from overleg.bootstrap import make_key_provider
from overleg.kernel.clock import now
from overleg.kernel.crypto.envelope import peek_dek_version
from overleg.kernel.crypto.errors import DecryptionFailed, KeyUnavailable
from overleg.kernel.crypto.keys import KeyService, kek_id_for
from overleg.kernel.crypto.models import TenantDataKey, dek_aad
from overleg.kernel.runtime import Runtime
from overleg.security.authn import totp
from tests.fixtures.world import PASSWORD, World

GONE = (KeyUnavailable, DecryptionFailed)
KEYS = TenantDataKey.__table__


def _aad(world: World, name: str) -> bytes:
    return f"totp:{world.tenant_of(name)}:{world.id(name)}".encode()


async def _raw_secret(rt: Runtime, email: str) -> bytes:
    """The column's bytes as the database holds them (plain SQL, no ORM, no scoping)."""
    async with rt.database.transaction(unscoped=True) as db:
        value = (
            await db.execute(
                text("SELECT totp_secret_enc FROM users WHERE email = :email"), {"email": email}
            )
        ).scalar_one()
    assert isinstance(value, bytes)
    return value


async def _decrypt(keys: KeyService, rt: Runtime, tid: uuid.UUID, blob: bytes, aad: bytes) -> str:
    async with rt.database.transaction(tenant_id=tid) as db:
        return (await keys.decrypt(db, tid, blob, aad)).decode()


def _fresh_keys(rt: Runtime) -> KeyService:
    """What a newly started process would have: a new provider read from the same settings."""
    return KeyService(make_key_provider(rt.settings, create=False))


async def _key_rows(rt: Runtime, tid: uuid.UUID) -> list[dict[str, Any]]:
    async with rt.database.transaction(unscoped=True) as db:
        rows = (await db.execute(select(KEYS).where(KEYS.c.tenant_id == tid))).mappings()
        return [dict(r) for r in rows.all()]


async def test_shredding_makes_the_tenants_rows_unreadable_for_good(world: World) -> None:
    rt = world.rt
    contoso, fabrikam = world.tenants["contoso"].id, world.tenants["fabrikam"].id
    people = ("olivia", "mia", "eve")
    secrets = {name: await world.enrol_totp(name) for name in people}
    blobs = {name: await _raw_secret(rt, world.users[name].email) for name in people}

    # the database holds ciphertext only, and it opens with the tenant's key
    for name in people:
        assert secrets[name].encode() not in blobs[name]
        assert peek_dek_version(blobs[name]) == 1
        tid = world.tenant_of(name)
        assert await _decrypt(rt.keys, rt, tid, blobs[name], _aad(world, name)) == secrets[name]
    # the AAD binds a ciphertext to its user: mia's secret does not open as olivia's
    with pytest.raises(DecryptionFailed):
        await _decrypt(rt.keys, rt, contoso, blobs["mia"], _aad(world, "olivia"))

    # two "backups" of the wrapped data keys: one from before a rotation, one from after
    before_rotation = await _key_rows(rt, contoso)
    assert len(before_rotation) == 1 and before_rotation[0]["wrapped"]
    async with rt.database.transaction(tenant_id=contoso) as db:
        await rt.keys.rotate(db, contoso)
    after_rotation = await _key_rows(rt, contoso)
    assert len(after_rotation) == 2
    keks = [kek_id_for(contoso, 1), kek_id_for(contoso, 2)]
    assert all(rt.keys.provider.has_kek(k) for k in keks)  # v1 is kept for old backups

    async with rt.database.transaction(tenant_id=contoso) as db:
        await rt.keys.shred(db, contoso)

    assert await _key_rows(rt, contoso) == []
    assert rt.settings.keyring_file is not None
    keyring = rt.settings.keyring_file.read_text()
    for k in keks:
        assert not rt.keys.provider.has_kek(k)
        assert k not in keyring
    assert kek_id_for(fabrikam, 1) in keyring
    restarted = _fresh_keys(rt)
    for keys in (rt.keys, restarted):
        for name in ("olivia", "mia"):
            with pytest.raises(GONE):
                await _decrypt(keys, rt, contoso, blobs[name], _aad(world, name))

    # restoring the wrapped data keys from either backup does not bring anything back
    for backup in (after_rotation, before_rotation):
        async with rt.database.transaction(unscoped=True) as db:
            await db.execute(delete(KEYS).where(KEYS.c.tenant_id == contoso))
            await db.execute(insert(KEYS), backup)
        assert len(await _key_rows(rt, contoso)) == len(backup)
        for keys in (rt.keys, restarted, _fresh_keys(rt)):
            for name in ("olivia", "mia"):
                with pytest.raises(GONE):
                    await _decrypt(keys, rt, contoso, blobs[name], _aad(world, name))
            async with rt.database.transaction(tenant_id=contoso) as db:
                with pytest.raises(GONE):
                    await keys.encrypt(db, contoso, b"new data", b"aad")
    # ... and the tenant can never be given keys again
    async with rt.database.transaction(tenant_id=contoso) as db:
        with pytest.raises(KeyUnavailable):
            await rt.keys.init_tenant(db, contoso)

    # the other tenant is untouched, in this process and a new one
    for keys in (rt.keys, _fresh_keys(rt)):
        assert (
            await _decrypt(keys, rt, fabrikam, blobs["eve"], _aad(world, "eve")) == secrets["eve"]
        )


async def _sign_in_with_totp(
    client: httpx.AsyncClient, email: str, secret: str, *, at_step_offset: int = 0
) -> httpx.Response:
    r = await client.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "mfa_required"
    pending = {"Authorization": f"Bearer {r.json()['token']}"}
    code = totp.code_at(secret, now() + totp.PERIOD * at_step_offset)
    return await client.post("/api/v1/auth/mfa", json={"code": code}, headers=pending)


async def test_rotation_keeps_old_ciphertext_readable(
    world: World, client: httpx.AsyncClient
) -> None:
    rt = world.rt
    contoso = world.tenants["contoso"].id
    secret = await world.enrol_totp("mia")
    before = await _raw_secret(rt, "mia@contoso.example")
    old_rows = await _key_rows(rt, contoso)

    async with rt.database.transaction(tenant_id=contoso) as db:
        result = await rt.keys.rotate(db, contoso)
    assert (result.old_kek_id, result.new_kek_id) == (
        kek_id_for(contoso, 1),
        kek_id_for(contoso, 2),
    )
    assert result.rewrapped == 1 and result.new_dek_version == 2
    # DEK v1 is now wrapped by the new KEK; the old KEK is kept for older backups
    rows = {r["version"]: r for r in await _key_rows(rt, contoso)}
    assert set(rows) == {1, 2}
    assert rows[1]["kek_id"] == result.new_kek_id and rows[1]["wrapped"] != old_rows[0]["wrapped"]
    assert rows[1]["retired_at"] is not None and rows[2]["retired_at"] is None
    provider = rt.keys.provider
    old_dek = provider.unwrap(result.old_kek_id, old_rows[0]["wrapped"], dek_aad(contoso, 1))
    assert provider.unwrap(result.new_kek_id, rows[1]["wrapped"], dek_aad(contoso, 1)) == old_dek

    # content was not re-encrypted, and it still opens, here and in a new process
    assert await _raw_secret(rt, "mia@contoso.example") == before
    for keys in (rt.keys, _fresh_keys(rt)):
        assert await _decrypt(keys, rt, contoso, before, _aad(world, "mia")) == secret

    # once the retired KEK is destroyed, the pre-rotation backup is dead, the data is not
    async with rt.database.transaction(tenant_id=contoso) as db:
        destroyed = await rt.keys.destroy_retired_keks(db, contoso)
    assert destroyed == [result.old_kek_id]
    assert not provider.has_kek(result.old_kek_id)
    with pytest.raises(KeyUnavailable):
        provider.unwrap(result.old_kek_id, old_rows[0]["wrapped"], dek_aad(contoso, 1))
    for keys in (rt.keys, _fresh_keys(rt)):
        assert await _decrypt(keys, rt, contoso, before, _aad(world, "mia")) == secret

    # new writes use the new data key
    sam_secret = await world.enrol_totp("sam")
    sam_blob = await _raw_secret(rt, "sam@contoso.example")
    assert peek_dek_version(sam_blob) == 2
    assert await _decrypt(_fresh_keys(rt), rt, contoso, sam_blob, _aad(world, "sam")) == sam_secret

    # sign-in with the second factor works for both, old and new key
    for email, s in (("mia@contoso.example", secret), ("sam@contoso.example", sam_secret)):
        r = await _sign_in_with_totp(client, email, s)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "signed_in"
    # and a wrong code is still refused (the check is real)
    r = await _sign_in_with_totp(client, "mia@contoso.example", secret, at_step_offset=10)
    assert r.status_code == 401

    # a second rotation: everything still opens
    async with rt.database.transaction(tenant_id=contoso) as db:
        second = await rt.keys.rotate(db, contoso)
    assert second.rewrapped == 2 and second.new_dek_version == 3
    for blob, name, s in ((before, "mia", secret), (sam_blob, "sam", sam_secret)):
        assert await _decrypt(_fresh_keys(rt), rt, contoso, blob, _aad(world, name)) == s
