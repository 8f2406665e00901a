"""YARA rules: Overleg's built-in rules plus the admins' rule files, compiled and cached.

Admins add rules by dropping ``*.yar``/``*.yara`` files into ``Settings.scan_yara_dir``.
Each file is compiled on its own first: a file that does not compile is left out and
reported (``RuleProblem``), and every other rule keeps working; a broken file never
disables scanning. Each file gets its own namespace, so equal rule names in two files do
not clash. ``include`` is not allowed (each file must stand alone).

Rules may use the externals ``filename`` (the file's or archive member's name) and
``extension`` (lower case, without the dot).

Compiled rules are cached per folder and recompiled when the folder's fingerprint changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import structlog
import yara  # type: ignore[import-not-found,unused-ignore]

from overleg.files.scanning.signatures import (
    MARKER_RULE,
    YARA_SUFFIXES,
    eicar,
    malware_marker,
    rules_fingerprint,
    yara_string,
)

log = structlog.get_logger("overleg.files.scanning")

BUILTIN_NAMESPACE = "overleg"
EICAR_RULE = "Overleg_Test_EICAR"
#: an admin rule file larger than this is not read (rules are text, not data)
MAX_RULE_FILE_BYTES = 8 * 1024 * 1024

_EXTERNALS = {"filename": "", "extension": ""}


def builtin_source() -> str:
    """The built-in rules: the EICAR test file and Overleg's test marker, anywhere in the data."""
    return (
        f"rule {EICAR_RULE}\n{{\n"
        '    meta:\n        description = "EICAR anti-virus test file"\n'
        f"    strings:\n        $eicar = {yara_string(eicar())}\n"
        "    condition:\n        $eicar\n}\n\n"
        f"rule {MARKER_RULE}\n{{\n"
        '    meta:\n        description = "Overleg\'s malware test marker"\n'
        f"    strings:\n        $marker = {yara_string(malware_marker())}\n"
        "    condition:\n        $marker\n}\n"
    )


@dataclass(frozen=True)
class RuleProblem:
    """An admin rule file that was left out, and why (yara's message, one line)."""

    file: str
    message: str


@dataclass(frozen=True)
class Hit:
    """One matching rule: its namespace (``overleg`` or ``admin:<file name>``) and name."""

    namespace: str
    rule: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class CompiledRules:
    """Rules ready to match, the admin files they include, and the files left out."""

    rules: yara.Rules
    files: tuple[str, ...]
    problems: tuple[RuleProblem, ...]
    key: str

    def match(self, data: bytes, *, filename: str, timeout: int) -> list[Hit]:
        """The rules matching ``data``. Raises ``yara.Error`` (``yara.TimeoutError``
        included) when matching fails."""
        name = PurePosixPath(filename).name
        extension = PurePosixPath(name).suffix.lower().removeprefix(".")
        matches = self.rules.match(
            data=data,
            externals={"filename": name, "extension": extension},
            timeout=max(1, timeout),
        )
        return [Hit(m.namespace, m.rule, tuple(m.tags)) for m in matches]


def _one_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def compile_rules(yara_dir: Path | None) -> CompiledRules:
    """Compile the built-in rules and every admin rule file that compiles on its own."""
    key = rules_fingerprint(yara_dir)
    sources = {BUILTIN_NAMESPACE: builtin_source()}
    files: list[str] = []
    problems: list[RuleProblem] = []
    candidates: list[Path] = []
    if yara_dir is not None and yara_dir.is_dir():
        try:
            candidates = sorted(
                p
                for p in yara_dir.iterdir()
                if p.suffix.lower() in YARA_SUFFIXES and not p.name.startswith(".")
            )
        except OSError as e:
            problems.append(RuleProblem(str(yara_dir), _one_line(e)))
    for path in candidates:
        try:
            if path.stat().st_size > MAX_RULE_FILE_BYTES:
                raise ValueError(f"larger than {MAX_RULE_FILE_BYTES} bytes")
            text = path.read_text(encoding="utf-8")
            # alone first: a broken file must not take the others down with it
            yara.compile(source=text, externals=_EXTERNALS, includes=False)
        except (yara.Error, OSError, ValueError) as e:  # SyntaxError is a yara.Error
            problems.append(RuleProblem(path.name, _one_line(e)))
            continue
        sources[f"admin:{path.name}"] = text
        files.append(path.name)
    rules = yara.compile(sources=sources, externals=_EXTERNALS, includes=False)
    for problem in problems:
        log.warning("yara rule file skipped", file=problem.file, error=problem.message)
    return CompiledRules(rules=rules, files=tuple(files), problems=tuple(problems), key=key)


_cache: dict[str, CompiledRules] = {}
_lock = threading.Lock()


def load(yara_dir: Path | None) -> CompiledRules:
    """The compiled rules for ``yara_dir``, recompiled only when its files changed.
    Thread-safe (deep inspection runs in worker threads)."""
    folder = str(yara_dir.resolve()) if yara_dir is not None else ""
    key = rules_fingerprint(yara_dir)
    with _lock:
        cached = _cache.get(folder)
        if cached is not None and cached.key == key:
            return cached
        compiled = compile_rules(yara_dir)
        _cache[folder] = compiled
        return compiled


def engine_version() -> str:
    return f"yara {yara.__version__}"
