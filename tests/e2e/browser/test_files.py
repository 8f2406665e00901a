"""Files in the browser, with a real clamd: an upload shows "Scanning…" then "Clean" (the
scan's verdict arrives over the event socket); EICAR shows "Quarantined", has no download
link, and its content is refused even when asked for directly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import expect

from overleg.files.scan import scan_pending
from overleg.files.scanning.signatures import eicar
from tests.e2e.browser.conftest import Site
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.clamd import clamd as clamd  # the fixture


@pytest.fixture
def settings_overrides(clamd: ClamdInstance) -> dict[str, object]:
    return {
        "scan_clamd_socket": clamd.socket_path,
        "scan_clamd_db_dir": clamd.db_dir,
        "scan_yara_dir": clamd.yara_dir,
    }


async def test_upload_is_scanned_then_clean_and_eicar_is_quarantined(
    site: Site, tmp_path: Path
) -> None:
    report = tmp_path / "minutes.txt"
    report.write_text("Minutes of the planning meeting.\n" * 2000)  # 66 kB: several parts
    bad = tmp_path / "invoice.txt"
    bad.write_bytes(eicar())

    mia = await site.sign_in("mia")
    await mia.get_by_role("link", name="Files").click()
    await expect(mia.get_by_text("No files here yet.")).to_be_visible()
    await mia.get_by_test_id("file-input").set_input_files(str(report))
    row = mia.locator('tr[data-file-name="minutes.txt"]')
    await expect(row.get_by_text("Scanning…")).to_be_visible()
    assert await site.axe(mia) == []

    olivia = await site.sign_in("olivia")
    await olivia.get_by_role("link", name="Files").click()
    theirs = olivia.locator('tr[data-file-name="minutes.txt"]')
    await expect(theirs.get_by_text("Scanning…")).to_be_visible()
    await expect(theirs.get_by_role("link", name="minutes.txt")).to_have_count(0)

    run = await scan_pending(site.rt)
    assert [state for _, state in run.scanned] == ["clean"]
    await expect(row.get_by_text("Clean")).to_be_visible()  # live, for the uploader
    async with mia.expect_download() as waiting:
        await row.get_by_role("link", name="minutes.txt").click()
    download = await waiting.value
    saved = await download.path()
    assert await asyncio.to_thread(Path(saved).read_bytes) == report.read_bytes()

    await mia.get_by_test_id("file-input").set_input_files(str(bad))
    infected = mia.locator('tr[data-file-name="invoice.txt"]')
    await expect(infected.get_by_text("Scanning…")).to_be_visible()
    await scan_pending(site.rt)
    await expect(infected.get_by_text("Quarantined")).to_be_visible()
    await expect(infected.get_by_role("link", name="invoice.txt")).to_have_count(0)
    await expect(infected.get_by_text("Malware was found")).to_be_visible()
    await site.shot(mia, "files")
    file_id = await infected.get_attribute("data-file-id")
    status = await mia.evaluate(
        "async id => (await fetch(`/api/v1/files/${id}/content`)).status", file_id
    )
    assert status == 403

    await olivia.reload()
    await expect(
        olivia.locator('tr[data-file-name="minutes.txt"]').get_by_text("Clean")
    ).to_be_visible()
    await expect(
        olivia.locator('tr[data-file-name="invoice.txt"]').get_by_text("Quarantined")
    ).to_be_visible()
