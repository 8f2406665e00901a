"""The scanning pipeline: one file in, one verdict out.

What runs: clamd scans the stream (always: every size, every type); if the file is at
most ``scan_deep_max_bytes``, deep inspection also holds it in memory (never on disk) and
runs YARA over it, the macro check over Office files, and the archive walk over zips,
giving every member to YARA and the macro check too (nested zips included). The plaintext
is read once, a little ahead of what clamd has taken: the pieces sent to clamd are kept on
the way, and deep inspection starts in a worker thread as soon as the last piece has been
read, while clamd still scans (read again only if clamd stopped reading early). The verdict
waits for both.

Verdict (``ScanResult.state``):

- ``infected``: any finding of severity ``infected``: a clamd signature, a YARA rule, a
  suspicious auto-executing macro under the ``block`` policy, an archive limit passed.
- ``failed``: no detection, but something could not be checked: clamd answered ERROR
  (e.g. the file is over its StreamMaxLength), a corrupt archive, an unreadable Office
  file under ``block``, a YARA error. Not clean: the file stays blocked; an admin may
  rescan or release it.
- ``clean``: nothing else; findings of severity ``warning`` (macros present, macros under
  ``warn``, encrypted members, deep inspection skipped, admin rule files left out) do
  not change the verdict.

clamd down or not answering raises ``ScannerUnavailable``: the caller keeps the file in
``scan_pending`` and tries again later. Nothing here ever turns an error into ``clean``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import structlog

from overleg.files.scanning import archives, macros, yara_rules
from overleg.files.scanning.clamd import ClamdClient, EngineResult, ScannerUnavailable
from overleg.files.scanning.signatures import BUILTIN_VERSION, settings_fingerprint
from overleg.settings import Settings

log = structlog.get_logger("overleg.files.scanning")

MacroPolicy = Literal["block", "warn", "allow"]
ScanState = Literal["clean", "infected", "failed"]
Severity = Literal["infected", "failed", "warning"]

__all__ = ["Finding", "MacroPolicy", "ScanResult", "ScannerUnavailable", "scan", "scan_keeping"]


@dataclass(frozen=True)
class Finding:
    """What one engine reported. ``engine``: ``clamav``, ``yara``, ``macros``, ``archive``
    or ``pipeline``; ``name``: a signature or rule name (``Overleg.*`` for Overleg's own
    findings); ``detail``: where and why, one line; ``severity`` decides the verdict."""

    engine: str
    name: str
    detail: str
    severity: Severity = "infected"


@dataclass(frozen=True)
class ScanResult:
    """The verdict on one file. ``engines``: name -> version of each engine that ran;
    ``fingerprint``: ``signatures.fingerprint`` of the databases at scan time (store it:
    when the current one differs, scan again); ``deep``: whether deep inspection ran."""

    state: ScanState
    findings: list[Finding]
    engines: dict[str, str]
    fingerprint: str
    deep: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (for the files domain's records)."""
        return asdict(self)


def verdict(findings: list[Finding]) -> ScanState:
    severities = {f.severity for f in findings}
    if "infected" in severities:
        return "infected"
    if "failed" in severities:
        return "failed"
    return "clean"


async def scan(
    open_stream: Callable[[], AsyncIterator[bytes]],
    *,
    size: int,
    name: str,
    settings: Settings,
    macro_policy: MacroPolicy = "block",
) -> ScanResult:
    """Scan one file whose plaintext ``open_stream()`` yields (a new iterator per call),
    ``size`` bytes long, called ``name`` (for YARA's ``filename`` and the findings).

    Raises ``ScannerUnavailable`` when clamd cannot be reached or does not answer; errors
    of the stream itself (the storage) are raised as they are."""
    result, _ = await scan_keeping(
        open_stream, size=size, name=name, settings=settings, macro_policy=macro_policy
    )
    return result


