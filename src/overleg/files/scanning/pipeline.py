"""The scanning pipeline: one file in, one verdict out.

Order: clamd scans the stream (always: every size, every type); then, if the file is at
most ``scan_deep_max_bytes``, deep inspection reads it into memory (never to disk) and runs
YARA over it, the macro check over Office files, and the archive walk over zips, giving
every member to YARA and the macro check too (nested zips included). The plaintext is
read once: the stream sent to clamd is kept in memory on the way when deep inspection
follows (read again only if clamd stopped reading early).

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

__all__ = ["Finding", "MacroPolicy", "ScanResult", "ScannerUnavailable", "scan"]


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
    client = ClamdClient.from_settings(settings)
    clamd_version = await client.version()  # down: ScannerUnavailable before any reading
    fingerprint = await asyncio.to_thread(settings_fingerprint, settings)
    engines = {"clamav": clamd_version, "overleg": f"signatures {BUILTIN_VERSION}"}
    findings: list[Finding] = []
    limit = settings.scan_deep_max_bytes

    deep = size <= limit
    kept = bytearray() if deep else None
    state = {"complete": False, "overflow": False}

    async def tee() -> AsyncIterator[bytes]:
        stream = open_stream()
        try:
            async for chunk in stream:
                if kept is not None and not state["overflow"]:
                    if len(kept) + len(chunk) > limit:
                        state["overflow"] = True
                        kept.clear()
                    else:
                        kept.extend(chunk)
                yield chunk
            state["complete"] = True
        finally:
            await _close(stream)

    result = await client.instream(tee())
    findings.extend(_clamd_findings(result))

    if deep and kept is not None:
        data: bytes | None
        if state["overflow"]:
            data = None
        elif state["complete"]:
            data = bytes(kept)
        else:  # clamd stopped reading early (an error): read the file again for ourselves
            data = await _read_all(open_stream, limit)
        kept.clear()
        if data is None:
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
            try:
                deep_findings, deep_engines = await asyncio.to_thread(
                    inspect, data, name, settings, macro_policy
                )
            except Exception as e:  # a bug or an engine failing: not clean, and said so
                log.exception("deep inspection failed")
                deep_findings, deep_engines = (
                    [
                        Finding(
                            "pipeline", "Overleg.Scan.Error", f"{type(e).__name__}: {e}", "failed"
                        )
                    ],
                    {},
                )
            findings.extend(deep_findings)
            engines.update(deep_engines)
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
    return outcome


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
