"""What the numbers were measured on: printed with every run."""

from __future__ import annotations

import os
import platform
import sqlite3
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def ram() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return f"{kib / 1024 / 1024:.1f} GiB"
    return "unknown"


def os_name() -> str:
    pretty = ""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            pretty = line.split("=", 1)[1].strip().strip('"')
    kernel = f"{platform.system()} {platform.release()}"
    return f"{pretty} ({kernel})" if pretty else kernel


def load() -> str:
    parts = _read("/proc/loadavg").split()
    return " ".join(parts[:3]) if parts else "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def describe() -> list[tuple[str, str]]:
    """(label, value) pairs describing this machine and run."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical"
    if affinity is not None and affinity != os.cpu_count():
        cores += f" ({affinity} usable by this process)"
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cpu", cpu_model()),
        ("cores", cores),
        ("ram", ram()),
        ("os", os_name()),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("load at start", f"{load()} (load average: 1, 5, 15 min)"),
        (
            "libraries",
            f"argon2-cffi {_version('argon2-cffi')}, "
            f"argon2-cffi-bindings {_version('argon2-cffi-bindings')}, "
            f"SQLAlchemy {_version('sqlalchemy')}, FastAPI {_version('fastapi')}, "
            f"SQLite {sqlite3.sqlite_version}",
        ),
    ]
