"""Two people in one channel see each other's posts, edits, deletions, replies and
reactions live (the event socket; nothing polls), and unread counts in other channels."""

from __future__ import annotations

from playwright.async_api import expect

from overleg.workspace import service as workspace
from overleg.workspace.schemas import ChannelCreate
from tests.e2e.browser.conftest import Site


async def test_posts_edits_and_deletions_reach_the_other_person_live(site: Site) -> None:
    mia = await site.sign_in("mia")
    olivia = await site.sign_in("olivia")
    for page in (mia, olivia):
        await expect(page.get_by_text("No posts yet. Start the conversation.")).to_be_visible()

    await mia.get_by_label("Start a new post").fill("The **budget** is ready for review")
    await mia.keyboard.press("Enter")
    post = olivia.locator(".posts li.message", has_text="is ready for review")
    await expect(post).to_be_visible()
    await expect(post.locator("strong", has_text="budget")).to_be_visible()  # Markdown
    await expect(post.get_by_text("Mia", exact=False).first).to_be_visible()

    # olivia replies in the thread; mia sees the reply count, then the reply
    await post.get_by_role("button", name="Reply").click()
    await olivia.get_by_label("Reply", exact=True).fill("Looks good to me")
    await olivia.get_by_role("complementary").get_by_role("button", name="Send").click()
    message_id = await post.get_attribute("data-message-id")
    mine = mia.locator(f'.posts li[data-message-id="{message_id}"]')
    await expect(mine.get_by_role("button", name="1 replies")).to_be_visible()
    await mine.get_by_role("button", name="1 replies").click()
    await expect(mia.get_by_role("complementary").get_by_text("Looks good to me")).to_be_visible()
    await site.shot(mia, "channel")

    # a reaction from olivia shows on mia's page
    await post.get_by_label("Add a reaction").click()
    await post.get_by_role("button", name="Like").click()
    await expect(mine.get_by_role("button", name="Like: 1")).to_be_visible()

    # mia edits: olivia sees the new text and "(edited)"
    await mine.get_by_role("button", name="Edit").click()
    await mine.get_by_label("Edit").fill("The budget is final")
    await mine.get_by_role("button", name="Save").click()
    edited = olivia.locator(".posts li.message", has_text="The budget is final")
    await expect(edited).to_be_visible()
    await expect(edited.get_by_text("(edited)")).to_be_visible()

    # mia deletes: olivia sees that it was deleted, not its text
    mia.once("dialog", lambda d: d.accept())
    await (
        mia.locator(".posts li.message", has_text="The budget is final")
        .get_by_role("button", name="Delete")
        .click()
    )
    await expect(olivia.get_by_text("This message was deleted.").first).to_be_visible()
    await expect(olivia.locator(".posts").get_by_text("The budget is final")).to_have_count(0)
    # nobody but its author edits or deletes a post
    await expect(
        olivia.locator(".posts li.message").get_by_role("button", name="Edit")
    ).to_have_count(0)


async def test_a_post_in_another_channel_shows_as_unread(site: Site) -> None:
    olivia_p = site.world.principal("olivia")
    async with site.rt.database.transaction(tenant_id=olivia_p.tenant_id) as db:
        other = await workspace.create_channel(
            olivia_p, db, site.team_id, ChannelCreate(name="Planning")
        )
    mia = await site.sign_in("mia")
    olivia = await site.sign_in("olivia")
    await (
        olivia.get_by_role("navigation", name="Teams").get_by_role("link", name="Planning").click()
    )
    await olivia.get_by_label("Start a new post").fill("Planning starts Monday")
    await olivia.keyboard.press("Enter")
    link = mia.get_by_role("navigation", name="Teams").get_by_role("link", name="Planning")
    await expect(link.get_by_label("1 unread")).to_be_visible()
    await link.click()
    await expect(mia.get_by_text("Planning starts Monday")).to_be_visible()
    await expect(link.get_by_label("1 unread")).to_have_count(0)
    assert str(other.id) in mia.url
