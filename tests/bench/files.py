"""Benchmark 9: uploading and scanning a file, and what sealing its bytes costs.

``python -m tests.bench.files [--postgres] [--quick]`` runs it alone; ``python -m tests.bench``
runs it with the others (``--no-files`` skips it; without the ``clamd`` binary it is
reported as skipped).

One private clamd is started here by Overleg's own code (``clamd_process.launch`` with the
runtime's settings: the configuration Overleg writes, ``StreamMaxLength`` 1 GiB, a unix
socket in the scratch folder) with **Overleg's own small signature database**
(``signatures.write_builtin``: EICAR and Overleg's test marker). The official ClamAV
databases make clamd's part of the work, and so the absolute numbers and the ratio,
larger: ``--clamav-db DIR`` links the database files of ``DIR`` (e.g. what freshclam
keeps) into the scratch database folder as well (``DIR`` itself is not written to).

1. **Upload and scan** (subject), for each file of :data:`FILES` (random bytes, so that
   clamd cannot take a shortcut, and one text-like file; every one of them at most
   ``scan_deep_max_bytes``, so deep inspection runs too), through the services, each step
   in a transaction of its own as its route runs it: ``uploads.start_upload`` (into the
   uploader's own files), ``uploads.put_part`` for every part (the part's bytes handed
   over in :data:`BODY_PIECE` pieces, as a request body arrives), ``uploads.
   complete_upload``, then ``scan.scan_pending`` until the version is scanned. Every
   version must come out ``clean``, deep-inspected exactly when it is at most
   ``scan_deep_max_bytes``, or the run stops. **Baseline**, in alternating rounds (A B,
   B A, ...): the same bytes straight to the same clamd through ``ClamdClient.instream``
   (unix socket, :data:`CLAMD_PIECE` chunks). Reported: MB/s (10^6 bytes per second) of
   both, the median of the paired ratios (target :data:`TARGET_RATIO`), the CPU time of
   this process and of clamd per MB, and the median time of each step.
2. **Where the time goes**, on one more upload of each file (median of
   :data:`BREAKDOWN_RUNS`): reading the blob back (opening every sealed part, as the scan
   does), the scan pipeline alone (``pipeline.scan`` over that blob: clamd and deep
   inspection, no database), the same over the plaintext in memory (what reading the blob
   adds is the difference), deep inspection alone (``pipeline.inspect`` over the bytes:
   YARA, the macro check, the archive walk; in the pipeline it runs while clamd scans) and
   sealing alone (AES-256-GCM over the bytes in 64 KiB chunks, in memory).
3. **Sealing overhead**, :data:`SEAL_BYTES` bytes, as file parts are written
   (``sealed.write`` without a digest, handed to the store in blocks by
   ``blobs.in_blocks``) into the runtime's ``LocalStore``, against a plain ``put`` of the
   same plaintext pieces through the same ``blobs.in_blocks`` (same store, same folder,
   same temporary file, fsync and rename: only the sealing differs), and reading back with
   ``sealed.read`` against ``LocalStore.read``. Alternating rounds.

The services, not the HTTP API: like benchmarks 2, 4 and 7, this measures what the code
behind the routes does. An in-process ASGI client would hand each part over as one body
message and add its own copies, which is neither what uvicorn does nor Overleg's cost.
No assertions on time anywhere: the numbers are printed and recorded in
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.files import blobs, sealed
from overleg.files import uploads as files
from overleg.files.models import Blob, FileItem, FileVersion
from overleg.files.scan import scan_pending
from overleg.files.scanning import clamd_process, pipeline
from overleg.files.scanning.clamd import ClamdClient
from overleg.files.scanning.signatures import DB_SUFFIXES, find_binary
from overleg.files.schemas import UploadStart
from overleg.files.storage import LocalStore
from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate, UserCreate
from overleg.kernel.runtime import Runtime
from overleg.security.principal import Principal, PrincipalKind, Role, for_tenant, operator
from tests.bench import machine
from tests.bench.backend import PG_URL, Backend, make_runtime, run_on
from tests.bench.measure import Comparison, Sample, Series
from tests.bench.media import cpu_of

T = TypeVar("T")
MB = 1_000_000
#: the issue's target: upload and scan at least this share of clamd's own rate
TARGET_RATIO = 0.8
#: how a part's body reaches ``put_part``: the pieces a server hands a route
BODY_PIECE = 64 * 1024
#: the baseline's INSTREAM chunks (``clamd.CHUNK_BYTES``)
CLAMD_PIECE = 1024 * 1024
SEAL_BYTES = 100 * MB
BREAKDOWN_RUNS = 3
#: rounds of the scan job for one upload (one is enough: it is the only one pending)
SCAN_ATTEMPTS = 5
#: a bound on clamd's start (well under a second with the small database; tens of seconds
#: with the official one)
CLAMD_READY_SECONDS = clamd_process.READY_WITHIN_SECONDS


@dataclass(frozen=True)
class FileCase:
    """One file to upload: ``rounds`` alternating rounds of subject and baseline."""

    label: str
    name: str
    size: int
    kind: str  # "random" | "text"
    rounds: int


FILES = (
    FileCase("1 MB random", "random-1mb.bin", 1 * MB, "random", 9),
    FileCase("1 MB text", "minutes-1mb.txt", 1 * MB, "text", 9),
    FileCase("100 MB random", "random-100mb.bin", 100 * MB, "random", 5),
)
#: ``--quick``: one round each, the large file 20 MB (a smoke run, not numbers to quote)
QUICK: dict[str, Any] = {
    "cases": (
        FileCase("1 MB random", "random-1mb.bin", 1 * MB, "random", 1),
        FileCase("1 MB text", "minutes-1mb.txt", 1 * MB, "text", 1),
        FileCase("20 MB random", "random-20mb.bin", 20 * MB, "random", 1),
    ),
    "seal_rounds": 1,
}


class Unavailable(RuntimeError):
    """clamd is not installed, or did not start."""


# -- the bytes -------------------------------------------------------------------------------

WORDS = (
    "the board agreed minutes budget school council meeting item report members vote "
    "proposal approved deferred action owner deadline review schedule parents teachers "
    "pupils municipality district planning housing traffic safety library sports culture "
    "grant invoice quarter annual draft final comment question answer next steps summary "
    "attendance apologies chair secretary treasurer motion seconded carried unanimously"
)


def make_bytes(kind: str, size: int, seed: int) -> bytes:
    """``size`` bytes: random ones, or lines of words (like minutes), from a fixed seed."""
    rng = random.Random(seed)
    if kind == "random":
        return rng.randbytes(size)
    vocabulary, out, line = WORDS.split(), bytearray(), 0
    while len(out) < size:
        line += 1
        words = rng.choices(vocabulary, k=rng.randint(6, 16))
        out += f"{line}. {' '.join(words).capitalize()}.\n".encode()
    return bytes(out[:size])


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def drain(chunks: AsyncIterator[bytes]) -> int:
    n = 0
    async for chunk in chunks:
        n += len(chunk)
    return n


# -- results ---------------------------------------------------------------------------------


@dataclass
class Steps:
    """Seconds of each step of the subject, one entry per round."""

    start: list[float] = field(default_factory=list)
    parts: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    scan: list[float] = field(default_factory=list)

    def medians_ms(self) -> dict[str, float]:
        return {
            name: statistics.median(values) * 1000
            for name, values in (
                ("start", self.start),
                ("parts", self.parts),
                ("complete", self.complete),
                ("scan", self.scan),
            )
        }


@dataclass
class Breakdown:
    """Seconds of the parts of the path measured alone (one list entry per run)."""

    read_back: list[float] = field(default_factory=list)
    pipeline: list[float] = field(default_factory=list)
    from_memory: list[float] = field(default_factory=list)
    inspect: list[float] = field(default_factory=list)
    seal: list[float] = field(default_factory=list)

    def medians_ms(self) -> dict[str, float]:
        return {
            name: statistics.median(values) * 1000
            for name, values in (
                ("read back", self.read_back),
                ("pipeline.scan", self.pipeline),
                ("pipeline.scan from memory", self.from_memory),
                ("deep inspection", self.inspect),
                ("AES-GCM seal in memory", self.seal),
            )
        }


@dataclass
class UploadResult:
    """One file: subject (upload and scan) vs baseline (clamd INSTREAM alone)."""

    case: FileCase
    parts: int
    deep: bool
    content_type: str
    comparison: Comparison
    steps: Steps
    breakdown: Breakdown
    #: clamd's CPU seconds, subject side and baseline side (over all rounds)
    clamd_cpu_subject: float = 0.0
    clamd_cpu_baseline: float = 0.0

    @property
    def within_target(self) -> bool:
        return self.comparison.ratio >= TARGET_RATIO

    @property
    def subject_ms(self) -> float:
        """Median upload and scan of one file, ms."""
        return statistics.median(x.seconds for x in self.comparison.subject.samples) * 1000

    @property
    def baseline_ms(self) -> float:
        """Median clamd INSTREAM of the same bytes, ms."""
        return statistics.median(x.seconds for x in self.comparison.baseline.samples) * 1000

    @property
    def extra_ms(self) -> float:
        """What Overleg adds to clamd's own time (medians), ms."""
        return self.subject_ms - self.baseline_ms


