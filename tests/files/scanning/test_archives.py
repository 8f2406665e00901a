"""The archive walk on its own: nesting, limits, bounded memory, corrupt and odd members."""

from __future__ import annotations

import tracemalloc
import zipfile

import pytest

from overleg.files.scanning.archives import ArchiveError, LimitExceeded, Limits, is_zip, walk
from tests.files.scanning.helpers import zeros_zip, zipped

MiB = 1024 * 1024


def limits(**overrides: int) -> Limits:
    values = {
        "max_depth": 5,
        "max_members": 100,
        "max_expanded_bytes": 64 * MiB,
        "max_ratio": 200,
        "max_member_bytes": 32 * MiB,
    }
    values.update(overrides)
    return Limits(**values)


def test_nested_members_are_given_depth_first() -> None:
    inner = zipped({"deep.txt": b"deep"})
    data = zipped({"a.txt": b"a", "inner.zip": inner, "z.txt": b"z"})
    members = list(walk(data, "outer.zip", limits()))
    assert [(m.path, m.data) for m in members] == [
        ("outer.zip/a.txt", b"a"),
        ("outer.zip/inner.zip", inner),
        ("outer.zip/inner.zip/deep.txt", b"deep"),
        ("outer.zip/z.txt", b"z"),
    ]


def test_is_zip() -> None:
    assert is_zip(zipped({"a": b"a"})) and is_zip(zipped({}))
    assert not is_zip(b"%PDF-1.7") and not is_zip(b"")


def test_the_expanded_size_is_counted_across_members_while_reading() -> None:
    """Each member passes the checks of its declared size; their sum does not. The walk
    stops inside the member that passes the limit, holding little more than one block."""
    data = zeros_zip("part", 3 * MiB, members=3)
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceeded) as caught:
            for _ in walk(data, "z.zip", limits(max_expanded_bytes=5 * MiB, max_ratio=10**9)):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind == "ExpandedSize" and "z.zip/part1" in str(caught.value)
    assert peak < 16 * MiB, peak


def test_a_bomb_is_refused_before_inflating() -> None:
    data = zeros_zip("zeros", 200 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceeded) as caught:
            list(walk(data, "bomb.zip", limits(max_expanded_bytes=8 * MiB)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind == "ExpandedSize"
    assert peak < 4 * MiB, peak


def test_the_ratio_applies_to_big_members_only() -> None:
    with pytest.raises(LimitExceeded) as caught:
        list(walk(zeros_zip("zeros", 2 * MiB), "r.zip", limits()))
    assert caught.value.kind == "Ratio"
    # 500 KB of zeros compress ~1000:1 too, but a member that small is no bomb
    assert [m.path for m in walk(zeros_zip("zeros", 500_000), "r.zip", limits())] == ["r.zip/zeros"]


def test_depth_and_members() -> None:
    data = b"x"
    for i in range(4):
        data = zipped({f"l{i}": data})
    assert len(list(walk(data, "d.zip", limits(max_depth=4)))) == 4
    with pytest.raises(LimitExceeded) as caught:
        list(walk(data, "d.zip", limits(max_depth=3)))
    assert caught.value.kind == "Depth"

    many = zipped({f"f{i}": b"" for i in range(6)})
    assert len(list(walk(many, "m.zip", limits(max_members=6)))) == 6
    with pytest.raises(LimitExceeded) as caught:
        list(walk(many, "m.zip", limits(max_members=5)))
    assert caught.value.kind == "Members"
    # nested members count towards the same total
    nested = zipped({"a": b"a", "n.zip": zipped({"b": b"b", "c": b"c"})})
    with pytest.raises(LimitExceeded):
        list(walk(nested, "n.zip", limits(max_members=3)))


def test_big_members_are_counted_but_not_kept() -> None:
    data = zipped({"big.bin": b"\x01" * (2 * MiB), "small": b"s"}, zipfile.ZIP_STORED)
    members = list(walk(data, "b.zip", limits(max_member_bytes=MiB)))
    assert [(m.path, m.data is None) for m in members] == [
        ("b.zip/big.bin", True),
        ("b.zip/small", False),
    ]
    assert members[0].note and "larger than" in members[0].note
    with pytest.raises(LimitExceeded):  # still counted
        list(walk(data, "b.zip", limits(max_member_bytes=MiB, max_expanded_bytes=MiB)))


def test_encrypted_members_are_noted() -> None:
    data = bytearray(zipped({"secret.txt": b"not really encrypted"}))
    # zipfile cannot write encryption: set the "encrypted" flag in both headers by hand
    data[data.index(b"PK\x03\x04") + 6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    [member] = walk(bytes(data), "e.zip", limits())
    assert member.path == "e.zip/secret.txt"
    assert member.data is None and member.note and "encrypted" in member.note


def test_corrupt_archives_are_archive_errors() -> None:
    whole = zipped({"a.txt": b"a" * 10_000, "b.txt": b"b"})
    for broken in (whole[:-30], b"PK\x03\x04garbage", whole[:40] + b"\0" * 40 + whole[80:]):
        with pytest.raises(ArchiveError):
            list(walk(broken, "x.zip", limits()))


def test_a_member_with_a_lying_size_is_an_error_not_a_bomb() -> None:
    """The directory says 10 bytes, the data inflates to 1 MiB: zipfile reads 10 bytes and
    the CRC check fails; nothing beyond the declared size is ever produced."""
    data = bytearray(zipped({"small.txt": b"\0" * MiB}))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # uncompressed size
    with pytest.raises(ArchiveError, match=r"small\.txt"):
        list(walk(bytes(data), "l.zip", limits()))
