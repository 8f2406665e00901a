"""Upload, scan, then visible, with the runtime's object store in S3 (moto in server mode)
and a real private clamd: a clean upload opens for the channel once scanned; EICAR (plain,
in a zip, in a zip in a zip), auto-opening macros (blocked by the macro policy) and an
admin's YARA rule match are quarantined: nobody opens them, security admins examine the
content read back from the bucket. clamd down: the file stays pending, closed to everyone
but its uploader, and is scanned when clamd is back. The bucket holds ids and ciphertext
only. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from overleg.files.scan import scan_pending
from overleg.files.scanning.signatures import eicar
from overleg.files.sealed import MAGIC
from tests.files.core.conftest import Shelf
from tests.files.core.conftest import shelf as shelf  # the fixture
from tests.files.scanning.helpers import zipped
from tests.files.scanning.office import AUTOOPEN_SHELL, WORKBOOK_OPEN_SHELL, docm, xlsm
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.clamd import clamd as clamd  # the fixtures
from tests.fixtures.clamd import clamd_factory as clamd_factory
from tests.fixtures.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Bucket

#: one object per part, named by the tenant's and the blob's ids only
PART_OBJECT = re.compile(r"^blobs/[0-9a-f-]{36}/[0-9a-f-]{36}/\d+$")
MARKER = b"Salaries of the board, 2026: CONFIDENTIAL PLAINTEXT MARKER\n"
RULE_TEXT = b"invoice 0042: purple-elephant-42, pay now"
SITE_RULE = "Site_Purple_Elephant"


def _settings(bucket: S3Bucket, scanner: ClamdInstance, yara_dir: Path) -> dict[str, object]:
    """The runtime on ``bucket`` (moto itself, no relay) and on ``scanner``."""
    return {
        "storage_backend": "s3",
        "s3_endpoint_url": bucket.endpoint,
        "s3_bucket": bucket.name,
        "s3_access_key_id": ACCESS_KEY_ID,
        "s3_secret_access_key": SECRET_ACCESS_KEY,
        "scan_clamd_socket": scanner.socket_path,
        "scan_clamd_db_dir": scanner.db_dir,
        "scan_yara_dir": yara_dir,
    }


@pytest.fixture
def yara_dir(tmp_path: Path) -> Path:
    """The admins' rules folder, with one rule of the site's own (as in
    tests/files/scanning/test_pipeline.py): only YARA knows it, clamd does not."""
    rules = tmp_path / "yara"
    rules.mkdir()
    (rules / "site.yar").write_text(
        f'rule {SITE_RULE} {{ strings: $a = "purple-elephant-42" condition: $a }}\n'
    )
    return rules


@pytest.fixture
def settings_overrides(
    s3_bucket: S3Bucket, clamd: ClamdInstance, yara_dir: Path
) -> dict[str, object]:
    return _settings(s3_bucket, clamd, yara_dir)


def assert_sealed(bucket: S3Bucket, secrets: Iterable[bytes]) -> list[str]:
    """Every object in ``bucket`` is a sealed blob part: named by ids, no metadata, the
    sealed format's header and then bytes without structure (they do not compress), and
    none of ``secrets`` (names, markers) in it. The object names."""
    names = bucket.keys()
    assert names, "the bucket is empty"
    secrets = [s for s in secrets if s]
    for name in names:
        assert PART_OBJECT.match(name), name
        raw = bucket.get(name)
        assert raw.startswith(MAGIC), name
        body = raw[len(MAGIC) :]
        assert len(zlib.compress(body, 9)) > len(body), f"{name} compresses: not ciphertext"
        found = [s for s in secrets if s in raw]
        assert not found, f"{name} holds {found}"
        assert bucket.raw.head_object(Bucket=bucket.name, Key=name).get("Metadata") == {}
    return names


async def _state(shelf: Shelf, file_id: str) -> str:
    r = await shelf.call("mia", "GET", f"/api/v1/files/{file_id}")
    assert r.status_code == 200, r.text
    state: str = r.json()["state"]
    return state


async def test_a_clean_upload_is_scanned_from_s3_and_opens_for_the_channel(
    shelf: Shelf, s3_bucket: S3Bucket
) -> None:
    name = "board-salaries-2026.txt"
    data = MARKER * 3000  # ~180 KB: two parts of 128 KiB in the bucket
    f = await shelf.upload("mia", name, data)
    assert f["state"] == "scan_pending"
    for who in ("olivia", "gus"):
        assert (await shelf.content(who, f["id"])).status_code == 403, who

    run = await scan_pending(shelf.world.rt)
    assert [state for _, state in run.scanned] == ["clean"] and not run.unavailable
    assert await _state(shelf, f["id"]) == "clean"
    for who in ("olivia", "gus"):  # other members of the channel, read back from S3
        r = await shelf.content(who, f["id"])
        assert r.status_code == 200 and r.content == data, who
    part = 128 * 1024
    r = await shelf.content("gus", f["id"], Range=f"bytes={part - 10}-{part + 9}")
    assert r.status_code == 206 and r.content == data[part - 10 : part + 10]
    r = await shelf.content("hank", f["id"])  # not in the team
    assert r.status_code == 404, r.text

    names = assert_sealed(s3_bucket, [MARKER, b"CONFIDENTIAL", name.encode(), b"board-salaries"])
    assert len(names) == 2 and all(f["id"] not in n for n in names)


#: name -> (content, the engine whose finding quarantines it)
MALWARE: dict[str, tuple[Callable[[], bytes], str]] = {
    "quarterly-report.txt": (eicar, "clamav"),
    "holiday-photos.zip": (lambda: zipped({"eicar.com": eicar()}), "clamav"),
    "archive-2025.zip": (
        lambda: zipped({"inner.zip": zipped({"eicar.com": eicar()})}, zipfile.ZIP_STORED),
        "clamav",
    ),
    "budget.xlsm": (lambda: xlsm({"Module1": WORKBOOK_OPEN_SHELL}), "macros"),
    "agenda.docm": (lambda: docm({"Module1": AUTOOPEN_SHELL}), "macros"),
    "invoice-0042.txt": (lambda: RULE_TEXT, "yara"),
}


async def test_malware_in_s3_is_quarantined_and_only_security_admins_examine_it(
    shelf: Shelf, s3_bucket: S3Bucket
) -> None:
    data = {name: make() for name, (make, _) in MALWARE.items()}
    files = {
        name: (await shelf.upload("mia", name, content))["id"] for name, content in data.items()
    }

    run = await scan_pending(shelf.world.rt)
    assert not run.unavailable
    assert [state for _, state in run.scanned] == ["infected"] * len(MALWARE)
    for name, file_id in files.items():
        assert await _state(shelf, file_id) == "infected", name
        for who in ("mia", "olivia", "gus"):  # the uploader too
            r = await shelf.content(who, file_id)
            assert r.status_code == 403, (name, who, r.status_code)

    # security admins see each with what was found (and no name); members do not
    r = await shelf.call("sid", "GET", "/api/admin/quarantine")
    assert r.status_code == 200, r.text
    held = {q["file_id"]: q for q in r.json()}
    assert set(held) == set(files.values())
    assert not [name for name in MALWARE if name in r.text]
    for name, (_, engine) in MALWARE.items():
        findings = held[files[name]]["findings"]
        blocking = {(x["engine"], x["name"]) for x in findings if x["severity"] == "infected"}
        assert engine in {e for e, _ in blocking}, (name, findings)
        if engine == "macros":  # the macro policy (block) alone quarantines them
            assert blocking == {("macros", "Overleg.Macro.SuspiciousAutoExec")}, findings
        if engine == "yara":  # the admins' rule, which clamd does not know
            assert blocking == {("yara", SITE_RULE)}, findings
    nested = held[files["archive-2025.zip"]]["findings"]
    assert any("inner.zip/eicar.com" in (x["detail"] or "") for x in nested), nested
    assert (await shelf.call("mia", "GET", "/api/admin/quarantine")).status_code == 403
    r = await shelf.call("sid", "GET", "/api/admin/alerts", params={"kind": "file.infected"})
    assert r.status_code == 200, r.text
    alerted = sorted(a["target_id"] for a in r.json())
    assert alerted == sorted(q["version_id"] for q in held.values())

    # the bucket: ciphertext only; nothing of the names, the samples or their members
    secrets = [n.encode() for n in MALWARE] + [
        eicar(),
        b"EICAR",
        b"eicar.com",
        b"inner.zip",
        b"vbaProject",
        b"Workbook_Open",
        b"AutoOpen",
        b"purple-elephant-42",
    ]
    stored = assert_sealed(s3_bucket, secrets)
    assert len(stored) == len(MALWARE)

    # examine: the content read back from S3 is what was uploaded; members may not
    version = held[files["archive-2025.zip"]]["version_id"]
    path = f"/api/admin/quarantine/{version}/content"
    r = await shelf.call("sid", "GET", path)
    assert r.status_code == 200 and r.content == data["archive-2025.zip"]
    assert (await shelf.call("mia", "GET", path)).status_code == 403

    # delete: the file's object goes from the bucket
    version = held[files["quarterly-report.txt"]]["version_id"]
    r = await shelf.call(
        "sid", "POST", f"/api/admin/quarantine/{version}", json={"action": "delete"}
    )
    assert r.status_code == 200, r.text
    assert len(s3_bucket.keys()) == len(MALWARE) - 1
    assert set(s3_bucket.keys()) < set(stored)


async def test_the_macro_policy_decides_and_a_rescan_reads_s3_again(
    shelf: Shelf, s3_bucket: S3Bucket
) -> None:
    content = docm({"Module1": AUTOOPEN_SHELL})
    f = await shelf.upload("mia", "agenda.docm", content)
    await scan_pending(shelf.world.rt)
    assert await _state(shelf, f["id"]) == "infected"  # the default policy: block

    r = await shelf.call(
        "olivia", "PUT", "/api/admin/policies/files", json={"macro_policy": "warn"}
    )
    assert r.status_code == 200, r.text
    [q] = (await shelf.call("sid", "GET", "/api/admin/quarantine")).json()
    r = await shelf.call(
        "sid", "POST", f"/api/admin/quarantine/{q['version_id']}", json={"action": "rescan"}
    )
    assert r.status_code == 200, r.text
    run = await scan_pending(shelf.world.rt)
    assert [state for _, state in run.scanned] == ["clean"]
    r = await shelf.content("olivia", f["id"])
    assert r.status_code == 200 and r.content == content
    assert_sealed(s3_bucket, [b"agenda.docm", b"vbaProject", b"AutoOpen"])


class TestClamdDown:
    """clamd of the test's own, to stop and start again."""

    @pytest.fixture
    def own(self, clamd_factory: Callable[[], ClamdInstance]) -> ClamdInstance:
        return clamd_factory()

    @pytest.fixture
    def settings_overrides(
        self, s3_bucket: S3Bucket, own: ClamdInstance, yara_dir: Path
    ) -> dict[str, object]:
        return _settings(s3_bucket, own, yara_dir)

    async def test_an_upload_waits_while_clamd_is_down_and_is_scanned_after(
        self, shelf: Shelf, s3_bucket: S3Bucket, own: ClamdInstance
    ) -> None:
        name = "minutes-monday.txt"
        data = MARKER * 100
        own.stop()
        f = await shelf.upload("mia", name, data)
        run = await scan_pending(shelf.world.rt)
        assert run.unavailable and run.scanned == []
        assert await _state(shelf, f["id"]) == "scan_pending"
        for who in ("olivia", "gus"):  # the channel's others may not open it yet
            r = await shelf.content(who, f["id"])
            assert r.status_code == 403, (who, r.status_code)
        r = await shelf.content("mia", f["id"])
        assert r.status_code == 200 and r.content == data

        own.start()
        run = await scan_pending(shelf.world.rt)
        assert [state for _, state in run.scanned] == ["clean"] and not run.unavailable
        assert await _state(shelf, f["id"]) == "clean"
        for who in ("olivia", "gus"):
            r = await shelf.content(who, f["id"])
            assert r.status_code == 200 and r.content == data, who
        assert_sealed(s3_bucket, [MARKER, b"CONFIDENTIAL", name.encode()])