@dataclass
class SealResult:
    """Sealed vs plain, written into and read back from the same store."""

    size: int
    write: Comparison
    read: Comparison
    #: AES-GCM alone over the same bytes in 64 KiB chunks, in memory: seconds per run
    encrypt: list[float]
    decrypt: list[float]


@dataclass
class FilesResult:
    backend: str
    clamd_version: str
    databases: str
    deep_max_bytes: int
    part_bytes: int
    uploads: list[UploadResult]
    seal: SealResult
    load_start: str
    load_end: str


# -- the setting -----------------------------------------------------------------------------


@dataclass
class Bench:
    rt: Runtime
    user: Principal
    clamd: ClamdClient
    clamd_pid: int

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.user.tenant_id

    async def upload(self, case: FileCase, data: list[bytes], steps: Steps | None) -> uuid.UUID:
        """Start, put every part, complete, scan until scanned: the new file's id.
        ``data``: the file in :data:`BODY_PIECE` pieces (a part is a whole number of them:
        ``files_part_bytes`` is a multiple of 64 KiB)."""
        rt, user = self.rt, self.user
        assert user.user_id is not None
        marks = [time.perf_counter()]
        async with rt.database.transaction(tenant_id=self.tenant_id) as db:
            up = await files.start_upload(
                user,
                db,
                UploadStart(
                    container_type="user",
                    container_id=user.user_id,
                    name=case.name,
                    size=case.size,
                ),
            )
        marks.append(time.perf_counter())
        per_part = up.part_size // BODY_PIECE
        for n in range(up.parts):
            async with rt.database.transaction(tenant_id=self.tenant_id) as db:
                await files.put_part(
                    user, db, up.id, n, stream(data[n * per_part : (n + 1) * per_part])
                )
        marks.append(time.perf_counter())
        async with rt.database.transaction(tenant_id=self.tenant_id) as db:
            made = await files.complete_upload(user, db, up.id)
        marks.append(time.perf_counter())
        for _ in range(SCAN_ATTEMPTS):
            run = await scan_pending(rt)
            if run.unavailable:
                raise RuntimeError("clamd became unavailable during the benchmark")
            if run.scanned:
                break
        else:
            raise RuntimeError("the scan job did not scan the upload")
        marks.append(time.perf_counter())
        if steps is not None:
            steps.start.append(marks[1] - marks[0])
            steps.parts.append(marks[2] - marks[1])
            steps.complete.append(marks[3] - marks[2])
            steps.scan.append(marks[4] - marks[3])
        made_id: uuid.UUID = made.id
        return made_id

    async def verdict(self, file_id: uuid.UUID) -> tuple[str, bool, str]:
        """(state, deep-inspected, content type) of a file's scanned version."""
        async with self.rt.database.transaction(tenant_id=self.tenant_id) as db:
            v = await self._version(db, file_id)
            skipped = any(x["name"] == "Overleg.Scan.DeepSkipped" for x in v.scan_findings)
            return v.scan_state, not skipped, v.content_type

    async def forget(self, file_id: uuid.UUID) -> None:
        """Remove a measured file's parts from the store (the disk stays flat)."""
        async with self.rt.database.transaction(tenant_id=self.tenant_id) as db:
            blob = await self._blob(db, file_id)
            await blobs.delete_parts(blobs.store_of(db), blob)

    async def _version(self, db: AsyncSession, file_id: uuid.UUID) -> FileVersion:
        v = await db.scalar(
            select(FileVersion)
            .join(FileItem, FileItem.current_version_id == FileVersion.id)
            .where(FileItem.id == file_id)
        )
        assert v is not None
        return v

    async def _blob(self, db: AsyncSession, file_id: uuid.UUID) -> Blob:
        blob = await db.get(Blob, (await self._version(db, file_id)).blob_id)
        assert blob is not None
        return blob

    async def opener(self, file_id: uuid.UUID) -> Callable[[], AsyncIterator[bytes]]:
        """What the scan job hands the pipeline: a new plaintext stream per call."""
        async with self.rt.database.transaction(tenant_id=self.tenant_id) as db:
            blob = await self._blob(db, file_id)
            key = await blobs.blob_key(db, blob)
            where = (blobs.store_of(db), blob.tenant_id, blob.id, blob.size, blob.part_size, key)

        def open_stream() -> AsyncIterator[bytes]:
            return blobs.read_with_key(*where, 0, where[3])

        return open_stream

    async def instream(self, chunks: list[bytes]) -> None:
        result = await self.clamd.instream(stream(chunks))
        if not result.clean:
            raise RuntimeError(f"clamd did not find the bytes clean: {result.reply}")


