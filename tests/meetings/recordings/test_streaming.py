"""Watching and downloading: whole files, byte ranges (RFC 9110) that must return exactly
the stored bytes across the 64 KiB chunks of the sealed blob, 416 for ranges the file
does not have, the headers, and the audit of downloads (and not of watching)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.files.sealed import CHUNK
from overleg.files.streams import RangeNotSatisfiable, byte_range
from tests.meetings.recordings.conftest import Scene, problem
from tests.meetings.recordings.factory import AUDIO, VIDEO

N = len(VIDEO)  # 300,000 bytes: chunks 0..4, the last one short

RANGES = [
    # (Range header, first byte, last byte)
    ("bytes=0-99", 0, 99),
    ("bytes=0-0", 0, 0),
    (f"bytes={CHUNK - 10}-{CHUNK + 9}", CHUNK - 10, CHUNK + 9),  # across a chunk boundary
    (f"bytes={CHUNK}-{CHUNK}", CHUNK, CHUNK),  # the first byte of a chunk
    (f"bytes={CHUNK - 1}-{3 * CHUNK}", CHUNK - 1, 3 * CHUNK),  # over several chunks
    ("bytes=-500", N - 500, N - 1),  # a suffix
    (f"bytes=-{N + 1000}", 0, N - 1),  # a suffix longer than the file: all of it
    (f"bytes={2 * CHUNK}-", 2 * CHUNK, N - 1),  # open-ended
    (f"bytes={N - 10}-{N + 5000}", N - 10, N - 1),  # past the end: cut at the end
    ("BYTES = 10 - 20", 10, 20),  # unit is case-insensitive, white space allowed
]


@pytest.mark.parametrize(("header", "first", "last"), RANGES)
async def test_ranges_return_exactly_the_stored_bytes(
    scheduled: Scene, header: str, first: int, last: int
) -> None:
    s = scheduled
    r = await s.call("mia", "GET", s.file(), headers={"Range": header})
    assert r.status_code == 206, r.text
    assert r.content == VIDEO[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{N}"
    assert r.headers["content-length"] == str(last - first + 1)
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "video/webm"


async def test_the_whole_file_and_its_headers(scheduled: Scene) -> None:
    s = scheduled
    r = await s.call("mia", "GET", s.file())
    assert r.status_code == 200 and r.content == VIDEO
    h = r.headers
    assert h["content-length"] == str(N) and "content-range" not in h
    assert h["accept-ranges"] == "bytes" and h["content-disposition"] == "inline"
    assert "no-store" in h["cache-control"] and h["x-content-type-options"] == "nosniff"
    r = await s.call("mia", "GET", s.file(s.rec.audio_id))
    assert r.status_code == 200 and r.content == AUDIO
    assert r.headers["content-type"] == "audio/ogg"
    # several ranges, or a unit we do not know: the whole file
    for header in ("bytes=0-1, 5-9", "items=0-5"):
        r = await s.call("mia", "GET", s.file(), headers={"Range": header})
        assert r.status_code == 200 and r.content == VIDEO, header


@pytest.mark.parametrize(
    "header",
    [f"bytes={N}-", f"bytes={N + 7}-{N + 9}", "bytes=-0", "bytes=abc", "bytes=9-5", "bytes=-"],
)
async def test_ranges_the_file_does_not_have(scheduled: Scene, header: str) -> None:
    s = scheduled
    for path in (s.file(), s.file(download=True)):
        r = await s.call("mia", "GET", path, headers={"Range": header})
        body = problem(r, 416, "range-not-satisfiable")
        assert r.headers["content-range"] == f"bytes */{N}"
        assert body["size"] == N


async def test_downloads_are_attachments_named_by_ids_and_audited(scheduled: Scene) -> None:
    s, w = scheduled, scheduled.hall.world
    r = await s.call("mia", "GET", s.file(download=True))
    assert r.status_code == 200 and r.content == VIDEO
    assert r.headers["content-disposition"] == (
        f'attachment; filename="recording-{s.rec.id}-{s.rec.video_id}.webm"'
    )
    r = await s.call("mia", "GET", s.file(s.rec.audio_id, download=True))
    assert r.headers["content-disposition"].endswith(f'-{s.rec.audio_id}.ogg"')
    assert "Mia" not in r.headers["content-disposition"]
    # a resumed download asks for the rest
    r = await s.call("olivia", "GET", s.file(download=True), headers={"Range": "bytes=1000-"})
    assert r.status_code == 206 and r.content == VIDEO[1000:]
    done = await s.audit("recording.download", outcome="success")
    assert [(a.actor_id, a.details["file_id"], a.details.get("range")) for a in done] == [
        (w.id("mia"), str(s.rec.video_id), None),
        (w.id("mia"), str(s.rec.audio_id), None),
        (w.id("olivia"), str(s.rec.video_id), f"1000-{N - 1}"),
    ]
    # watching is not audited per request (a player sends many)
    for _ in range(3):
        r = await s.call("mia", "GET", s.file(), headers={"Range": "bytes=0-10"})
        assert r.status_code == 206
    assert await s.audit("recording.view") == []


async def test_a_file_of_another_recording_is_not_found(scheduled: Scene) -> None:
    s = scheduled
    other = await s.call("mia", "GET", s.file(uuid.uuid4()))
    problem(other, 404, "not-found")
    # a file id that exists, asked for under another recording the caller may see
    from tests.meetings.recordings.conftest import scheduled_scene

    second = await scheduled_scene(s.hall)
    r = await s.call("mia", "GET", f"{second.path}/files/{s.rec.video_id}")
    problem(r, 404, "not-found")


# --- the parser alone --------------------------------------------------------------------


@given(
    size=st.integers(min_value=1, max_value=10**7),
    first=st.integers(min_value=0, max_value=2 * 10**7),
    length=st.integers(min_value=0, max_value=10**7),
)
def test_byte_range_matches_slicing(size: int, first: int, length: int) -> None:
    """``bytes=a-b`` means data[a : b + 1] cut to the file, or 416 if it starts past it."""
    last = first + length
    if first >= size:
        with pytest.raises(RangeNotSatisfiable) as e:
            byte_range(f"bytes={first}-{last}", size)
        assert e.value.size == size
        return
    got = byte_range(f"bytes={first}-{last}", size)
    assert got == (first, min(last, size - 1))
    suffix = byte_range(f"bytes=-{length + 1}", size)
    assert suffix == (max(0, size - length - 1), size - 1)


def test_byte_range_without_a_header_or_on_an_empty_file() -> None:
    assert byte_range(None, 10) is None and byte_range("  ", 10) is None
    for header in ("bytes=0-", "bytes=-1"):
        with pytest.raises(RangeNotSatisfiable):
            byte_range(header, 0)
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=" + "9" * 300, 10)  # absurdly long: refused, not parsed
