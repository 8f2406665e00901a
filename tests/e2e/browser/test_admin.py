"""The admin centre in the browser: olivia (global admin) confirms her second factor when
the API asks for a fresh one, adds a user (and sees the one-time password once) and blocks
their sign-in, changes the meeting policy's lobby setting (the audit log shows the change,
and the export downloads it), and gets a bad value's error next to its field; the service
health page answers. Mia (a member) has no admin link and is told /admin is not for her.
Every admin page is axe-clean, also in a phone-width window."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import update

from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.policy import service as policy
from overleg.policy.schemas import MeetingPolicy, RecordingPolicy
from overleg.security.authn import totp
from overleg.security.models import UserSession
from tests.e2e.browser.conftest import WAIT_MS, Site


async def make_step_up_stale(site: Site, who: str) -> None:
    """As if the second factor had been given an hour ago (admin calls need one from the
    last few minutes)."""
    tenant = site.world.tenant_of(who)
    async with site.rt.database.transaction(tenant_id=tenant) as db:
        await db.execute(
            update(UserSession)
            .where(UserSession.user_id == site.world.id(who))
            .values(mfa_at=now() - timedelta(hours=1))
        )


def wrong_code(secret: str) -> str:
    valid = {totp.code_at(secret, now() + totp.PERIOD * k) for k in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)


OVERFLOWING = """() => [document.documentElement, ...document.querySelectorAll('.admin-main')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className || e.tagName)"""


#: what sticks out on the right (but the menu row, which scrolls on purpose)
WIDER = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .filter(e => !e.closest('.admin-nav'))
    .map(e => e.tagName + '.' + e.className).slice(0, 10)"""


async def no_sideways_scroll(page: Page) -> None:
    """Neither the page nor the admin centre's content scrolls sideways (the menu row may)."""
    with contextlib.suppress(PlaywrightTimeout):  # the layout may still be settling
        await page.wait_for_function(f"() => ({OVERFLOWING})().length === 0", timeout=5000)
    found = await page.evaluate(OVERFLOWING)
    wider = await page.evaluate(WIDER) if found else []
    assert found == [], f"{page.url} scrolls sideways; too wide: {wider}"