async def scan_keeping(
    open_stream: Callable[[], AsyncIterator[bytes]],
    *,
    size: int,
    name: str,
    settings: Settings,
    macro_policy: MacroPolicy = "block",
) -> tuple[ScanResult, bytes | None]:
    """``scan``, and the plaintext that deep inspection held in memory (None when it did
    not run over the whole file), for a caller that needs the bytes next (the content
    gate) and should not read them again.

    How the time is spent: the stream is read ahead of what clamd has taken (the storage
    and the decryption work while clamd reads), every byte goes to clamd, and deep
    inspection starts in a worker thread as soon as the whole file has been read, while
    clamd scans what it received; the verdict waits for both."""
    client = ClamdClient.from_settings(settings)
    # asked while the file is scanned; clamd down: the scan's own connection fails first,
    # before anything is read (ScannerUnavailable)
    facts = asyncio.gather(client.version(), asyncio.to_thread(settings_fingerprint, settings))
    limit = settings.scan_deep_max_bytes
    reading = _ReadAhead(open_stream, limit if size <= limit else -1)
    deep_task: asyncio.Future[_Deep] | None = None

    def start_deep(pieces: list[bytes]) -> None:
        nonlocal deep_task
        deep_task = asyncio.ensure_future(
            asyncio.to_thread(_deep, pieces, name, settings, macro_policy)
        )

    reading.on_complete = start_deep
    try:
        result = await client.instream(reading.chunks())
        clamd_version, fingerprint = await facts
    except BaseException:
        for task in (facts, deep_task):
            _drop(task)  # a worker thread finishes on its own; nobody waits for it
        raise
    finally:
        await reading.stop()
    engines = {"clamav": clamd_version, "overleg": f"signatures {BUILTIN_VERSION}"}
    findings = _clamd_findings(result)

    deep = size <= limit
    data: bytes | None = None
    if deep:
        if deep_task is None and not reading.overflow:
            # clamd stopped reading early (an error): read the file again for ourselves
            again = await _read_all(open_stream, limit)
            if again is not None:
                start_deep([again])
        if deep_task is None:
            deep = False
            findings.append(
                Finding(
                    "pipeline",
                    "Overleg.Scan.DeepSkipped",
                    f"the stream was longer than its declared size ({size} bytes) "
                    f"and than scan_deep_max_bytes ({limit}): not inspected in memory",
                    "warning",
                )
            )
        else:
            done = await deep_task
            findings.extend(done.findings)
            engines.update(done.engines)
            data = done.data
    else:
        findings.append(
            Finding(
                "pipeline",
                "Overleg.Scan.DeepSkipped",
                f"{size} bytes is more than scan_deep_max_bytes ({limit}): "
                "clamd only, no YARA, macro or archive inspection",
                "warning",
            )
        )

    outcome = ScanResult(
        state=verdict(findings),
        findings=findings,
        engines=engines,
        fingerprint=fingerprint,
        deep=deep,
    )
    log.info(
        "file scanned",
        state=outcome.state,
        findings=[f.name for f in findings if f.severity != "warning"],
        deep=deep,
        size=size,
    )
    return outcome, data


#: bytes read ahead of what clamd has taken: enough to keep clamd fed while the storage
#: and the decryption work (the object store's reads are 64 KiB to 1 MiB)
READ_AHEAD_BYTES = 1024 * 1024

_END = object()


class _ReadAhead:
    """Reads ``open_stream()`` in a task of its own, about ``READ_AHEAD_BYTES`` ahead of
    the consumer of ``chunks()``, and keeps the pieces for deep inspection while they add
    up to at most ``keep_up_to`` bytes (-1: keep nothing). When the stream has ended and
    everything was kept, ``on_complete(pieces)`` is called at once, before the consumer
    has taken the last chunks."""

    def __init__(self, open_stream: Callable[[], AsyncIterator[bytes]], keep_up_to: int) -> None:
        self.open_stream = open_stream
        self.keep_up_to = keep_up_to
        self.pieces: list[bytes] = []
        self.kept = 0
        self.overflow = False
        self.on_complete: Callable[[list[bytes]], None] | None = None
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.ahead = 0  # bytes in the queue
        self.room = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _produce(self) -> None:
        stream = self.open_stream()
        try:
            async for chunk in stream:
                if self.keep_up_to >= 0 and not self.overflow:
                    if self.kept + len(chunk) > self.keep_up_to:
                        self.overflow = True
                        self.pieces.clear()
                    else:
                        self.pieces.append(chunk)
                        self.kept += len(chunk)
                while self.ahead >= READ_AHEAD_BYTES:
                    self.room.clear()
                    await self.room.wait()
                self.ahead += len(chunk)
                self.queue.put_nowait(chunk)
        except Exception as e:  # the storage's error: the consumer raises it
            self.queue.put_nowait(e)
            return
        finally:
            await _close(stream)
        if self.keep_up_to >= 0 and not self.overflow and self.on_complete is not None:
            pieces, self.pieces = self.pieces, []
            self.on_complete(pieces)
        self.queue.put_nowait(_END)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The stream's chunks, as read; the stream's own errors are raised here."""
        self.task = asyncio.ensure_future(self._produce())
        while True:
            item = await self.queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            self.ahead -= len(item)
            self.room.set()
            yield item

    async def stop(self) -> None:
        """Stop reading (the consumer is done, or gave up early) and close the stream."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.pieces.clear()


@dataclass(frozen=True)
class _Deep:
    findings: list[Finding]
    engines: dict[str, str]
    data: bytes


def _deep(pieces: list[bytes], name: str, settings: Settings, macro_policy: MacroPolicy) -> _Deep:
    """Deep inspection over the joined pieces, in a worker thread. An engine failing (or a
    bug) is a ``failed`` finding, never clean."""
    data = bytes(pieces[0]) if len(pieces) == 1 else b"".join(pieces)  # join: GIL released
    pieces.clear()
    try:
        findings, engines = inspect(data, name, settings, macro_policy)
    except Exception as e:  # a bug or an engine failing: not clean, and said so
        log.exception("deep inspection failed")
        findings = [Finding("pipeline", "Overleg.Scan.Error", f"{type(e).__name__}: {e}", "failed")]
        engines = {}
    return _Deep(findings, engines, data)