async def _user(rt: Runtime) -> Principal:
    op = operator("bench")
    async with rt.database.transaction(unscoped=True) as db:
        tenant = await identity.create_tenant(
            op, db, TenantCreate(name="Bench files", slug="bench-files")
        )
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        created = await identity.create_user(
            for_tenant(op, tenant.id),
            db,
            UserCreate(
                email="uploader@bench.example",
                display_name="Uploader",
                password="violet anchor gravel 7391",
            ),
        )
    return Principal(
        kind=PrincipalKind.USER,
        tenant_id=tenant.id,
        label="uploader@bench.example",
        user_id=created.user.id,
        roles=frozenset({Role.MEMBER}),
    )


def _start_clamd(rt: Runtime, clamav_db: Path | None) -> int:
    if find_binary("clamd") is None:
        raise Unavailable("clamd is not installed (apt-get install clamav-daemon)")
    if clamav_db is not None:
        target = rt.settings.scan_clamd_db_dir
        assert target is not None
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = [p for p in clamav_db.iterdir() if p.suffix in DB_SUFFIXES and p.is_file()]
        if not found:
            raise Unavailable(f"no ClamAV database files in {clamav_db}")
        for path in found:
            (target / path.name).symlink_to(path.resolve())
    try:
        pid = clamd_process.launch(rt.settings)
        clamd_process.wait_ready(rt.settings, pid, CLAMD_READY_SECONDS)
    except clamd_process.ClamdError as exc:
        raise Unavailable(f"clamd did not start: {exc}") from None
    return pid


