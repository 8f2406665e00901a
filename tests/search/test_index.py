"""The blind index on real databases: keys, what is stored, re-indexing and removal."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from overleg.audit.models import AuditRecord
from overleg.kernel.crypto.errors import KeyUnavailable
from overleg.kernel.db.tenancy import TenantScopeError
from overleg.kernel.runtime import Runtime
from overleg.search import keys
from overleg.search.blind import KEY_BYTES, TERM_BYTES, blind_term, decode_positions
from overleg.search.index import index_message, index_messages, remove_message
from overleg.search.models import IndexedMessage, Posting, SearchKey, key_aad
from overleg.search.schemas import SearchDocument
from tests.search.conftest import T0, Kit, channel


async def _postings(rt: Runtime, tenant_id: uuid.UUID) -> list[Posting]:
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        return list((await db.scalars(select(Posting))).all())


async def _documents(rt: Runtime, tenant_id: uuid.UUID) -> list[IndexedMessage]:
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        return list((await db.scalars(select(IndexedMessage))).all())


async def _key(kit: Kit) -> bytes:
    async with kit.rt.database.transaction(tenant_id=kit.tenant_id) as db:
        key = await keys.search_key(db, kit.tenant_id, create=False)
    assert key is not None
    return key


async def test_the_search_key_is_made_on_first_use_sealed_and_audited(contoso: Kit) -> None:
    rt, tid = contoso.rt, contoso.tenant_id
    async with rt.database.transaction(tenant_id=tid) as db:
        assert await keys.search_key(db, tid, create=False) is None
        assert await db.scalar(select(func.count()).select_from(SearchKey)) == 0

    await contoso.post(channel("Sales"), "hello")
    async with rt.database.transaction(tenant_id=tid) as db:
        row = (await db.scalars(select(SearchKey))).one()
        key = await rt.keys.decrypt(db, tid, row.key_enc, key_aad(tid))
        audited = (
            await db.scalars(select(AuditRecord).where(AuditRecord.action == "search.key_created"))
        ).all()
    assert len(key) == KEY_BYTES
    assert key not in row.key_enc
    assert await _key(contoso) == key
    assert len(audited) == 1 and audited[0].actor_label == "system:search"

    # A second message uses the same key and creates nothing.
    await contoso.post(channel("Sales"), "hello again")
    async with rt.database.transaction(tenant_id=tid) as db:
        assert await db.scalar(select(func.count()).select_from(SearchKey)) == 1


async def test_the_sealed_key_is_bound_to_its_tenant(contoso: Kit, fabrikam: Kit) -> None:
    await contoso.post(channel("Sales"), "hello")
    async with contoso.rt.database.transaction(tenant_id=contoso.tenant_id) as db:
        sealed = (await db.scalars(select(SearchKey.key_enc))).one()
    async with contoso.rt.database.transaction(tenant_id=contoso.tenant_id) as db:
        with pytest.raises(Exception, match=r"(?i)decrypt|tag|authentic"):
            await contoso.rt.keys.decrypt(
                db, contoso.tenant_id, sealed, key_aad(fabrikam.tenant_id)
            )


async def test_concurrent_first_messages_agree_on_one_key(contoso: Kit) -> None:
    """Two transactions index a tenant's first messages at once: one key row commits, the
    other transaction waits for it and uses it; both messages are found."""
    sales = channel("Sales")
    first, second = await asyncio.gather(
        contoso.post(sales, "alpha report"), contoso.post(sales, "beta report")
    )
    async with contoso.rt.database.transaction(tenant_id=contoso.tenant_id) as db:
        assert await db.scalar(select(func.count()).select_from(SearchKey)) == 1
        created = await db.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "search.key_created")
        )
    assert created == 1
    assert set(await contoso.ids("report", [sales.readable()])) == {first, second}


async def test_terms_are_stored_blinded_never_as_plaintext(contoso: Kit, fabrikam: Kit) -> None:
    text = "Confidential merger with Northwind budget budget"
    await contoso.post(channel("Board"), text)
    await fabrikam.post(channel("Board"), text)
    key_c, key_f = await _key(contoso), await _key(fabrikam)
    assert key_c != key_f

    stored_c = {p.term: p for p in await _postings(contoso.rt, contoso.tenant_id)}
    stored_f = {p.term for p in await _postings(fabrikam.rt, fabrikam.tenant_id)}
    words = ["confidential", "merger", "with", "northwind", "budget"]
    assert set(stored_c) == {blind_term(key_c, w) for w in words}
    assert stored_f == {blind_term(key_f, w) for w in words}
    assert not set(stored_c) & stored_f  # the same word differs between tenants
    for term in stored_c:
        assert len(term) == TERM_BYTES
        assert not any(w.encode() in term for w in words)
    assert decode_positions(stored_c[blind_term(key_c, "budget")].positions) == [4, 5]

    (doc,) = await _documents(contoso.rt, contoso.tenant_id)
    assert len(doc.terms) == TERM_BYTES * len(words)
    assert not any(w.encode() in doc.terms for w in words)


async def test_reindexing_an_edit_replaces_the_old_terms(contoso: Kit) -> None:
    sales = channel("Sales")
    readable = [sales.readable()]
    mid = await contoso.post(sales, "lunch on friday with the budget team")
    other = await contoso.post(sales, "friday drinks")
    assert await contoso.ids("lunch", readable) == [mid]

    # The edit keeps the message's id and creation time; only the text changes.
    await contoso.post(sales, "dinner on monday", message_id=mid, at=T0)
    assert await contoso.ids("lunch", readable) == []
    assert await contoso.ids("friday", readable) == [other]
    assert await contoso.ids("dinner monday", readable) == [mid]
    key = await _key(contoso)
    postings = await _postings(contoso.rt, contoso.tenant_id)
    assert {p.term for p in postings if p.message_id == mid} == {
        blind_term(key, w) for w in ("dinner", "on", "monday")
    }
    assert len(await _documents(contoso.rt, contoso.tenant_id)) == 2


async def test_removing_a_message_drops_its_postings_and_document(contoso: Kit) -> None:
    sales = channel("Sales")
    gone = await contoso.post(sales, "secret plans for the launch")
    kept = await contoso.post(sales, "public plans")
    await contoso.remove(gone)
    await contoso.remove(uuid.uuid4())  # not indexed: nothing happens
    assert await contoso.ids("plans", [sales.readable()]) == [kept]
    assert await contoso.ids("secret", [sales.readable()]) == []
    postings = await _postings(contoso.rt, contoso.tenant_id)
    assert {p.message_id for p in postings} == {kept}
    assert [d.message_id for d in await _documents(contoso.rt, contoso.tenant_id)] == [kept]


async def test_bulk_indexing_keeps_the_last_text_of_a_message(contoso: Kit) -> None:
    sales = channel("Sales")
    mid = uuid.uuid4()

    doc = SearchDocument(contoso.tenant_id, mid, "channel", sales.id, None, T0, False)
    async with contoso.rt.database.transaction(tenant_id=contoso.tenant_id) as db:
        await index_messages(db, [(doc, "first draft"), (doc, "final text")])
    assert await contoso.ids("draft", [sales.readable()]) == []
    assert await contoso.ids("final", [sales.readable()]) == [mid]


async def test_writes_for_another_tenant_are_refused(contoso: Kit, fabrikam: Kit) -> None:
    doc = SearchDocument(fabrikam.tenant_id, uuid.uuid4(), "channel", uuid.uuid4(), None, T0, False)
    async with contoso.rt.database.session(tenant_id=contoso.tenant_id) as db:
        with pytest.raises(TenantScopeError):
            await index_message(db, doc, "planted")
        with pytest.raises(TenantScopeError):
            await remove_message(db, fabrikam.tenant_id, doc.message_id)
    assert await _postings(fabrikam.rt, fabrikam.tenant_id) == []


async def test_shredding_the_tenant_makes_the_index_unusable(contoso: Kit) -> None:
    sales = channel("Sales")
    await contoso.post(sales, "payroll numbers")
    assert len(await contoso.ids("payroll", [sales.readable()])) == 1
    async with contoso.rt.database.transaction(tenant_id=contoso.tenant_id) as db:
        await contoso.rt.keys.shred(db, contoso.tenant_id)
    with pytest.raises(KeyUnavailable):
        await contoso.ids("payroll", [sales.readable()])
    with pytest.raises(KeyUnavailable):
        await contoso.post(sales, "more payroll")
    # The postings left behind are HMACs under a key nobody can unseal any more.
    async with contoso.rt.database.transaction(tenant_id=contoso.tenant_id) as db:
        sealed = (await db.scalars(select(SearchKey.key_enc))).one()
        with pytest.raises(KeyUnavailable):
            await contoso.rt.keys.decrypt(db, contoso.tenant_id, sealed, key_aad(contoso.tenant_id))