def _drop(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task``, or take its outcome if it has one (so that no error of it is
    reported as never retrieved)."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


def _clamd_findings(result: EngineResult) -> list[Finding]:
    if result.status == "ok":
        return []
    if result.status == "found":
        assert result.signature is not None
        return [Finding("clamav", result.signature, f"clamd: {result.reply}")]
    return [Finding("clamav", "ClamAV.Error", f"clamd: {result.reply}", "failed")]


async def _read_all(open_stream: Callable[[], AsyncIterator[bytes]], limit: int) -> bytes | None:
    """The whole stream, or None as soon as it is longer than ``limit``."""
    parts: list[bytes] = []
    total = 0
    stream = open_stream()
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > limit:
                return None
            parts.append(chunk)
    finally:
        await _close(stream)
    return b"".join(parts)


async def _close(stream: AsyncIterator[bytes]) -> None:
    """Close an async generator we stopped reading early (the storage may hold a
    connection or a file open for it); other iterators have nothing to close."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


# --- deep inspection (blocking: run in a worker thread) ----------------------------------


def inspect(
    data: bytes, name: str, settings: Settings, macro_policy: MacroPolicy
) -> tuple[list[Finding], dict[str, str]]:
    """YARA, macros and the archive walk over ``data`` in memory: the findings and the
    versions of the engines used. Never raises for bad input: it becomes a finding."""
    inspector = _Inspector(settings, macro_policy)
    inspector.file(data, name)
    if archives.is_zip(data):
        inspector.archive(data, name)
    return inspector.findings, inspector.engines


@dataclass
class _Inspector:
    settings: Settings
    macro_policy: MacroPolicy
    findings: list[Finding] = field(default_factory=list)
    engines: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rules = yara_rules.load(self.settings.scan_yara_dir)
        self.engines["yara"] = yara_rules.engine_version()
        self.timeout = max(1, int(self.settings.scan_timeout_seconds))
        for problem in self.rules.problems:
            self.findings.append(
                Finding(
                    "yara",
                    "Overleg.Yara.RuleFileSkipped",
                    f"admin rule file {problem.file} left out: {problem.message}",
                    "warning",
                )
            )

    def add(self, engine: str, name: str, detail: str, severity: Severity = "infected") -> None:
        self.findings.append(Finding(engine, name, detail, severity))

    def file(self, data: bytes, path: str) -> None:
        """YARA over the bytes, and the macro check if it may be an Office file."""
        self.yara(data, path, path)
        if macros.is_candidate(data):
            self.macros(data, path)

    def yara(self, data: bytes, path: str, where: str) -> None:
        try:
            hits = self.rules.match(data, filename=path, timeout=self.timeout)
        except Exception as e:  # yara.Error, yara.TimeoutError
            self.add("yara", "Overleg.Yara.Error", f"{where}: {e}", "failed")
            return
        for hit in hits:
            self.add("yara", hit.rule, f"rule {hit.namespace}:{hit.rule} matched {where}")

    def macros(self, data: bytes, path: str) -> None:
        self.engines.setdefault("oletools", macros.engine_version())
        policy = self.macro_policy
        try:
            found = macros.inspect(data, path)
        except macros.MacroError as e:
            severity: Severity = "failed" if policy == "block" else "warning"
            self.add("macros", "Overleg.Macro.Unreadable", f"{path}: {e}", severity)
            return
        if not found.has_macros:
            return
        if found.source:
            self.yara(found.source.encode("utf-8", "replace"), path, f"{path} (VBA source)")
        summary = f"{path}: flags {found.flags}; {', '.join(found.keywords) or 'no keywords'}"
        if found.suspicious and found.auto_exec:
            if policy == "block":
                self.add("macros", "Overleg.Macro.SuspiciousAutoExec", summary, "infected")
            elif policy == "warn":
                self.add("macros", "Overleg.Macro.SuspiciousAutoExec", summary, "warning")
        elif policy != "allow":
            self.add("macros", "Overleg.Macro.Present", summary, "warning")

    def archive(self, data: bytes, path: str) -> None:
        limits = archives.Limits.from_settings(self.settings)
        try:
            for member in archives.walk(data, path, limits):
                if member.data is None:
                    self.add(
                        "archive",
                        "Overleg.Archive.NotInspected",
                        f"{member.path}: {member.note}",
                        "warning",
                    )
                else:
                    self.file(member.data, member.path)
        except archives.LimitExceeded as e:
            self.add("archive", f"Overleg.Archive.LimitExceeded.{e.kind}", str(e), "infected")
        except archives.ArchiveError as e:
            self.add("archive", "Overleg.Archive.Corrupt", str(e), "failed")