# -- 1 and 2: upload and scan ------------------------------------------------------------------


async def _timed(op: Awaitable[T], units: int, clamd_pid: int) -> tuple[T, Sample, float]:
    """Run ``op``: what it returned, its sample of ``units``, clamd's CPU seconds."""
    cpu_clamd = cpu_of(clamd_pid)
    t, c = time.perf_counter(), time.process_time()
    value = await op
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    return value, Sample(units, seconds, cpu), cpu_of(clamd_pid) - cpu_clamd


async def upload_case(b: Bench, case: FileCase, seed: int) -> UploadResult:
    data = make_bytes(case.kind, case.size, seed)
    body, chunks = pieces(data, BODY_PIECE), pieces(data, CLAMD_PIECE)
    # warm-up, not counted: code paths, caches, the pool, clamd's first scan
    await b.forget(await b.upload(case, body, None))
    await b.instream(chunks)
    comparison, steps = Comparison(), Steps()
    result = UploadResult(case, 0, False, "", comparison, steps, Breakdown())
    for i in range(case.rounds):
        for which in ("subject", "baseline") if i % 2 == 0 else ("baseline", "subject"):
            if which == "subject":
                file_id, sample, clamd_cpu = await _timed(
                    b.upload(case, body, steps), case.size, b.clamd_pid
                )
                comparison.subject.samples.append(sample)
                result.clamd_cpu_subject += clamd_cpu
                state, deep, content_type = await b.verdict(file_id)
                if state != "clean":
                    raise RuntimeError(f"{case.label}: the upload was scanned {state}, not clean")
                if deep != (case.size <= b.rt.settings.scan_deep_max_bytes):
                    raise RuntimeError(f"{case.label}: deep inspection ran: {deep}")
                result.deep, result.content_type = deep, content_type
                await b.forget(file_id)
            else:
                _, sample, clamd_cpu = await _timed(b.instream(chunks), case.size, b.clamd_pid)
                comparison.baseline.samples.append(sample)
                result.clamd_cpu_baseline += clamd_cpu
    result.parts = blobs.parts_for(case.size, b.rt.settings.files_part_bytes)
    await _breakdown(b, case, data, body, result.breakdown)
    return result


