"""Zip archives walked in memory, nested ones too, within limits that defuse zip bombs.

Nothing is extracted to disk. Each member is read through zipfile's bounded reader
(it never returns more than the member's declared size, and checks the CRC at the end),
and before a member is read its declared size is checked against what is left of the
expanded-size budget and its compression ratio against the ratio limit, so a bomb is
stopped before it inflates. Limits (``Settings.scan_archive_*``):

- depth: an archive inside an archive inside ... more than ``max_depth`` levels;
- members: more than ``max_members`` files in the whole tree;
- expanded size: more than ``max_expanded_bytes`` decompressed in the whole tree;
- ratio: one member over ``ratio_floor_bytes`` that expands more than ``max_ratio`` times
  (small members are exempt: a few KB of blank XML compress 300:1 and are harmless).

Passing a limit raises ``LimitExceeded`` (the pipeline quarantines the file, as clamd's
``Heuristics.Limits.Exceeded`` would); an archive zipfile cannot read raises
``ArchiveError``. Members larger than ``max_member_bytes`` are counted (read and dropped)
but not kept for inspection.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from overleg.settings import Settings

#: zip files start with a local file header, or the end record of an empty archive, or
#: the marker of a spanned archive
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
READ_BLOCK = 1024 * 1024
RATIO_FLOOR_BYTES = 1024 * 1024


class ArchiveError(Exception):
    """The archive (or a nested one) cannot be read: corrupt, truncated, unsupported."""


class LimitExceeded(Exception):
    """A limit was passed. ``kind`` is ``Depth``, ``Members``, ``ExpandedSize`` or
    ``Ratio``; the message says where."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_members: int
    max_expanded_bytes: int
    max_ratio: int
    #: members up to this size are kept in memory for inspection
    max_member_bytes: int
    ratio_floor_bytes: int = RATIO_FLOOR_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.scan_archive_max_depth,
            max_members=settings.scan_archive_max_members,
            max_expanded_bytes=settings.scan_archive_max_expanded_bytes,
            max_ratio=settings.scan_archive_max_ratio,
            max_member_bytes=settings.scan_deep_max_bytes,
        )


@dataclass(frozen=True)
class Member:
    """One file of the tree. ``path`` joins the archive names (``a.zip/b.zip/c.txt``);
    ``data`` is None when the member was not kept (``note`` says why: encrypted, too big)."""

    path: str
    data: bytes | None
    note: str | None = None


def is_zip(data: bytes) -> bool:
    return data.startswith(_ZIP_STARTS)


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.members = 0
        self.expanded = 0

    def count_member(self, path: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise LimitExceeded(
                "Members", f"more than {self.limits.max_members} files in the archive (at {path})"
            )

    def reserve(self, path: str, declared: int) -> None:
        if self.expanded + declared > self.limits.max_expanded_bytes:
            raise LimitExceeded(
                "ExpandedSize",
                f"more than {self.limits.max_expanded_bytes} bytes when expanded (at {path})",
            )

    def consume(self, path: str, n: int) -> None:
        self.expanded += n
        if self.expanded > self.limits.max_expanded_bytes:
            raise LimitExceeded(
                "ExpandedSize",
                f"more than {self.limits.max_expanded_bytes} bytes when expanded (at {path})",
            )


def walk(data: bytes, name: str, limits: Limits) -> Iterator[Member]:
    """Every file in the zip ``data`` (named ``name``), depth first; a nested zip is given
    as a member itself and then walked. Raises ``LimitExceeded`` or ``ArchiveError`` as
    soon as one is met (members given before stay given)."""
    yield from _walk(data, name, 1, _Budget(limits))


def _walk(data: bytes, path: str, depth: int, budget: _Budget) -> Iterator[Member]:
    limits = budget.limits
    if depth > limits.max_depth:
        raise LimitExceeded(
            "Depth", f"archives nested more than {limits.max_depth} levels deep (at {path})"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ArchiveError(f"{path}: not a readable zip archive: {_one_line(e)}") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member_path = f"{path}/{info.filename}"
            budget.count_member(member_path)
            if info.flag_bits & 0x1:
                yield Member(member_path, None, "encrypted: not inspected")
                continue
            _check_declared(info, member_path, budget)
            content = _read(archive, info, member_path, budget)
            if content is None:
                yield Member(member_path, None, f"larger than {limits.max_member_bytes} bytes")
                continue
            yield Member(member_path, content)
            if is_zip(content):
                yield from _walk(content, member_path, depth + 1, budget)


def _check_declared(info: zipfile.ZipInfo, path: str, budget: _Budget) -> None:
    """Refuse a bomb by what its directory declares, before inflating anything."""
    limits = budget.limits
    budget.reserve(path, info.file_size)
    if info.file_size >= limits.ratio_floor_bytes and (
        info.file_size > limits.max_ratio * max(info.compress_size, 1)
    ):
        raise LimitExceeded(
            "Ratio",
            f"{path} expands {info.file_size} bytes from {info.compress_size} "
            f"(more than {limits.max_ratio} times)",
        )


def _read(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, budget: _Budget
) -> bytes | None:
    """The member's bytes (None if bigger than ``max_member_bytes``: read, counted, dropped)."""
    keep = info.file_size <= budget.limits.max_member_bytes
    parts: list[bytes] = []
    try:
        with archive.open(info) as stream:
            while block := stream.read(READ_BLOCK):
                budget.consume(path, len(block))
                if keep:
                    parts.append(block)
    except LimitExceeded:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,  # compression methods zipfile lacks
        RuntimeError,  # zipfile: "password required" and the like
    ) as e:
        raise ArchiveError(f"{path}: cannot be read: {_one_line(e)}") from None
    return b"".join(parts) if keep else None


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
