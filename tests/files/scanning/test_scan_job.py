"""The upload and scan path reads what it needs, once, and keeps its guarantees.

- ``complete_upload`` tells a file's type from a few sealed chunks (its head, a zip's
  directory), not from all of its bytes, and still finds what only the end of a file
  shows (a jar appended to an image);
- the scan job reads a file from the object store once: the content gate gets the bytes
  deep inspection held;
- a version whose content cannot be read keeps its claim (it waits out its lease instead
  of failing every round);
- the findings name neither the name the scan used nor one given meanwhile;
- ``blobs.in_worker`` gives a worker thread any byte range of a blob, and the storage's
  errors even when the work caught them.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import IO

import pytest
from sqlalchemy import select

from overleg.files import blobs, manage, sealed, uploads
from overleg.files.content import detect_full
from overleg.files.models import Blob, FileItem, FileVersion
from overleg.files.scan import _apply, _claim, _scan_one, scan_pending
from overleg.files.scanning.signatures import eicar
from overleg.files.schemas import FilePublic, FileRename, UploadStart
from overleg.files.storage import ObjectMissing, ObjectStore
from overleg.kernel.clock import now
from overleg.kernel.crypto.errors import DecryptionFailed
from overleg.kernel.errors import Forbidden
from overleg.kernel.runtime import Runtime
from tests.files.scanning import office
from tests.files.scanning.helpers import zipped
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.world import World

PART = 128 * 1024  # tests/conftest.py: files_part_bytes


@pytest.fixture
def settings_overrides(clamd: ClamdInstance) -> dict[str, object]:
    return {
        "scan_clamd_socket": clamd.socket_path,
        "scan_clamd_db_dir": clamd.db_dir,
        "scan_yara_dir": clamd.yara_dir,
    }


class Counted:
    """The runtime's object store, counting the stored bytes read from it."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner, self.name, self.read_bytes = inner, inner.name, 0

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        return await self.inner.put(key, chunks)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        async for block in self.inner.read(key, start, end):
            self.read_bytes += len(block)
            yield block

    async def size(self, key: str) -> int:
        return await self.inner.size(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)


@pytest.fixture
def counted(world: World, monkeypatch: pytest.MonkeyPatch) -> Counted:
    assert world.rt.objects is not None
    store = Counted(world.rt.objects)
    monkeypatch.setattr(world.rt, "objects", store)
    return store


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def start_and_send(world: World, who: str, name: str, data: bytes) -> uuid.UUID:
    """An upload of ``data`` into ``who``'s own files with every part sent."""
    p = world.principal(who)
    assert p.user_id is not None
    async with world.rt.database.transaction(tenant_id=p.tenant_id) as db:
        up = await uploads.start_upload(
            p,
            db,
            UploadStart(container_type="user", container_id=p.user_id, name=name, size=len(data)),
        )
    for n in range(up.parts):
        async with world.rt.database.transaction(tenant_id=p.tenant_id) as db:
            part = data[n * up.part_size : (n + 1) * up.part_size]
            await uploads.put_part(p, db, up.id, n, _one(part))
    upload_id: uuid.UUID = up.id
    return upload_id


async def complete(world: World, who: str, upload_id: uuid.UUID) -> FilePublic:
    p = world.principal(who)
    async with world.rt.database.transaction(tenant_id=p.tenant_id) as db:
        return await uploads.complete_upload(p, db, upload_id)


async def version_of(rt: Runtime, tenant_id: uuid.UUID, file_id: uuid.UUID) -> FileVersion:
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        v = await db.scalar(
            select(FileVersion)
            .join(FileItem, FileItem.current_version_id == FileVersion.id)
            .where(FileItem.id == file_id)
        )
        assert v is not None
        return v


def stored(size: int) -> int:
    """Bytes a reader of a whole blob of ``size`` plaintext bytes gets from the object store
    (every part's chunks; a part's format header is not read)."""
    return sum(
        sealed.sealed_size(min(PART, size - start)) - len(sealed.MAGIC)
        for start in range(0, size, PART)
    )


