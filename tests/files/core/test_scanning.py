"""Upload, scan, then visible, with a real clamd: a clean file opens for everyone in the
channel; EICAR (plain, in a zip, in a zip in a zip), a YARA marker and an auto-opening
macro are quarantined: nobody opens them, security admins see the findings, examine the
content, release or delete; an alert is raised. clamd down: the file stays pending and
is scanned when clamd is back. New signatures rescan recent clean files."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from overleg.files.scan import rescan_recent, scan_pending
from overleg.files.scanning.signatures import eicar, malware_marker
from overleg.security import content_gate
from overleg.security.principal import Principal
from tests.files.core.conftest import Shelf
from tests.files.scanning.helpers import zipped
from tests.files.scanning.office import docm
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.clamd import clamd as clamd  # the fixtures
from tests.fixtures.clamd import clamd_factory as clamd_factory

MACRO = 'Sub AutoOpen()\n  Shell "cmd.exe /c calc.exe", vbHide\nEnd Sub\n'


def _settings_for(instance: ClamdInstance) -> dict[str, object]:
    return {
        "scan_clamd_socket": instance.socket_path,
        "scan_clamd_db_dir": instance.db_dir,
        "scan_yara_dir": instance.yara_dir,
    }


@pytest.fixture
def settings_overrides(clamd: ClamdInstance) -> dict[str, object]:
    return _settings_for(clamd)


async def _alerts(shelf: Shelf, kind: str) -> list[dict[str, Any]]:
    r = await shelf.call("sid", "GET", "/api/admin/alerts", params={"kind": kind})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def test_a_clean_upload_opens_for_everyone_after_the_scan(shelf: Shelf) -> None:
    data = b"Minutes of the board meeting.\n" * 2000
    f = await shelf.upload("mia", "minutes.txt", data)
    assert (await shelf.content("olivia", f["id"])).status_code == 403
    run = await scan_pending(shelf.world.rt)
    assert run.scanned and not run.unavailable
    r = await shelf.call("olivia", "GET", f"/api/v1/files/{f['id']}")
    assert r.json()["state"] == "clean"
    for who in ("olivia", "gus", "mia"):
        r = await shelf.content(who, f["id"])
        assert r.status_code == 200 and r.content == data, who


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("eicar.com.txt", lambda: eicar()),
        ("eicar.zip", lambda: zipped({"eicar.com": eicar()})),
        ("nested.zip", lambda: zipped({"inner.zip": zipped({"eicar.com": eicar()})})),
        ("marker.txt", lambda: b"notes " + malware_marker() + b" notes"),
        ("agenda.docm", lambda: docm({"ThisDocument": MACRO})),
    ],
)
async def test_malware_is_quarantined_and_only_security_admins_handle_it(
    shelf: Shelf, name: str, make: Callable[[], bytes]
) -> None:
    data = make()
    f = await shelf.upload("mia", name, data)
    await scan_pending(shelf.world.rt)
    r = await shelf.call("olivia", "GET", f"/api/v1/files/{f['id']}")
    assert r.json()["state"] == "infected", r.text
    for who in ("mia", "olivia", "gus"):  # the uploader too
        assert (await shelf.content(who, f["id"])).status_code == 403, who
    # security admins see it with what was found, and no name
    r = await shelf.call("sid", "GET", "/api/admin/quarantine")
    assert r.status_code == 200, r.text
    [q] = [x for x in r.json() if x["file_id"] == f["id"]]
    assert q["findings"] and name not in r.text
    assert (await shelf.call("mia", "GET", "/api/admin/quarantine")).status_code == 403
    assert [a["target_id"] for a in await _alerts(shelf, "file.infected")] == [q["version_id"]]
    # examine (audited), then release: a false positive after all
    r = await shelf.call("sid", "GET", f"/api/admin/quarantine/{q['version_id']}/content")
    assert r.status_code == 200 and r.content == data
    r = await shelf.call(
        "sid", "POST", f"/api/admin/quarantine/{q['version_id']}", json={"action": "release"}
    )
    assert r.status_code == 200, r.text
    assert (await shelf.content("olivia", f["id"])).content == data


async def test_a_deleted_quarantined_file_is_gone_with_its_content(shelf: Shelf) -> None:
    f = await shelf.upload("mia", "eicar.txt", eicar())
    await scan_pending(shelf.world.rt)
    r = await shelf.call("sid", "GET", "/api/admin/quarantine")
    [q] = r.json()
    r = await shelf.call(
        "sid", "POST", f"/api/admin/quarantine/{q['version_id']}", json={"action": "delete"}
    )
    assert r.status_code == 200, r.text
    assert (await shelf.call("mia", "GET", f"/api/v1/files/{f['id']}")).status_code == 404
    assert _stored(Path(shelf.world.rt.settings.storage_dir or "")) == []


def _stored(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


class TestClamdDown:
    @pytest.fixture
    def own(self, clamd_factory: Callable[[], ClamdInstance]) -> ClamdInstance:
        return clamd_factory()

    @pytest.fixture
    def settings_overrides(self, own: ClamdInstance) -> dict[str, object]:
        return _settings_for(own)

    async def test_files_wait_while_clamd_is_down_and_are_scanned_after(
        self, shelf: Shelf, own: ClamdInstance
    ) -> None:
        own.stop()
        f = await shelf.upload("mia", "memo.txt", b"a memo\n" * 100)
        run = await scan_pending(shelf.world.rt)
        assert run.unavailable and run.scanned == []
        r = await shelf.call("olivia", "GET", f"/api/v1/files/{f['id']}")
        assert r.json()["state"] == "scan_pending"
        assert (await shelf.content("olivia", f["id"])).status_code == 403
        own.start()
        run = await scan_pending(shelf.world.rt)
        assert [s for _, s in run.scanned] == ["clean"]
        assert (await shelf.content("olivia", f["id"])).status_code == 200

    async def test_new_signatures_rescan_recent_clean_files(
        self, shelf: Shelf, own: ClamdInstance
    ) -> None:
        marker = b"BRAND-NEW-THREAT-" + b"7" * 16
        f = await shelf.upload("mia", "plan.txt", b"the plan: " + marker)
        await scan_pending(shelf.world.rt)
        assert (await shelf.content("olivia", f["id"])).status_code == 200
        assert (await rescan_recent(shelf.world.rt)).scanned == []  # nothing changed
        # a signature update arrives (as freshclam would put it) and clamd reloads
        (own.db_dir / "update.ndb").write_text(f"Example.New.Threat:0:*:{marker.hex()}\n")
        own.stop()
        own.start()
        run = await rescan_recent(shelf.world.rt)
        assert [s for _, s in run.scanned] == ["infected"]
        assert (await shelf.content("olivia", f["id"])).status_code == 403


async def test_the_text_of_files_goes_through_the_content_gate(shelf: Shelf) -> None:
    seen: list[tuple[str, str | None]] = []

    def dlp(_: Principal, content: content_gate.Content) -> content_gate.Verdict:
        if content.channel is not content_gate.Channel.FILE:
            return content_gate.Verdict()
        seen.append((content.text, content.container_id))
        if "PROJECT-X" in content.text:
            return content_gate.Verdict(content_gate.VerdictKind.BLOCK, ("project X is secret",))
        return content_gate.Verdict()

    content_gate.register("test-dlp", dlp)
    try:
        doc = Document()
        doc.add_paragraph("Plans for PROJECT-X, not for sharing.")
        buf = io.BytesIO()
        doc.save(buf)
        secret = await shelf.upload("mia", "plans.docx", buf.getvalue())
        fine = await shelf.upload("mia", "lunch.txt", b"Lunch is at noon.\n")
        await scan_pending(shelf.world.rt)
    finally:
        content_gate.unregister("test-dlp")
    assert ("Lunch is at noon.\n", str(shelf.channel_id)) in seen
    assert any("PROJECT-X" in text for text, _ in seen)  # the docx's text, extracted
    r = await shelf.call("olivia", "GET", f"/api/v1/files/{secret['id']}")
    assert r.json()["state"] == "infected"
    r = await shelf.call("sid", "GET", "/api/admin/quarantine")
    [q] = r.json()
    assert [(x["engine"], x["detail"]) for x in q["findings"]] == [
        ("content_gate", "project X is secret")
    ]
    assert (await shelf.content("olivia", fine["id"])).status_code == 200
