"""Signing in through the web client: password and authenticator code; the pages are
accessible (axe-core), Dutch is complete, and a phone-width window works."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.browser.conftest import Site


async def test_password_then_authenticator_code_reaches_the_workspace(site: Site) -> None:
    secret = await site.world.enrol_totp("mia")
    page = await site.page("mia")
    assert await site.axe(page) == []
    await site.shot(page, "sign-in")
    await page.get_by_label("Email").fill("mia@contoso.example")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()

    from overleg.kernel.clock import now
    from overleg.security.authn import totp
    from tests.fixtures.world import PASSWORD

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    await page.get_by_label("Code").fill("000000")
    await page.get_by_role("button", name="Verify").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await page.get_by_label("Code").fill(totp.code_at(secret, now()))
    await page.get_by_role("button", name="Verify").click()

    nav = page.get_by_role("navigation", name="Teams")
    await expect(nav.get_by_role("link", name="General")).to_be_visible()
    await expect(page.get_by_role("heading", name="General")).to_be_visible()
    assert f"/t/{site.team_id}/{site.channel_id}" in page.url
    assert await site.axe(page) == []

    # a reload keeps the session (the cookie) and gets its CSRF token again: posting works
    await page.reload()
    await page.get_by_label("Start a new post").fill("after a reload")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_text("after a reload")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to Overleg")).to_be_visible()


async def test_dutch_sign_in_and_workspace(site: Site) -> None:
    page = await site.page("mia")
    await page.get_by_label("Language").select_option("nl")
    await expect(page.get_by_role("heading", name="Aanmelden bij Overleg")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "nl"
    from tests.fixtures.world import PASSWORD

    await page.get_by_label("E-mailadres").fill("mia@contoso.example")
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_role("button", name="Aanmelden").click()
    await expect(page.get_by_role("link", name="Bestanden")).to_be_visible()
    await expect(page.get_by_role("button", name="Afmelden")).to_be_visible()
    assert await site.axe(page) == []


async def test_a_phone_width_window_hides_the_team_list_behind_a_button(site: Site) -> None:
    page = await site.sign_in("mia", with_totp=False)
    await page.set_viewport_size({"width": 390, "height": 800})
    nav = page.get_by_role("navigation", name="Teams")
    await expect(nav).to_be_hidden()
    await page.get_by_role("button", name="Show or hide the teams").click()
    await expect(nav).to_be_visible()
    await nav.get_by_role("link", name="General").click()
    await expect(nav).to_be_hidden()
    await expect(page.get_by_label("Start a new post")).to_be_visible()
    assert await site.axe(page) == []