# -- type detection at complete -------------------------------------------------------------


def gifar(padding: int) -> bytes:
    """A GIF with ``padding`` bytes of image data and a jar appended (Java runs it)."""
    jar = zipped({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "a/B.class": b"\xca\xfe"})
    return b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + os.urandom(padding) + jar


@pytest.mark.parametrize(
    ("name", "make"),
    [
        # fixed bytes: libmagic takes some random heads for something (an MS-DOS program)
        ("random.bin", lambda: random.Random(1).randbytes(1_500_000)),
        ("report.docm", lambda: office.docm({"Module1": office.BENIGN})),
        ("letter.docx", office.docx),
    ],
)
async def test_complete_types_a_file_from_a_few_chunks(
    world: World, counted: Counted, name: str, make: Callable[[], bytes]
) -> None:
    data = make()
    upload_id = await start_and_send(world, "mia", name, data)
    counted.read_bytes = 0
    made = await complete(world, "mia", upload_id)
    assert made.content_type == detect_full(data, name).mime
    if len(data) > 4 * sealed.SEALED_CHUNK:
        # the head chunk and the last ones, where a zip keeps its directory
        assert 0 < counted.read_bytes <= 3 * sealed.SEALED_CHUNK + 64


async def test_what_only_the_end_of_a_file_shows_is_still_found(
    world: World, counted: Counted
) -> None:
    data = gifar(1_000_000)  # the jar is in the blob's last part, far from the head
    upload_id = await start_and_send(world, "mia", "cat.gif", data)
    assert detect_full(data, "cat.gif").mime == "application/java-archive"
    counted.read_bytes = 0
    with pytest.raises(Forbidden, match="executable"):
        await complete(world, "mia", upload_id)
    assert counted.read_bytes < stored(len(data)) // 4


# -- the scan job ---------------------------------------------------------------------------


async def test_the_scan_job_reads_a_text_file_once(world: World, counted: Counted) -> None:
    text = b"".join(b"%d. The board agreed the budget for next year.\n" % i for i in range(12_000))
    assert len(text) > 4 * PART
    made = await complete(world, "mia", await start_and_send(world, "mia", "minutes.txt", text))
    v = await version_of(world.rt, world.tenant_of("mia"), made.id)
    assert v.content_type.startswith("text/plain")  # so the content gate reads it
    counted.read_bytes = 0
    run = await scan_pending(world.rt)
    assert run.scanned == [(v.id, "clean")]
    # every part once: for clamd, YARA and the content gate together
    assert counted.read_bytes == stored(len(text))


async def test_a_version_that_cannot_be_read_keeps_its_claim(world: World) -> None:
    rt, tid = world.rt, world.tenant_of("mia")
    made = await complete(world, "mia", await start_and_send(world, "mia", "a.txt", b"hello\n"))
    async with rt.database.transaction(tenant_id=tid) as db:
        v = await db.scalar(select(FileVersion).where(FileVersion.file_id == made.id))
        assert v is not None
        blob = await db.get(Blob, v.blob_id)
        assert blob is not None
        blob.key_enc = blob.key_enc[:-1] + bytes([blob.key_enc[-1] ^ 1])  # tampered
    with pytest.raises(DecryptionFailed):
        await scan_pending(rt)
    v = await version_of(rt, tid, made.id)
    assert v.scan_state == "scan_pending" and v.scan_attempts == 1
    assert v.scan_claimed_until is not None and v.scan_claimed_until > now()
    # the next round leaves it alone until the lease runs out
    again = await scan_pending(rt)
    assert again.scanned == [] and not again.unavailable
    assert (await version_of(rt, tid, made.id)).scan_attempts == 1