async def test_olivia_administers_users_policies_and_reads_the_audit_log(site: Site) -> None:
    olivia = await site.sign_in("olivia")
    # a new authenticator secret: the step-up code below comes from it
    secret = await site.world.enrol_totp("olivia")
    await make_step_up_stale(site, "olivia")

    await olivia.get_by_role("link", name="Admin centre").click()
    step_up = olivia.get_by_role("dialog", name="Confirm it's you")
    await expect(step_up).to_be_visible(timeout=WAIT_MS)
    assert await site.axe(olivia) == []
    code = step_up.get_by_label("Code from your authenticator app")
    await code.fill(wrong_code(secret))
    await step_up.get_by_role("button", name="Confirm").click()
    await expect(step_up.get_by_role("alert")).to_contain_text("That code is not right")
    # the next step's code: the one of the sign-in's step was used already
    await code.fill(totp.code_at(secret, now() + totp.PERIOD))
    await step_up.get_by_role("button", name="Confirm").click()
    await expect(step_up).to_be_hidden(timeout=WAIT_MS)

    # users: the list loads once the second factor is fresh again
    nav = olivia.get_by_role("navigation", name="Admin centre")
    await expect(olivia.get_by_role("heading", name="Active users")).to_be_visible()
    await expect(olivia.get_by_role("link", name="Mia")).to_be_visible(timeout=WAIT_MS)
    assert "/admin/users" in olivia.url
    await olivia.get_by_label("Search users").fill("sid")
    await expect(olivia.get_by_role("link", name="Mia")).to_be_hidden()
    await expect(olivia.get_by_role("link", name="Sid")).to_be_visible()
    await olivia.get_by_label("Search users").fill("")
    assert await site.axe(olivia) == []

    await olivia.get_by_role("button", name="Add a user").click()
    add = olivia.get_by_role("dialog", name="Add a user")
    await add.get_by_label("Display name").fill("Nora Visser")
    await add.get_by_label("Username (e-mail address)").fill("not an address")
    await add.get_by_role("button", name="Add user").click()
    email = add.get_by_label("Username (e-mail address)")
    await expect(email).to_have_attribute("aria-invalid", "true")
    assert await site.axe(olivia) == []
    await email.fill("nora@contoso.example")
    await add.get_by_role("button", name="Add user").click()
    await expect(add.get_by_text("Nora Visser has been added.")).to_be_visible(timeout=WAIT_MS)
    password = (await add.get_by_test_id("one-time-password").inner_text()).strip()
    assert len(password) >= 12
    await add.get_by_role("button", name="Close").first.click()
    await expect(add).to_be_hidden()

    await olivia.get_by_role("link", name="Nora Visser").click()
    panel = olivia.get_by_role("dialog", name="Nora Visser")
    await expect(panel.get_by_text("nora@contoso.example")).to_be_visible()
    await panel.get_by_role("button", name="Block sign-in").click()
    await expect(panel.get_by_text("Block sign-in for Nora Visser?")).to_be_visible()
    assert await site.axe(olivia) == []
    await panel.get_by_role("group").get_by_role("button", name="Block sign-in").click()
    await expect(panel.get_by_text("Sign-in blocked.")).to_be_visible(timeout=WAIT_MS)
    await expect(panel.get_by_role("button", name="Allow sign-in")).to_be_visible()
    await panel.get_by_role("button", name="Close").click()
    row = olivia.get_by_role("row").filter(has_text="nora@contoso.example")
    await expect(row.get_by_text("Blocked")).to_be_visible()
    async with site.rt.database.transaction(tenant_id=site.world.tenant_of("olivia")) as db:
        users = await identity.list_users(site.world.principal("olivia"), db)
    nora = next(u for u in users if u.email == "nora@contoso.example")
    assert nora.status == "disabled"

    # the meeting policy: only invited people bypass the lobby
    await nav.get_by_role("link", name="Meetings").click()
    await expect(olivia.get_by_role("heading", name="Meeting policy")).to_be_visible()
    lobby = olivia.get_by_label("Who can bypass the lobby")
    await expect(lobby).to_have_value("organization", timeout=WAIT_MS)
    # every field of the policy has a control
    for label in (
        "People dialling in can bypass the lobby",
        "Who can present",
        "Anonymous people can join a meeting",
        "Anonymous people and dial-in callers can start a meeting",
        "Who can admit from the lobby",
        "Limit presenters' permissions",
        "Meeting recording",
        "Explicit recording consent",
        "Meeting chat",
    ):
        await expect(olivia.get_by_label(label, exact=True)).to_be_visible()
    await expect(olivia.get_by_role("button", name="Add a group policy")).to_be_visible()
    assert await site.axe(olivia) == []
    await lobby.select_option("invited")
    await olivia.get_by_label("Meeting chat", exact=True).uncheck()
    await olivia.get_by_role("button", name="Save").click()
    await expect(olivia.get_by_text("Saved. This is version 1.")).to_be_visible(timeout=WAIT_MS)
    async with site.rt.database.transaction(tenant_id=site.world.tenant_of("olivia")) as db:
        meetings = await policy.effective(db, MeetingPolicy, "meetings")
    assert meetings.default.lobby_bypass == "invited"
    assert meetings.default.allow_meeting_chat is False

    # a bad value: the server's problem is shown next to the field, and nothing is stored
    await nav.get_by_role("link", name="Recordings").click()
    recycle = olivia.get_by_label("Expired recordings can be restored for (days)")
    await recycle.fill("400")
    await olivia.get_by_role("button", name="Save").click()
    await expect(recycle).to_have_attribute("aria-invalid", "true", timeout=WAIT_MS)
    await expect(recycle).to_be_focused()
    described = await recycle.get_attribute("aria-describedby")
    assert described
    error_id = next(i for i in described.split() if i.endswith("-error"))
    await expect(olivia.locator(f"[id='{error_id}']")).to_contain_text("less than or equal to 365")
    await expect(olivia.get_by_role("alert")).to_contain_text("Not saved")
    assert await site.axe(olivia) == []
    async with site.rt.database.transaction(tenant_id=site.world.tenant_of("olivia")) as db:
        recordings = await policy.get_policy(site.world.principal("olivia"), db, "recordings")
    assert recordings.version == 0
    assert RecordingPolicy.model_validate(recordings.body).recycle_days == 90

    # the audit log shows the change, with what changed
    await nav.get_by_role("link", name="Audit log").click()
    await olivia.get_by_label("Activity", exact=True).fill("policy.update")
    await olivia.get_by_role("button", name="Search", exact=True).click()
    change = olivia.get_by_role("row").filter(has_text="policy meetings")
    await expect(change).to_have_count(1, timeout=WAIT_MS)
    await expect(change.get_by_text("policy.update", exact=True)).to_be_visible()
    await change.get_by_role("button", name="Details").click()
    await expect(olivia.get_by_text("default.lobby_bypass")).to_be_visible()
    await expect(olivia.get_by_text('"invited"', exact=True)).to_be_visible()
    assert await site.axe(olivia) == []
    await site.shot(olivia, "admin-audit")
    async with olivia.expect_download() as waiting:
        await olivia.get_by_role("button", name="Export (JSON Lines)").click()
    download = await waiting.value
    lines = (await asyncio.to_thread(Path(await download.path()).read_text)).splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["target_id"] for r in records] == ["meetings"]
    assert {r["action"] for r in records} == {"policy.update"}

    # service health answers for every service (clamd has no socket here: not reachable)
    await nav.get_by_role("link", name="Service health").click()
    database = olivia.get_by_role("listitem").filter(
        has=olivia.get_by_role("heading", name="Database")
    )
    await expect(database.get_by_text("Healthy")).to_be_visible(timeout=WAIT_MS)
    scanner = olivia.get_by_role("listitem").filter(
        has=olivia.get_by_role("heading", name="Malware scanner (ClamAV)")
    )
    await expect(scanner.get_by_text("Not reachable")).to_be_visible()
    await expect(olivia.get_by_text("Not configured").first).to_be_visible()
    assert await site.axe(olivia) == []

    # a phone-width window: the menu is a row above the page, nothing scrolls sideways
    await olivia.set_viewport_size({"width": 390, "height": 800})
    for link, heading in (
        ("Active users", "Active users"),
        ("Meetings", "Meeting policy"),
        ("Audit log", "Audit log"),
        ("Service health", "Service health"),
    ):
        await nav.get_by_role("link", name=link).click()
        await expect(olivia.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        await no_sideways_scroll(olivia)
        assert await site.axe(olivia) == []


async def test_members_have_no_admin_centre(site: Site) -> None:
    mia = await site.sign_in("mia")
    await expect(mia.get_by_role("button", name="Sign out")).to_be_visible()
    await expect(mia.get_by_role("link", name="Admin centre")).to_have_count(0)
    await mia.goto(site.base + "/admin")
    await expect(mia.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=WAIT_MS)
    await expect(mia.get_by_role("navigation", name="Admin centre")).to_have_count(0)
    assert await site.axe(mia) == []
    await mia.goto(site.base + "/admin/policies/meetings")
    await expect(mia.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=WAIT_MS)
    await expect(mia.get_by_label("Who can bypass the lobby")).to_have_count(0)