async def _breakdown(
    b: Bench, case: FileCase, data: bytes, body: list[bytes], into: Breakdown
) -> None:
    """The parts of the path alone, over one more upload of the same bytes."""
    file_id = await b.upload(case, body, None)
    open_stream = await b.opener(file_id)
    settings = b.rt.settings
    key, aad = sealed.new_content_key(), b"overleg:bench"
    for _ in range(BREAKDOWN_RUNS):
        t = time.perf_counter()
        if await drain(open_stream()) != case.size:
            raise RuntimeError("the blob read back has the wrong size")
        into.read_back.append(time.perf_counter() - t)
        t = time.perf_counter()
        scanned = await pipeline.scan(
            open_stream, size=case.size, name=case.name, settings=settings
        )
        into.pipeline.append(time.perf_counter() - t)
        if scanned.state != "clean":
            raise RuntimeError(f"the pipeline found {case.label} {scanned.state}")
        t = time.perf_counter()
        scanned = await pipeline.scan(
            lambda: stream(body), size=case.size, name=case.name, settings=settings
        )
        into.from_memory.append(time.perf_counter() - t)
        if scanned.state != "clean":
            raise RuntimeError(f"the pipeline found {case.label} {scanned.state}")
        t = time.perf_counter()
        await asyncio.to_thread(pipeline.inspect, data, case.name, settings, "block")
        into.inspect.append(time.perf_counter() - t)
        into.seal.append(_aes(data, key, aad, decrypt=False))
    await b.forget(file_id)


def _aes(data: bytes, key: bytes, aad: bytes, *, decrypt: bool) -> float:
    """Seconds to seal ``data`` in 64 KiB chunks (or to open it, sealed beforehand), in
    memory; each result is dropped at once, as a stream would."""
    aead = AESGCM(key)
    view = memoryview(data)
    chunks = [view[i : i + sealed.CHUNK] for i in range(0, len(data), sealed.CHUNK)]
    nonces = [i.to_bytes(12, "big") for i in range(len(chunks))]
    if not decrypt:
        t = time.perf_counter()
        for nonce, chunk in zip(nonces, chunks, strict=True):
            aead.encrypt(nonce, chunk, aad)
        return time.perf_counter() - t
    closed = [aead.encrypt(n, c, aad) for n, c in zip(nonces, chunks, strict=True)]
    t = time.perf_counter()
    for nonce, box in zip(nonces, closed, strict=True):
        aead.decrypt(nonce, box, aad)
    return time.perf_counter() - t


# -- 3. sealing overhead -----------------------------------------------------------------------


async def seal_overhead(store: LocalStore, size: int, rounds: int) -> SealResult:
    data = make_bytes("random", size, 9)
    body = pieces(data, BODY_PIECE)
    key, aad = sealed.new_content_key(), b"overleg:bench-seal"
    write, read = Comparison(), Comparison()

    as_parts = blobs.in_blocks(store)  # as file parts are written

    async def seal_write(name: str) -> None:
        done = await sealed.write(as_parts, name, stream(body), key, aad, digest=False)
        if done.size != size:
            raise RuntimeError("sealed the wrong number of bytes")

    async def plain_write(name: str) -> None:
        if await as_parts.put(name, stream(body)) != size:
            raise RuntimeError("stored the wrong number of bytes")

    async def seal_read(name: str) -> None:
        if await drain(sealed.read(store, name, key, aad)) != size:
            raise RuntimeError("read back the wrong number of bytes")

    async def plain_read(name: str) -> None:
        if await drain(store.read(name)) != size:
            raise RuntimeError("read back the wrong number of bytes")

    async def timed(op: Callable[[str], Awaitable[None]], name: str, into: Series) -> None:
        t, c = time.perf_counter(), time.process_time()
        await op(name)
        into.samples.append(Sample(size, time.perf_counter() - t, time.process_time() - c))

    # warm-up, not counted
    for op in (seal_write, plain_write):
        await op("bench/warm")
    await store.delete("bench/warm")
    sealed_side = (seal_write, seal_read, write.subject, read.subject, "bench/sealed")
    plain_side = (plain_write, plain_read, write.baseline, read.baseline, "bench/plain")
    for i in range(rounds):
        sides = [sealed_side, plain_side] if i % 2 == 0 else [plain_side, sealed_side]
        for put, _, into, _, name in sides:
            await timed(put, name, into)
        for _, get, _, into, name in sides:
            await timed(get, name, into)
        for *_, name in sides:
            await store.delete(name)
    encrypt = [_aes(data, key, aad, decrypt=False) for _ in range(rounds)]
    decrypt = [_aes(data, key, aad, decrypt=True) for _ in range(rounds)]
    return SealResult(size, write, read, encrypt, decrypt)


