"""File search with a real clamd: uploads scanned clean are found by the words of their
text (plain text, docx, PDF) and of their name, by whoever sees the file and nobody else;
quarantined, deleted and purged files are not found; messages and files are separate
kinds in one index, which holds no plaintext."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from docx import Document
from sqlalchemy import select, update

from overleg.files.models import FileItem
from overleg.files.purge import purge_deleted
from overleg.files.scan import scan_pending
from overleg.files.scanning.signatures import eicar
from overleg.kernel.clock import now
from overleg.search import keys
from overleg.search.blind import blind_term
from overleg.search.models import IndexedMessage, Posting
from overleg.search.schemas import Readable
from overleg.search.service import search_files, search_messages
from overleg.security.principal import for_tenant, system
from tests.files.content import samples
from tests.files.core.conftest import Shelf
from tests.files.core.conftest import shelf as shelf  # the fixture
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.clamd import clamd as clamd  # the fixture


@pytest.fixture
def settings_overrides(clamd: ClamdInstance) -> dict[str, object]:
    return {
        "scan_clamd_socket": clamd.socket_path,
        "scan_clamd_db_dir": clamd.db_dir,
        "scan_yara_dir": clamd.yara_dir,
    }


def _docx(text: str) -> bytes:
    doc = Document()
    doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


async def _find(shelf: Shelf, who: str, q: str) -> list[str]:
    """The names of the files ``who`` finds with ``q`` (asserting the search worked)."""
    r = await shelf.call(who, "GET", "/api/v1/search/files", params={"q": q})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["query"] == q
    return [f["name"] for f in body["files"]]


async def _three(shelf: Shelf) -> dict[str, dict[str, Any]]:
    made = {
        "notes.txt": await shelf.upload(
            "mia", "notes.txt", b"The quarterly forecast for Northwind.\n"
        ),
        "expansion-plan.docx": await shelf.upload(
            "mia", "expansion-plan.docx", _docx("Opening a branch in Rotterdam next spring.")
        ),
        "depot.pdf": await shelf.upload(
            "olivia", "depot.pdf", samples.pdf([["Inspection of the Zandvoort depot"]])
        ),
    }
    run = await scan_pending(shelf.world.rt)
    assert sorted(s for _, s in run.scanned) == ["clean"] * 3
    return made


async def test_files_are_found_by_their_text_and_their_name(shelf: Shelf) -> None:
    await _three(shelf)
    assert await _find(shelf, "mia", "northwind forecast") == ["notes.txt"]
    assert await _find(shelf, "mia", "rotterdam") == ["expansion-plan.docx"]
    assert await _find(shelf, "mia", '"zandvoort depot"') == ["depot.pdf"]
    assert await _find(shelf, "mia", "expansion") == ["expansion-plan.docx"]  # the name
    assert await _find(shelf, "mia", "depot pdf") == ["depot.pdf"]
    assert await _find(shelf, "mia", "amsterdam") == []
    # newest first; filters by uploader and place
    newest_first = ["depot.pdf", "expansion-plan.docx", "notes.txt"]
    assert await _find(shelf, "mia", "in:sales") == newest_first
    assert await _find(shelf, "mia", "from:olivia") == ["depot.pdf"]
    assert await _find(shelf, "mia", "in:elsewhere") == []
    today = now().date()
    assert await _find(shelf, "mia", f"northwind before:{today}") == []
    assert await _find(shelf, "mia", f"northwind after:{today - timedelta(days=1)}") == [
        "notes.txt"
    ]


async def test_only_people_who_see_the_file_find_it(shelf: Shelf) -> None:
    await _three(shelf)
    for who in ("olivia", "gus"):  # the channel's other people, a guest too
        assert await _find(shelf, who, "rotterdam") == ["expansion-plan.docx"], who
    assert await _find(shelf, "hank", "rotterdam") == []  # not in the team
    assert await _find(shelf, "eve", "rotterdam") == []  # another organisation
    # one's own files: found by oneself only
    await shelf.upload("mia", "diary.txt", b"Dentist appointment on Tuesday.\n", where="user")
    await scan_pending(shelf.world.rt)
    assert await _find(shelf, "mia", "dentist") == ["diary.txt"]
    assert await _find(shelf, "olivia", "dentist") == []
    # a query that would list everything is refused, as for messages
    r = await shelf.call("mia", "GET", "/api/v1/search/files", params={"q": "-draft"})
    assert r.status_code == 422 and "search query" in r.text


async def test_quarantined_and_deleted_files_are_not_found(shelf: Shelf) -> None:
    made = await _three(shelf)
    await shelf.upload("mia", "eicar-budget.txt", eicar())
    assert [s for _, s in (await scan_pending(shelf.world.rt)).scanned] == ["infected"]
    assert await _find(shelf, "mia", "eicar budget") == []

    doc = made["expansion-plan.docx"]
    r = await shelf.call("mia", "DELETE", f"/api/v1/files/{doc['id']}")
    assert r.status_code == 204, r.text
    assert await _find(shelf, "mia", "rotterdam") == []
    assert not await _indexed(shelf, uuid.UUID(doc["id"]))
    # restored: back in its place, but not indexed again (see files.manage)
    r = await shelf.call("mia", "POST", f"/api/v1/files/{doc['id']}/restore")
    assert r.status_code == 200, r.text
    assert await _find(shelf, "mia", "rotterdam") == []

    # a purged file leaves nothing in the index
    pdf = made["depot.pdf"]
    r = await shelf.call("olivia", "DELETE", f"/api/v1/files/{pdf['id']}")
    assert r.status_code == 204, r.text
    tid = shelf.world.tenant_of("mia")
    async with shelf.world.rt.database.transaction(tenant_id=tid) as db:
        await db.execute(
            update(FileItem)
            .where(FileItem.id == uuid.UUID(pdf["id"]))
            .values(deleted_at=now() - timedelta(days=31))
        )
    async with shelf.world.rt.database.transaction(tenant_id=tid) as db:
        assert await purge_deleted(db, for_tenant(system(job="test"), tid)) == [
            uuid.UUID(pdf["id"])
        ]
    assert not await _indexed(shelf, uuid.UUID(pdf["id"]))
    assert await _find(shelf, "mia", "northwind") == ["notes.txt"]


async def test_a_moved_file_is_found_in_its_new_place_only(shelf: Shelf) -> None:
    """A file moved to another channel of the team is found there, by its people only."""
    made = await _three(shelf)
    r = await shelf.call(
        "olivia",
        "POST",
        f"/api/v1/teams/{await _team(shelf)}/channels",
        json={"name": "Board", "kind": "private"},
    )
    assert r.status_code == 201, r.text
    board = r.json()["id"]
    note = made["notes.txt"]
    r = await shelf.call(
        "olivia", "POST", f"/api/v1/files/{note['id']}/move", json={"container_id": board}
    )
    assert r.status_code == 200, r.text
    assert await _find(shelf, "olivia", "northwind") == ["notes.txt"]
    assert await _find(shelf, "mia", "northwind") == []  # not in the private channel


async def _team(shelf: Shelf) -> str:
    r = await shelf.call("olivia", "GET", f"/api/v1/channels/{shelf.channel_id}")
    assert r.status_code == 200, r.text
    return str(r.json()["team_id"])


async def test_messages_and_files_are_searched_apart(shelf: Shelf) -> None:
    made = await _three(shelf)
    r = await shelf.call(
        "mia",
        "POST",
        f"/api/v1/channels/{shelf.channel_id}/messages",
        json={"text": "Who joins the Rotterdam trip?"},
    )
    assert r.status_code == 201, r.text
    message_id = uuid.UUID(r.json()["id"])
    file_id = uuid.UUID(made["expansion-plan.docx"]["id"])
    tid = shelf.world.tenant_of("mia")
    readable = [Readable("channel", shelf.channel_id, ("Sales", "General"))]

    async def nobody(_: str) -> list[uuid.UUID]:
        return []

    async with shelf.world.rt.database.transaction(tenant_id=tid) as db:
        for q in ("rotterdam", "in:sales"):
            found = await search_messages(
                db, tenant_id=tid, query=q, readable=readable, resolve_person=nobody
            )
            assert [h.message_id for h in found] == [message_id], q
        found = await search_files(
            db, tenant_id=tid, query="rotterdam", readable=readable, resolve_person=nobody
        )
        assert [h.message_id for h in found] == [file_id]
    r = await shelf.call("mia", "GET", "/api/v1/search/messages", params={"q": "rotterdam"})
    assert [m["id"] for m in r.json()["messages"]] == [str(message_id)]


async def test_the_index_holds_no_plaintext_of_files(shelf: Shelf) -> None:
    made = await _three(shelf)
    file_id = uuid.UUID(made["expansion-plan.docx"]["id"])
    tid = shelf.world.tenant_of("mia")
    words = ["expansion", "plan", "docx", "opening", "branch", "rotterdam", "next", "spring"]
    async with shelf.world.rt.database.transaction(tenant_id=tid) as db:
        key = await keys.search_key(db, tid, create=False)
        assert key is not None
        doc = await db.scalar(select(IndexedMessage).where(IndexedMessage.message_id == file_id))
        postings = list(await db.scalars(select(Posting).where(Posting.message_id == file_id)))
    assert doc is not None and doc.kind == "file" and doc.container_id == shelf.channel_id
    assert doc.author_id == shelf.world.id("mia")
    assert {p.term for p in postings} == {blind_term(key, w) for w in ["a", "in", *words]}
    for p in postings:
        assert not any(w.encode() in p.term or w.encode() in p.positions for w in words)
    assert not any(w.encode() in doc.terms for w in words)


async def _indexed(shelf: Shelf, file_id: uuid.UUID) -> bool:
    tid = shelf.world.tenant_of("mia")
    async with shelf.world.rt.database.transaction(tenant_id=tid) as db:
        docs = await db.scalars(
            select(IndexedMessage.message_id).where(IndexedMessage.message_id == file_id)
        )
        posts = await db.scalars(select(Posting.term).where(Posting.message_id == file_id))
        return bool(docs.all() or posts.all())
