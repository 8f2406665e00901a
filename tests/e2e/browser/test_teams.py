"""What a new organisation does first, by hand: a team with its members, then a channel;
the members see it without reloading."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.browser.conftest import Site


async def test_make_a_team_with_members_and_a_channel(site: Site) -> None:
    olivia = await site.sign_in("olivia")
    mia = await site.sign_in("mia")
    await olivia.get_by_role("button", name="New team").click()
    dialog = olivia.get_by_role("dialog", name="New team")
    await dialog.get_by_label("Name", exact=True).fill("Planning")
    await dialog.get_by_role("checkbox", name="Mia", exact=False).check()
    assert await site.axe(olivia) == []
    await dialog.get_by_role("button", name="Create team").click()
    await expect(olivia.get_by_role("heading", name="General")).to_be_visible()
    nav = olivia.get_by_role("navigation", name="Teams")
    await nav.get_by_role("button", name="New channel in Planning").click()
    channel = olivia.get_by_role("dialog", name="New channel in Planning")
    await channel.get_by_label("Channel name").fill("Budget")
    await channel.get_by_role("button", name="Create channel").click()
    await expect(olivia.get_by_role("heading", name="Budget")).to_be_visible()

    # mia is in it, live
    theirs = mia.get_by_role("navigation", name="Teams")
    await expect(theirs.get_by_text("Planning")).to_be_visible()
    await expect(theirs.get_by_role("link", name="Budget")).to_be_visible()
    # members do not make channels in a team they do not own
    await expect(theirs.get_by_role("button", name="New channel in Planning")).to_have_count(0)
