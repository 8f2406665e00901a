"""The malware scan of uploads, as a job: every version in ``scan_pending`` is scanned by
the engines (``files.scanning.pipeline``) and becomes ``clean``, ``infected``
(quarantined) or ``scan_failed`` (blocked until an admin rescans it).

- The database is the queue: a node claims a version with a lease, scans the plaintext it
  streams from the object store (never written to disk), and records the verdict, the
  findings and the signatures' fingerprint.
- clamd unreachable: the version stays ``scan_pending`` (nobody but its uploader can open
  it) and the job stops for this round; the next round goes on where it stopped.
- Infected or failed: an admin alert, an event to the uploader, an audit record.
- When the signatures change, clean versions uploaded within the policy's
  ``rescan_days`` are scanned again in the background; they stay openable meanwhile and
  are quarantined only if something is found now.
- Search: a current version scanned clean is indexed (``kind="file"``) by its name and the
  text extracted for the content gate; any other verdict drops the file from the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.files import blobs
from overleg.files.content import detect_full
from overleg.files.extract import extract_text
from overleg.files.models import Blob, FileItem, FileVersion
from overleg.files.scanning import pipeline
from overleg.files.scanning.clamd import ClamdClient
from overleg.files.scanning.signatures import settings_fingerprint
from overleg.files.uploads import open_name, policy
from overleg.kernel.clock import now
from overleg.kernel.events.outbox import emit
from overleg.kernel.runtime import Runtime
from overleg.search import index as search_index
from overleg.search.schemas import SearchDocument
from overleg.security import content_gate
from overleg.security.principal import Principal, for_tenant, system
from overleg.threat.service import raise_alert

log = structlog.get_logger("overleg.files.scan")

LEASE = timedelta(minutes=10)
STATES = {"clean": "clean", "infected": "infected", "failed": "scan_failed"}


@dataclass
class ScanRun:
    """What one round did: (version id, new state); ``unavailable``: clamd was down."""

    scanned: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    unavailable: bool = False


@dataclass(frozen=True)
class _Job:
    """What scanning one claimed version needs, read in the claim's transaction.
    ``name_enc``: the sealed name that ``name`` was opened from."""

    name: str
    name_enc: bytes
    size: int
    macro_policy: pipeline.MacroPolicy
    textual: bool
    place: tuple[str, str]
    open_stream: Callable[[], AsyncIterator[bytes]]

    @property
    def seen(self) -> tuple[bytes, str]:
        return self.name_enc, self.name


async def _claim(rt: Runtime, tenant_id: uuid.UUID, version_id: uuid.UUID) -> _Job | None:
    """Claim a version for ``LEASE`` and read what its scan needs, in one transaction; None
    when another node holds it. The claim is committed even when reading fails (the
    version then waits out its lease instead of failing every round)."""
    t = now()
    failed: Exception | None = None
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        done = await db.execute(
            update(FileVersion)
            .where(
                FileVersion.id == version_id,
                or_(FileVersion.scan_claimed_until.is_(None), FileVersion.scan_claimed_until < t),
            )
            .values(scan_claimed_until=t + LEASE, scan_attempts=FileVersion.scan_attempts + 1)
        )
        if not getattr(done, "rowcount", 0):
            return None
        try:
            job = await _job(db, tenant_id, version_id)
        except Exception as e:
            failed = e
    if failed is not None:
        raise failed
    return job


async def _job(db: AsyncSession, tenant_id: uuid.UUID, version_id: uuid.UUID) -> _Job:
    v, f, blob = (
        await db.execute(
            select(FileVersion, FileItem, Blob)
            .join(FileItem, FileItem.id == FileVersion.file_id)
            .join(Blob, Blob.id == FileVersion.blob_id)
            .where(FileVersion.id == version_id)
        )
    ).one()
    name = await open_name(db, tenant_id, f.id, f.name_enc)
    macro_policy = (await policy(db)).macro_policy
    key = await blobs.blob_key(db, blob)
    where = (blobs.store_of(db), blob.tenant_id, blob.id, blob.size, blob.part_size, key)

    def open_stream() -> AsyncIterator[bytes]:
        return blobs.read_with_key(*where, 0, where[3])

    return _Job(
        name=name,
        name_enc=f.name_enc,
        size=blob.size,
        macro_policy=macro_policy,
        textual=_has_text(v.content_type),
        place=(f.container_type, str(f.container_id)),
        open_stream=open_stream,
    )


async def _release(rt: Runtime, tenant_id: uuid.UUID, version_id: uuid.UUID) -> None:
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        v = await db.get(FileVersion, version_id)
        if v is not None:
            v.scan_claimed_until = None


async def _scan_one(
    rt: Runtime, tenant_id: uuid.UUID, job: _Job
) -> tuple[pipeline.ScanResult, str]:
    """Scan a claimed version: the verdict, and the text extracted from it ("" when it has
    none, or is not clean, or too large to read). ``ScannerUnavailable`` passes through.
    The content gate reads the bytes deep inspection held: the file is read once."""
    result, data = await pipeline.scan_keeping(
        job.open_stream,
        size=job.size,
        name=job.name,
        settings=rt.settings,
        macro_policy=job.macro_policy,
    )
    if result.state != "clean" or not job.textual or data is None:
        return result, ""
    actor = for_tenant(system(job="files.scan"), tenant_id)
    found, text = await _gate(actor, data, job.name, job.place)
    if found is None:
        return result, text
    findings = [*result.findings, found]
    return replace(result, state=pipeline.verdict(findings), findings=findings), text


#: types whose text the content gate reads (the type was told by the content at upload)
TEXT_TYPES = frozenset(
    {
        "application/pdf",
        "application/json",
        "application/xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-word.document.macroEnabled.12",
        "application/vnd.ms-excel.sheet.macroEnabled.12",
    }
)


def _has_text(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type in TEXT_TYPES


async def _gate(
    actor: Principal, data: bytes, name: str, place: tuple[str, str]
) -> tuple[pipeline.Finding | None, str]:
    """The file's text (``data``: all of its bytes) through the content gate, like every
    other way content comes in (DLP and content search see files too). A block
    quarantines the file like malware; a warning is noted. Also returns the text (for the
    search index)."""
    extracted = await asyncio.to_thread(lambda: extract_text(data, detect_full(data, name)))
    if not extracted.text.strip():
        return None, ""
    verdict = content_gate.inspect(
        actor, content_gate.Content(content_gate.Channel.FILE, extracted.text, *place)
    )
    if verdict.kind is content_gate.VerdictKind.ALLOW:
        return None, extracted.text
    return pipeline.Finding(
        engine="content_gate",
        name="Overleg.ContentGate." + verdict.kind.value.capitalize(),
        detail="; ".join(verdict.reasons)[:500] or verdict.kind.value,
        severity="infected" if verdict.kind is content_gate.VerdictKind.BLOCK else "warning",
    ), extracted.text


async def _apply(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    version_id: uuid.UUID,
    result: pipeline.ScanResult,
    *,
    rescan: bool,
    text: str = "",
    seen: tuple[bytes, str] | None = None,
) -> str:
    """Record the verdict; the version's state after it.

    The file's search document follows its current version: a clean one is indexed by its
    name and ``text``; any other verdict removes it. A rescan that keeps the version clean
    leaves it as it was indexed. ``seen``: the sealed name and the name the scan used
    (the name is opened again only if it changed meanwhile)."""
    v, f = (
        await db.execute(
            select(FileVersion, FileItem)
            .join(FileItem, FileItem.id == FileVersion.file_id)
            .where(FileVersion.id == version_id)
        )
    ).one()
    if seen is not None and seen[0] == f.name_enc:
        name = seen[1]
    else:
        name = await open_name(db, tenant_id, f.id, f.name_enc)
    state = STATES[result.state]
    # the file's name is sealed at rest: it does not go into the findings in the clear
    # (neither the name the scan used nor the one it has now)
    hidden = sorted({n for n in (name, seen[1] if seen else "") if n}, key=len, reverse=True)

    def redact(detail: str) -> str:
        for n in hidden:
            detail = detail.replace(n, "(the file)")
        return detail

    findings = [
        {
            "engine": x.engine,
            "name": x.name,
            "detail": redact(x.detail),
            "severity": x.severity,
        }
        for x in result.findings
    ]
    v.scan_claimed_until, v.scanned_at, v.scan_fingerprint = None, now(), result.fingerprint
    if rescan and state != "infected":
        return v.scan_state  # a rescan only ever quarantines; a failure keeps it clean
    v.scan_state, v.scan_findings = state, findings
    if f.current_version_id == v.id:
        f.state = state
        await _index(db, f, v, name, text)
    actor = for_tenant(system(job="files.scan"), tenant_id)
    await record(
        actor,
        db,
        "file.scan",
        target_type="file",
        target_id=f.id,
        details={
            "version": v.number,
            "state": state,
            "findings": [x["name"] for x in findings][:20],
            "engines": result.engines,
            "rescan": rescan,
        },
    )
    if state != "clean":
        await raise_alert(
            db,
            tenant_id=tenant_id,
            kind="file.infected" if state == "infected" else "file.scan_failed",
            severity="high" if state == "infected" else "medium",
            title="Malware was found in an upload; it is quarantined"
            if state == "infected"
            else "An upload could not be scanned; it stays blocked",
            details={
                "file_id": f.id,
                "version_id": v.id,
                "findings": [x["name"] for x in findings][:20],
            },
            target_type="file_version",
            target_id=v.id,
        )
    await emit(
        db,
        tenant_id=tenant_id,
        type="file.scanned",
        payload={"file_id": str(f.id), "version": v.number, "state": state},
        recipients=[v.uploaded_by],
    )
    return state


async def _index(db: AsyncSession, f: FileItem, v: FileVersion, name: str, text: str) -> None:
    """(Re)index a file whose current version ``v`` was just scanned, or drop it from the
    index unless it is clean (and not deleted)."""
    if v.scan_state != "clean" or f.deleted_at is not None:
        await search_index.remove_message(db, f.tenant_id, f.id)
        return
    doc = SearchDocument(
        tenant_id=f.tenant_id,
        message_id=f.id,
        container_type=f.container_type,
        container_id=f.container_id,
        author_id=v.uploaded_by,
        created_at=v.uploaded_at,
        has_attachment=False,
        kind="file",
    )
    await search_index.index_message(db, doc, f"{name}\n{text}" if text else name)


async def scan_pending(rt: Runtime, *, limit: int = 100) -> ScanRun:
    """Scan up to ``limit`` pending versions (all tenants), oldest first."""
    run = ScanRun()
    async with rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.execute(
                select(FileVersion.tenant_id, FileVersion.id)
                .where(
                    FileVersion.scan_state == "scan_pending",
                    or_(
                        FileVersion.scan_claimed_until.is_(None),
                        FileVersion.scan_claimed_until < now(),
                    ),
                )
                .order_by(FileVersion.uploaded_at)
                .limit(limit)
            )
        ).all()
    for tenant_id, version_id in rows:
        job = await _claim(rt, tenant_id, version_id)
        if job is None:
            continue
        try:
            result, text = await _scan_one(rt, tenant_id, job)
        except pipeline.ScannerUnavailable as exc:
            await _release(rt, tenant_id, version_id)
            log.warning("scanner_unavailable", error=str(exc))
            run.unavailable = True
            return run
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            state = await _apply(
                db, tenant_id, version_id, result, rescan=False, text=text, seen=job.seen
            )
            run.scanned.append((version_id, state))
    return run


async def rescan_recent(rt: Runtime, *, limit: int = 500) -> ScanRun:
    """Scan again the clean versions uploaded within each organisation's ``rescan_days``
    whose last scan used other signatures than the scanners have now."""
    current = await asyncio.to_thread(settings_fingerprint, rt.settings)
    run = ScanRun()
    async with rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.execute(
                select(FileVersion.tenant_id, FileVersion.id, FileVersion.uploaded_at)
                .where(
                    FileVersion.scan_state == "clean",
                    or_(
                        FileVersion.scan_fingerprint.is_(None),
                        FileVersion.scan_fingerprint != current,
                    ),
                )
                .order_by(FileVersion.uploaded_at.desc())
                .limit(limit)
            )
        ).all()
    if rows:
        # clamd re-reads its databases by itself only every few minutes
        with contextlib.suppress(pipeline.ScannerUnavailable, OSError):
            await ClamdClient.from_settings(rt.settings).reload()
    days: dict[uuid.UUID, int] = {}
    for tenant_id, version_id, uploaded_at in rows:
        if tenant_id not in days:
            async with rt.database.transaction(tenant_id=tenant_id) as db:
                days[tenant_id] = (await policy(db)).rescan_days
        if uploaded_at < now() - timedelta(days=days[tenant_id]):
            continue
        job = await _claim(rt, tenant_id, version_id)
        if job is None:
            continue
        try:
            result, _ = await _scan_one(rt, tenant_id, job)
        except pipeline.ScannerUnavailable:
            await _release(rt, tenant_id, version_id)
            run.unavailable = True
            return run
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            state = await _apply(db, tenant_id, version_id, result, rescan=True, seen=job.seen)
            run.scanned.append((version_id, state))
    return run
