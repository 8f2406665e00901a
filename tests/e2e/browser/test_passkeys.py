"""Passkeys in the browser, with Chromium's virtual authenticator (CDP ``WebAuthn``: CTAP2,
built in, resident keys, user verification): mia adds one on "My account", signs in with
her password and the passkey as the second step, then with the passkey alone once her
organisation allows it, and removes it. The account page passes axe."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from overleg.policy import service as policy
from tests.api.conftest import audit
from tests.e2e.browser.conftest import Site
from tests.fixtures.world import PASSWORD


async def _virtual_authenticator(page: Page) -> Any:
    """A platform authenticator that verifies its user (a fingerprint, say) every time."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    found = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, found["authenticatorId"]


async def _sign_out(page: Page) -> None:
    # once the workspace has loaded its teams and channels: a sign-out in the middle of that
    # loading leaves the page's own requests unanswered (401)
    teams = page.get_by_role("navigation", name="Teams")
    await expect(teams.get_by_role("link", name="General")).to_be_visible()
    await page.get_by_role("button", name="Sign out", exact=True).click()
    await expect(page.get_by_label("Email")).to_be_visible()


async def _allow_passwordless(site: Site, allow: bool) -> None:
    olivia = site.world.principal("olivia")
    async with site.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        await policy.set_policy(
            olivia, db, "mfa", {"require": "admins", "passwordless_passkeys": allow}
        )


async def test_a_passkey_is_added_used_both_ways_and_removed(site: Site) -> None:
    page = await site.sign_in("mia")  # with her authenticator app
    cdp, authenticator = await _virtual_authenticator(page)

    # My account: add a passkey under a name
    await page.get_by_role("link", name="Mia").click()
    await expect(page.get_by_role("heading", name="My account")).to_be_visible()
    await expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    await expect(page.get_by_text("This device")).to_be_visible()  # the session list
    assert await site.axe(page) == []
    await page.get_by_label("Name of the new passkey").fill("Test laptop")
    await page.get_by_role("button", name="Add a passkey").click()
    await expect(page.get_by_text("Passkey “Test laptop” added.")).to_be_visible()
    passkeys = page.get_by_role("list", name="Your passkeys")
    await expect(passkeys.get_by_role("listitem")).to_have_count(1)
    await expect(passkeys.get_by_text("Test laptop")).to_be_visible()
    held = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(held["credentials"]) == 1 and held["credentials"][0]["isResidentCredential"]
    assert await site.axe(page) == []

    # password, then the passkey as the second step
    await _sign_out(page)
    await page.get_by_label("Email").fill("mia@contoso.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    # (the sign-in page has a "Use a passkey" of its own: wait for the second step's)
    await expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    await page.get_by_role("button", name="Use a passkey").click()
    await page.get_by_role("navigation", name="Teams").wait_for()
    mfa = await audit(site.rt, "auth.mfa", outcome="success")
    assert [r.details["factor"] for r in mfa][-1:] == ["passkey"]

    # the passkey alone: refused until the organisation allows it
    await _sign_out(page)
    await page.get_by_role("button", name="Use a passkey").click()
    await expect(page.get_by_role("alert")).to_contain_text("does not allow signing in")
    await _allow_passwordless(site, True)
    await page.get_by_role("button", name="Use a passkey").click()
    await page.get_by_role("navigation", name="Teams").wait_for()
    signed = await audit(site.rt, "auth.sign_in", outcome="success")
    assert signed[-1].details["method"] == "passkey"

    # and removed again (the passkey sign-in was a fresh second factor: no step-up)
    await page.get_by_role("link", name="Mia").click()
    await page.get_by_role("button", name="Remove Test laptop").click()
    confirm = page.get_by_role("group", name="Remove Test laptop")
    await expect(confirm).to_contain_text("You can no longer sign in with it.")
    await confirm.get_by_role("button", name="Remove", exact=True).click()
    await expect(page.get_by_text("Passkey “Test laptop” removed.")).to_be_visible()
    await expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    assert await site.axe(page) == []
    removed = await audit(site.rt, "passkey.remove", outcome="success")
    assert [r.details["name"] for r in removed] == ["Test laptop"]
