"""Sharing a file from its row (people and links, as the policy allows) and playing a
meeting's recordings, for those who may see them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from overleg.files.scan import scan_pending
from overleg.kernel.clock import now
from overleg.meetings import scheduling
from overleg.meetings.schemas import InviteeIn, MeetingCreate
from overleg.policy.service import set_policy
from tests.e2e.browser.conftest import Site
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.clamd import clamd as clamd  # the fixture
from tests.meetings.recordings.factory import VIDEO, make_recording


@pytest.fixture
def settings_overrides(clamd: ClamdInstance) -> dict[str, object]:
    return {
        "scan_clamd_socket": clamd.socket_path,
        "scan_clamd_db_dir": clamd.db_dir,
        "scan_yara_dir": clamd.yara_dir,
    }


async def test_share_a_file_with_a_person_and_by_link(site: Site, tmp_path: Path) -> None:
    report = tmp_path / "budget.txt"
    report.write_text("Budget for the new school year.\n")
    mia = await site.sign_in("mia")
    await mia.get_by_role("link", name="Files").click()
    await mia.get_by_test_id("file-input").set_input_files(str(report))
    row = mia.locator('tr[data-file-name="budget.txt"]')
    await expect(row.get_by_text("Scanning…")).to_be_visible()
    await scan_pending(site.rt)
    await expect(row.get_by_text("Clean")).to_be_visible()

    await row.get_by_role("button", name="Share budget.txt").click()
    dialog = mia.get_by_role("dialog", name="Share “budget.txt”")
    await expect(dialog.get_by_text("Not shared with anyone by name.")).to_be_visible()
    await dialog.get_by_label("Person").select_option(label="Sam (sam@contoso.example)")
    await dialog.get_by_label("Can").first.select_option("edit")
    await dialog.get_by_role("button", name="Share", exact=True).click()
    await expect(dialog.get_by_text("Sam · edit")).to_be_visible()
    assert await site.axe(mia) == []

    await dialog.get_by_role("button", name="Make a link").click()
    address = dialog.get_by_label("Address of the new link")
    await expect(address).to_be_visible()
    value = await address.input_value()
    assert value.startswith(f"{site.base}/api/v1/files/links/") and value.endswith("/content")
    # the link works for a signed-in person of the organisation
    hank = await site.sign_in("hank")
    status = await hank.evaluate("async u => (await fetch(u)).status", value)
    assert status == 200
    await dialog.get_by_role("button", name="Turn off").click()
    await expect(dialog.get_by_text("turned off")).to_be_visible()
    assert await hank.evaluate("async u => (await fetch(u)).status", value) == 404

    # the organisation turns links off: the dialog says so in the server's words
    olivia = site.world.principal("olivia")
    async with site.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        await set_policy(olivia, db, "files", {"sharing_links": "off"})
    await dialog.get_by_role("button", name="Make a link").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("link")


async def test_a_meetings_recordings_play_for_invitees_only(site: Site) -> None:
    olivia = site.world.principal("olivia")
    async with site.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        meeting = await scheduling.create_meeting(
            olivia,
            db,
            MeetingCreate(
                subject="Parents' evening",
                starts_at=now() - timedelta(hours=2),
                ends_at=now() - timedelta(hours=1),
                invitees=[InviteeIn(user_id=site.world.id("mia"))],
            ),
        )
    made = await make_recording(
        site.rt,
        olivia.tenant_id,
        meeting.id,
        organizer_id=site.world.id("olivia"),
        started_by=site.world.id("olivia"),
        subject="Parents' evening",
    )
    mia = await site.sign_in("mia")
    await mia.get_by_role("link", name="Meetings").click()
    await mia.get_by_role("link", name="Recordings of Parents' evening").click()
    item = mia.locator(f'[data-recording-id="{made.id}"]')
    video = item.get_by_label("Camera of Olivia")
    await expect(video).to_be_visible()
    await expect(item.get_by_label("Sound of Mia")).to_be_attached()
    assert await site.axe(mia) == []
    # the player streams from the server with byte ranges
    src = await video.get_attribute("src")
    got = await mia.evaluate(
        """async u => { const r = await fetch(u, {headers: {Range: 'bytes=0-99'}});
                        return [r.status, Array.from(new Uint8Array(await r.arrayBuffer()))]; }""",
        src,
    )
    assert got == [206, list(VIDEO[:100])]

    hank = await site.sign_in("hank")
    await hank.goto(f"{site.base}/recordings/{meeting.id}")
    await expect(hank.get_by_role("alert")).to_be_visible()
    await expect(hank.locator("video")).to_have_count(0)