# -- the run -----------------------------------------------------------------------------------


async def run(
    rt: Runtime,
    *,
    cases: tuple[FileCase, ...] = FILES,
    seal_rounds: int = 5,
    clamav_db: Path | None = None,
) -> FilesResult:
    """Benchmark 9 on ``rt`` (its data folder gets clamd's configuration, socket, spool and
    database folder; ``clamav_db``: more database files for it). ``Unavailable`` without
    clamd; RuntimeError when something does not work."""
    load_start = machine.load()
    pid = await asyncio.to_thread(_start_clamd, rt, clamav_db)
    try:
        client = ClamdClient.from_settings(rt.settings)
        b = Bench(rt, await _user(rt), client, pid)
        version = await client.version()
        results = [await upload_case(b, case, seed) for seed, case in enumerate(cases)]
        assert rt.settings.storage_dir is not None
        seal = await seal_overhead(LocalStore(rt.settings.storage_dir), SEAL_BYTES, seal_rounds)
    finally:
        await asyncio.to_thread(clamd_process.stop_pid, pid)
    return FilesResult(
        backend=rt.database.engine.dialect.name,
        clamd_version=version,
        databases="Overleg's own small signature database"
        + (f" and the database files of {clamav_db}" if clamav_db is not None else ""),
        deep_max_bytes=rt.settings.scan_deep_max_bytes,
        part_bytes=rt.settings.files_part_bytes,
        uploads=results,
        seal=seal,
        load_start=load_start,
        load_end=machine.load(),
    )


# -- output ------------------------------------------------------------------------------------


def mbps(series: Series) -> float:
    return series.rate / MB


def spread(c: Comparison) -> str:
    lo, _, hi = c.ratio_spread()
    return f"{lo:.2f} .. {hi:.2f}"


def _ms(x: float) -> str:
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def report(r: FilesResult) -> str:
    lines = [
        f"files benchmark on {r.backend}: {r.clamd_version} ({r.databases}), parts of "
        f"{r.part_bytes // (1024 * 1024)} MiB, deep inspection up to "
        f"{r.deep_max_bytes:,} bytes",
        f"  load average at start {r.load_start}, at end {r.load_end}",
    ]
    for u in r.uploads:
        c = u.comparison
        per_mb = u.case.size / MB
        rounds = len(c.subject.samples)
        steps, alone = u.steps.medians_ms(), u.breakdown.medians_ms()
        lines += [
            f"  {u.case.label} ({u.parts} part(s), {u.content_type}, deep inspection "
            f"{'yes' if u.deep else 'no'}), {rounds} alternating rounds:",
            f"    upload+scan {mbps(c.subject):7.1f} MB/s   clamd alone {mbps(c.baseline):7.1f} "
            f"MB/s   ratio {c.ratio:.2f} (rounds {spread(c)}): "
            f"{'within' if u.within_target else 'OUTSIDE'} target (>= {TARGET_RATIO})",
            f"    CPU per MB  this process {c.subject.cpu_per_unit * MB * 1000:.1f} vs "
            f"{c.baseline.cpu_per_unit * MB * 1000:.2f} ms; clamd "
            f"{u.clamd_cpu_subject * 1000 / rounds / per_mb:.1f} vs "
            f"{u.clamd_cpu_baseline * 1000 / rounds / per_mb:.1f} ms (10 ms clock tick)",
            f"    median ms   upload+scan {_ms(u.subject_ms)}, clamd alone {_ms(u.baseline_ms)}:"
            f" Overleg adds {_ms(u.extra_ms)}",
            "    steps       " + ", ".join(f"{k} {_ms(v)}" for k, v in steps.items()),
            "    alone       " + ", ".join(f"{k} {_ms(v)}" for k, v in alone.items()),
            f"    so          the scan job's database work and bookkeeping (scan step - "
            f"pipeline.scan) {_ms(steps['scan'] - alone['pipeline.scan'])}; reading the "
            f"blob adds (pipeline.scan - from memory) "
            f"{_ms(alone['pipeline.scan'] - alone['pipeline.scan from memory'])}; from memory"
            f" vs clamd alone {_ms(alone['pipeline.scan from memory'])} vs "
            f"{_ms(u.baseline_ms)}",
        ]
    lines += _cost_model(r.uploads)
    s = r.seal
    enc = s.size / MB / statistics.median(s.encrypt)
    dec = s.size / MB / statistics.median(s.decrypt)
    lines += [
        f"  sealing {s.size / MB:.0f} MB into the LocalStore as file parts are written (no "
        f"digest, 1 MiB blocks), {len(s.write.subject.samples)} alternating rounds (same "
        "store and folder, temporary file, fsync, rename):",
        f"    write  sealed {mbps(s.write.subject):7.1f} MB/s   plain {mbps(s.write.baseline):7.1f}"
        f" MB/s   ratio {s.write.ratio:.2f} (rounds {spread(s.write)}); CPU per MB "
        f"{s.write.subject.cpu_per_unit * MB * 1000:.2f} vs "
        f"{s.write.baseline.cpu_per_unit * MB * 1000:.2f} ms",
        f"    read   sealed {mbps(s.read.subject):7.1f} MB/s   plain {mbps(s.read.baseline):7.1f}"
        f" MB/s   ratio {s.read.ratio:.2f} (rounds {spread(s.read)}); CPU per MB "
        f"{s.read.subject.cpu_per_unit * MB * 1000:.2f} vs "
        f"{s.read.baseline.cpu_per_unit * MB * 1000:.2f} ms",
        f"    AES-256-GCM alone in memory, 64 KiB chunks: seal {enc:,.0f} MB/s, open "
        f"{dec:,.0f} MB/s",
    ]
    return "\n".join(lines)


