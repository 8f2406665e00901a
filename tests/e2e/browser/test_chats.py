"""Chats in the browser: start one from the people picker, mention someone with the
composer's picker, preview Markdown, see the other person's presence and unread count live,
and find the message with search."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.browser.conftest import Site


async def test_a_chat_with_a_mention_preview_presence_and_search(site: Site) -> None:
    mia = await site.sign_in("mia")
    olivia = await site.sign_in("olivia")

    await mia.get_by_role("button", name="New chat").click()
    dialog = mia.get_by_role("dialog", name="New chat")
    await dialog.get_by_label("Find people").fill("olivia")
    await dialog.get_by_role("checkbox", name="Olivia", exact=False).check()
    assert await site.axe(mia) == []
    await dialog.get_by_role("button", name="Start chat").click()
    await expect(mia.get_by_text("No messages yet. Say hello.")).to_be_visible()

    box = mia.get_by_label("Type a message")
    await box.fill("Quarterly **figures** for ")
    await box.press_sequentially("@oli")
    people = mia.get_by_role("listbox", name="People to mention")
    await expect(people.get_by_role("option")).to_have_count(1)
    await box.press("Enter")  # takes the highlighted person, does not send
    await expect(box).to_have_value("Quarterly **figures** for @olivia@contoso.example ")
    await mia.get_by_role("button", name="Preview").click()
    await expect(mia.locator(".composer-preview strong", has_text="figures")).to_be_visible()
    await mia.get_by_role("button", name="Write").click()
    await mia.get_by_label("Type a message").press("Enter")
    await expect(mia.locator("li.message", has_text="Quarterly figures")).to_be_visible()

    # olivia: the new chat appears with one unread message, and mia is available
    chats = olivia.get_by_role("navigation", name="Teams")
    chat_link = chats.get_by_role("link", name="Mia", exact=False)
    await expect(chat_link.get_by_label("1 unread")).to_be_visible()
    await expect(chat_link.get_by_role("img", name="Available")).to_be_visible()
    await chat_link.click()
    await expect(olivia.locator("li.message", has_text="Quarterly figures")).to_be_visible()
    await expect(chat_link.get_by_label("1 unread")).to_have_count(0)

    # mia leaves: olivia sees her go offline
    await mia.context.close()
    await expect(chat_link.get_by_role("img", name="Offline")).to_be_visible()

    await olivia.get_by_label("Search messages and files").fill("quarterly")
    await olivia.get_by_label("Search messages and files").press("Enter")
    await expect(olivia.get_by_role("heading", name="Results for “quarterly”")).to_be_visible()
    result = olivia.locator(".results li", has_text="Quarterly figures")
    await expect(result).to_be_visible()
    assert await site.axe(olivia) == []
    await result.get_by_role("link", name="Open the conversation").click()
    await expect(olivia.get_by_label("Type a message")).to_be_visible()