async def test_findings_name_neither_the_scanned_name_nor_a_new_one(world: World) -> None:
    rt, mia, tid = world.rt, world.principal("mia"), world.tenant_of("mia")
    made = await complete(
        world, "mia", await start_and_send(world, "mia", "holiday-photos.com", eicar())
    )
    v = await version_of(rt, tid, made.id)
    job = await _claim(rt, tid, v.id)
    assert job is not None and job.name == "holiday-photos.com"
    async with rt.database.transaction(tenant_id=tid) as db:  # renamed during the scan
        await manage.rename_file(mia, db, made.id, FileRename(name="quarterly-figures.com"))
    result, _ = await _scan_one(rt, tid, job)
    assert result.state == "infected"
    assert any("holiday-photos.com" in f.detail for f in result.findings)
    async with rt.database.transaction(tenant_id=tid) as db:
        assert await _apply(db, tid, v.id, result, rescan=False, seen=job.seen) == "infected"
    details = [f["detail"] for f in (await version_of(rt, tid, made.id)).scan_findings]
    assert any("(the file)" in d for d in details)
    assert not any("holiday-photos" in d or "quarterly-figures" in d for d in details)


# -- blobs.in_worker ------------------------------------------------------------------------


async def _blob_of(rt: Runtime, tid: uuid.UUID, upload_id: uuid.UUID) -> Blob:
    async with rt.database.transaction(tenant_id=tid) as db:
        u = await db.get(uploads.UploadSession, upload_id)
        assert u is not None
        blob = await db.get(Blob, u.blob_id)
        assert blob is not None
        blob.complete = True
        return blob


async def test_a_worker_reads_any_range_of_a_blob(world: World) -> None:
    rt, tid = world.rt, world.tenant_of("mia")
    data = os.urandom(5 * PART + 1234)
    blob = await _blob_of(rt, tid, await start_and_send(world, "mia", "r.bin", data))

    def work(f: IO[bytes]) -> list[bytes]:
        got = [f.read(10)]
        f.seek(PART - 5)
        got.append(f.read(10))  # across two parts
        f.seek(-22, io.SEEK_END)
        got.append(f.read(100))  # only what there is
        got.append(f.read(10))  # at the end: nothing
        f.seek(3 * PART + 7)
        got.append(f.read())  # to the end, across parts
        f.seek(-5, io.SEEK_CUR)
        got.append(f.read(5))
        return got

    async with rt.database.transaction(tenant_id=tid) as db:
        got = await blobs.in_worker(db, blob, work)
    assert got == [
        data[:10],
        data[PART - 5 : PART + 5],
        data[-22:],
        b"",
        data[3 * PART + 7 :],
        data[-5:],
    ]


async def test_the_storages_errors_reach_the_caller_even_if_the_work_caught_them(
    world: World,
) -> None:
    rt, tid = world.rt, world.tenant_of("mia")
    data = os.urandom(3 * PART)
    blob = await _blob_of(rt, tid, await start_and_send(world, "mia", "r.bin", data))
    assert rt.objects is not None
    await rt.objects.delete(blobs.part_object(tid, blob.id, 1))  # the middle part

    def careless(f: IO[bytes]) -> str:
        try:
            f.seek(PART + 10)
            f.read(10)
        except Exception:
            return "swallowed"
        return "read"

    async with rt.database.transaction(tenant_id=tid) as db:
        with pytest.raises(ObjectMissing):
            await blobs.in_worker(db, blob, careless)
        # the head and the end are there
        assert await blobs.in_worker(db, blob, lambda f: f.read(5)) == data[:5]
        await rt.objects.delete(blobs.part_object(tid, blob.id, 2))  # the end: read first
        with pytest.raises(ObjectMissing):
            await blobs.in_worker(db, blob, lambda f: f.read(5))


async def test_a_blob_file_is_not_read_on_its_event_loop() -> None:
    async def fetch(start: int, end: int) -> bytes:
        return b"\0" * (end - start)

    raw = blobs._RangeFile(fetch, 10, asyncio.get_running_loop())
    with pytest.raises(RuntimeError, match="worker thread"):
        raw.readinto(bytearray(4))
    assert await asyncio.to_thread(lambda: raw.read(4)) == b"\0" * 4