def _cost_model(done: list[UploadResult]) -> list[str]:
    """Overleg's extra time as fixed + per MB, from the smallest and the largest random
    file; and how slow clamd would have to be for the target to hold at the largest."""
    random_files = sorted((u for u in done if u.case.kind == "random"), key=lambda u: u.case.size)
    if len(random_files) < 2 or random_files[0].case.size == random_files[-1].case.size:
        return []
    small, large = random_files[0], random_files[-1]
    per_mb = (large.extra_ms - small.extra_ms) / ((large.case.size - small.case.size) / MB)
    fixed = small.extra_ms - per_mb * small.case.size / MB
    # ratio = clamd / (clamd + extra) >= TARGET  <=>  clamd >= extra * TARGET / (1 - TARGET)
    needed = large.extra_ms * TARGET_RATIO / (1 - TARGET_RATIO)
    return [
        f"  model       Overleg adds about {fixed:.0f} ms per file + {per_mb:.1f} ms per MB "
        f"(from the {small.case.label} and {large.case.label} files); the target would hold "
        f"for {large.case.label} if clamd alone took at least {needed / 1000:.1f} s "
        f"({large.case.size / MB / (needed / 1000):.0f} MB/s or slower)",
    ]


async def _main_async(backend: Backend, data_dir: Path, args: argparse.Namespace) -> str:
    rt = make_runtime(backend, data_dir)
    try:
        result = await run(rt, clamav_db=args.clamav_db, **(QUICK if args.quick else {}))
    finally:
        await rt.database.dispose()
    return report(result)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.files", description=__doc__)
    p.add_argument("--postgres", action="store_true", help=f"run on PostgreSQL ({PG_URL})")
    p.add_argument("--quick", action="store_true", help="one round each, 20 MB instead of 100")
    p.add_argument(
        "--clamav-db",
        type=Path,
        default=None,
        help="a folder of ClamAV databases (e.g. the official ones) for clamd, besides Overleg's",
    )
    args = p.parse_args(argv)
    from tests.bench.__main__ import _quiet_production_logging

    _quiet_production_logging()
    facts = machine.describe()
    try:
        out = run_on(
            args.postgres,
            "overleg-bench-files-",
            lambda backend, data: _main_async(backend, data, args),
        )
    except Unavailable as exc:
        print(f"files benchmark skipped: {exc}")
        return 1
    width = max(len(k) for k, _ in facts)
    print("\n".join(f"  {k.ljust(width)}  {v}" for k, v in facts))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
