"""Every screen of the client, opened by its address as a bookmark would: it shows its
heading, axe-core finds nothing serious, and (checked by the harness for every test) no
request leaves the origin and no script fails. In Dutch too."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.browser.conftest import Site


async def test_every_screen_loads_from_this_origin_only(site: Site) -> None:
    olivia = await site.sign_in("olivia")
    screens = {
        f"/t/{site.team_id}/{site.channel_id}": "General",
        f"/t/{site.team_id}/{site.channel_id}/files": "General",
        "/search/budget": "Results for “budget”",
        "/meetings": "Meetings",
        "/account": "My account",
        "/admin/users": "Active users",
        "/admin/policies/meetings": "Meeting policy",
        "/admin/audit": "Audit log",
        "/admin/status": "Service health",
    }
    for path, heading in screens.items():
        await olivia.goto(site.base + path)
        await expect(olivia.get_by_role("heading", name=heading).first).to_be_visible()
        assert await site.axe(olivia) == [], path
    # the same in Dutch, where the words change
    await olivia.get_by_label("Language").select_option("nl")
    for path, heading in {"/meetings": "Vergaderingen", "/account": "Mijn account"}.items():
        await olivia.goto(site.base + path)
        await expect(olivia.get_by_role("heading", name=heading).first).to_be_visible()
        assert await site.axe(olivia) == [], path
    # a meeting's link opens without an account
    guest = await site.page("guest")
    await guest.goto(site.base + "/join/no-such-meeting")
    await expect(guest.get_by_role("alert").or_(guest.get_by_role("heading")).first).to_be_visible()
    assert await site.axe(guest) == []
