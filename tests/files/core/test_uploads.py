"""Uploads in parts, before any scan: what the uploader and others may do with a pending
file, byte ranges, resuming, and bad input that is refused without leaving anything."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

from PIL import Image

from tests.files.content import samples
from tests.files.core.conftest import Shelf

PART = 128 * 1024  # tests/conftest.py: files_part_bytes
MARKER = b"QUARTERLY-FIGURES-NOT-FOR-THE-STORE-"


def _text(size: int) -> bytes:
    line = MARKER + b" the plain text of a report, line after line.\n"
    return (line * (size // len(line) + 1))[:size]


def _stored(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


async def test_a_pending_file_is_the_uploaders_alone(shelf: Shelf) -> None:
    data = _text(3 * PART + 1000)  # four parts
    f = await shelf.upload("mia", "report.txt", data)
    assert f["state"] == "scan_pending" and f["size"] == len(data) and f["version"] == 1
    assert f["name"] == "report.txt" and f["content_type"].startswith("text/")
    # listed to everyone in the channel, with its state
    r = await shelf.call("olivia", "GET", "/api/v1/files", params=shelf.place())
    assert r.status_code == 200, r.text
    assert [(x["id"], x["state"]) for x in r.json()] == [(f["id"], "scan_pending")]
    # only the uploader opens it until it is scanned
    r = await shelf.content("mia", f["id"])
    assert r.status_code == 200 and r.content == data
    r = await shelf.content("olivia", f["id"])
    assert r.status_code == 403, r.text
    # outside the channel it does not exist
    for who in ("hank", "eve"):
        r = await shelf.call(who, "GET", f"/api/v1/files/{f['id']}")
        assert r.status_code == 404, (who, r.text)
        r = await shelf.call(who, "GET", "/api/v1/files", params=shelf.place())
        assert r.status_code == 404, (who, r.text)


async def test_byte_ranges_across_parts_and_chunks(shelf: Shelf) -> None:
    # fixed bytes: about 1 in 100 random blobs looks like a DOS .COM program to libmagic,
    # which the default policy refuses
    data = random.Random(2026).randbytes(2 * PART + 77)
    f = await shelf.upload("mia", "blob.bin", data)
    for rng, lo, hi in (
        ("bytes=0-9", 0, 10),
        (f"bytes={PART - 5}-{PART + 5}", PART - 5, PART + 6),
        (f"bytes={65536 - 3}-{65536 + 3}", 65533, 65540),
        ("bytes=-100", len(data) - 100, len(data)),
        (f"bytes={2 * PART}-", 2 * PART, len(data)),
    ):
        r = await shelf.content("mia", f["id"], Range=rng)
        assert r.status_code == 206, (rng, r.text)
        assert r.content == data[lo:hi], rng
        assert r.headers["content-range"] == f"bytes {lo}-{hi - 1}/{len(data)}"
    r = await shelf.content("mia", f["id"], Range=f"bytes={len(data)}-")
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"


async def test_the_store_holds_only_ciphertext(shelf: Shelf) -> None:
    await shelf.upload("mia", "Jaarcijfers geheim.txt", _text(PART + 10))
    stored = _stored(Path(shelf.world.rt.settings.storage_dir or ""))
    assert len(stored) == 2  # two parts
    for blob in stored:
        assert MARKER not in blob and b"Jaarcijfers" not in blob


async def test_resume_resend_and_complete_in_any_order(shelf: Shelf) -> None:
    data = _text(3 * PART)
    r = await shelf.start("mia", "notes.txt", len(data))
    up = r.json()
    assert (up["parts"], up["part_size"], up["received"]) == (3, PART, [])
    assert (await shelf.put("mia", up["id"], 2, data[2 * PART :])).status_code == 200
    assert (await shelf.put("mia", up["id"], 0, b"x" * PART)).status_code == 200
    r = await shelf.call("mia", "POST", f"/api/v1/files/uploads/{up['id']}/complete")
    assert r.status_code == 409 and r.json()["missing"] == [1], r.text
    r = await shelf.call("mia", "GET", f"/api/v1/files/uploads/{up['id']}")
    assert r.json()["received"] == [0, 2]
    # a part sent again replaces the first attempt
    assert (await shelf.put("mia", up["id"], 0, data[:PART])).status_code == 200
    assert (await shelf.put("mia", up["id"], 1, data[PART : 2 * PART])).status_code == 200
    # someone else cannot touch mia's upload
    assert (await shelf.put("olivia", up["id"], 1, b"y" * PART)).status_code == 404
    r = await shelf.call("mia", "POST", f"/api/v1/files/uploads/{up['id']}/complete")
    assert r.status_code == 201, r.text
    assert (await shelf.content("mia", r.json()["id"])).content == data


async def test_bad_uploads_are_refused_and_leave_nothing(shelf: Shelf) -> None:
    root = Path(shelf.world.rt.settings.storage_dir or "")
    for name in ("../etc/passwd", "a/b.txt", "tab\there.txt", "bidi\u202etxt.exe", "CON", " "):
        r = await shelf.start("mia", name, 10)
        assert r.status_code == 422, (name, r.text)
    r = await shelf.start("mia", "empty.txt", 0)
    assert r.status_code == 422 and "empty" in r.text
    # a part of the wrong size is refused and not kept
    r = await shelf.start("mia", "short.txt", PART + 10)
    up = r.json()
    assert (await shelf.put("mia", up["id"], 0, b"z" * (PART - 1))).status_code == 422
    assert (await shelf.put("mia", up["id"], 0, b"z" * (PART + 1))).status_code == 422
    assert (await shelf.put("mia", up["id"], 5, b"z")).status_code == 422
    assert _stored(root) == []
    # an aborted upload leaves no part behind
    assert (await shelf.put("mia", up["id"], 0, b"z" * PART)).status_code == 200
    assert len(_stored(root)) == 1
    assert (
        await shelf.call("mia", "DELETE", f"/api/v1/files/uploads/{up['id']}")
    ).status_code == 204
    assert _stored(root) == []
    assert (await shelf.call("mia", "GET", f"/api/v1/files/uploads/{up['id']}")).status_code == 404


async def test_an_executable_is_refused_whatever_its_name(shelf: Shelf) -> None:
    pe = samples.pe() + os.urandom(2000)
    r = await shelf.start("mia", "holiday-photo.jpg", len(pe))
    up = r.json()
    assert (await shelf.put("mia", up["id"], 0, pe)).status_code == 200
    r = await shelf.call("mia", "POST", f"/api/v1/files/uploads/{up['id']}/complete")
    assert r.status_code == 403 and "not allowed" in r.text, r.text
    r = await shelf.call("mia", "GET", "/api/v1/files", params=shelf.place())
    assert r.json() == []


async def test_size_limits_and_quotas(shelf: Shelf) -> None:
    r = await shelf.call(
        "olivia",
        "PUT",
        "/api/admin/policies/files",
        json={"max_file_bytes": 4096, "user_quota_bytes": 6000},
    )
    assert r.status_code == 200, r.text
    r = await shelf.start("mia", "big.txt", 5000)
    assert r.status_code == 422 and "larger than the organisation allows" in r.text
    await shelf.upload("mia", "one.txt", _text(4000))
    r = await shelf.start("mia", "two.txt", 4000)
    assert r.status_code == 507 and r.json()["type"].endswith("quota-exceeded"), r.text
    # olivia's own quota is untouched by mia's files
    assert (await shelf.start("olivia", "hers.txt", 4000)).status_code == 201


async def test_own_files_are_private(shelf: Shelf) -> None:
    f = await shelf.upload("mia", "cv.txt", _text(500), where="user")
    r = await shelf.call("mia", "GET", "/api/v1/files", params=shelf.place("user", "mia"))
    assert [x["id"] for x in r.json()] == [f["id"]]
    r = await shelf.call("olivia", "GET", "/api/v1/files", params=shelf.place("user", "mia"))
    assert r.status_code == 404
    r = await shelf.call("olivia", "GET", f"/api/v1/files/{f['id']}")
    assert r.status_code == 404


async def test_a_preview_has_no_metadata_and_needs_the_right_to_open(shelf: Shelf) -> None:
    photo = samples.two_colour_jpeg_with_gps()
    f = await shelf.upload("mia", "IMG_0042.jpg", photo)
    r = await shelf.call("mia", "GET", f"/api/v1/files/{f['id']}/preview")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp", r.text
    with Image.open(io.BytesIO(r.content)) as im:
        assert max(im.size) <= 512 and not im.getexif()
    # still pending: nobody else gets even a preview
    assert (
        await shelf.call("olivia", "GET", f"/api/v1/files/{f['id']}/preview")
    ).status_code == 403
    text = await shelf.upload("mia", "notes.txt", b"just text\n" * 10)
    r = await shelf.call("mia", "GET", f"/api/v1/files/{text['id']}/preview")
    assert r.status_code == 422, r.text
