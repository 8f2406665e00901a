"""Chats: 1:1 and group chats, history for newcomers, leaving, limits, read receipts."""

from __future__ import annotations

from datetime import timedelta

from overleg.kernel import clock
from overleg.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from overleg.messaging import service as messaging
from overleg.messaging.schemas import ChatCreate, ChatMembersAdd, ChatUpdate, MessageCreate
from tests.workspace.conftest import Desk


async def test_a_one_on_one_chat_is_unique_per_pair(desk: Desk) -> None:
    w = desk.world
    a = await desk.as_("mia", messaging.create_chat, ChatCreate(members=[w.id("sam")]))
    b = await desk.as_("sam", messaging.create_chat, ChatCreate(members=[w.id("mia")]))
    assert a.id == b.id and a.kind == "one_on_one"
    err = await desk.fails(
        "mia", messaging.add_chat_members, a.id, ChatMembersAdd(members=[w.id("hank")])
    )
    assert isinstance(err, Conflict)
    err = await desk.fails("mia", messaging.rename_chat, a.id, ChatUpdate(topic="x"))
    assert isinstance(err, Conflict)


async def test_chat_members_must_exist_in_the_tenant(desk: Desk) -> None:
    w = desk.world
    err = await desk.fails("mia", messaging.create_chat, ChatCreate(members=[w.id("eve")]))
    assert isinstance(err, ValidationFailed)
    err = await desk.fails("mia", messaging.create_chat, ChatCreate(members=[w.id("mia")]))
    assert isinstance(err, ValidationFailed)
    # guests take part where they are added, but start no chats (as in Teams' guest access)
    assert isinstance(
        await desk.fails("gus", messaging.create_chat, ChatCreate(members=[w.id("mia")])), Forbidden
    )


async def test_outsiders_see_nothing_of_a_chat(desk: Desk) -> None:
    w = desk.world
    chat = await desk.as_(
        "mia", messaging.create_chat, ChatCreate(members=[w.id("sam"), w.id("gus")], topic="Launch")
    )
    await desk.as_("gus", messaging.send_in_chat, chat.id, MessageCreate(text="hello from a guest"))
    for who in ("hank", "olivia", "eve"):
        err = await desk.fails(who, messaging.chat_messages, chat.id)
        assert isinstance(err, NotFound) and err.audit is not None, who
        err = await desk.fails(who, messaging.send_in_chat, chat.id, MessageCreate(text="x"))
        assert isinstance(err, NotFound)
    assert chat.id not in {c.id for c in await desk.as_("hank", messaging.my_chats)}


async def test_newcomers_see_history_only_as_the_adder_chooses(desk: Desk) -> None:
    w = desk.world
    chat = await desk.as_(
        "mia", messaging.create_chat, ChatCreate(members=[w.id("sam")], topic="Plans")
    )
    base = clock.now()
    steps = [
        (
            base - timedelta(days=10),
            "mia",
            messaging.send_in_chat,
            MessageCreate(text="ten days ago"),
        ),
        (base - timedelta(days=1), "mia", messaging.send_in_chat, MessageCreate(text="yesterday")),
        (base, "mia", messaging.add_chat_members, ChatMembersAdd(members=[w.id("hank")])),
        (
            base,
            "mia",
            messaging.add_chat_members,
            ChatMembersAdd(members=[w.id("gus")], share_history="days", days=3),
        ),
        (
            base,
            "mia",
            messaging.add_chat_members,
            ChatMembersAdd(members=[w.id("olivia")], share_history="all"),
        ),
        (base + timedelta(minutes=1), "sam", messaging.send_in_chat, MessageCreate(text="welcome")),
    ]
    try:
        for at, who, fn, body in steps:
            clock.freeze(at)
            await desk.as_(who, fn, chat.id, body)
    finally:
        clock.freeze(None)

    async def texts(who: str) -> list[str | None]:
        return [m.text for m in await desk.as_(who, messaging.chat_messages, chat.id)]

    assert await texts("hank") == ["welcome"]
    assert await texts("gus") == ["welcome", "yesterday"]
    assert await texts("olivia") == ["welcome", "yesterday", "ten days ago"]


async def test_leaving_and_removing(desk: Desk) -> None:
    w = desk.world
    chat = await desk.as_(
        "mia", messaging.create_chat, ChatCreate(members=[w.id("sam"), w.id("hank")], topic="Trip")
    )
    await desk.as_("hank", messaging.remove_chat_member, chat.id, w.id("hank"))
    assert isinstance(await desk.fails("hank", messaging.chat_messages, chat.id), NotFound)
    await desk.as_("sam", messaging.remove_chat_member, chat.id, w.id("mia"))
    assert isinstance(
        await desk.fails("mia", messaging.send_in_chat, chat.id, MessageCreate(text="x")), NotFound
    )
    left = await desk.as_("sam", messaging.get_chat, chat.id)
    assert [m.user_id for m in left.members] == [w.id("sam")]


async def test_read_receipts_and_unread_counts(desk: Desk) -> None:
    w = desk.world
    chat = await desk.as_("mia", messaging.create_chat, ChatCreate(members=[w.id("sam")]))
    first = await desk.as_("mia", messaging.send_in_chat, chat.id, MessageCreate(text="one"))
    await desk.as_("mia", messaging.send_in_chat, chat.id, MessageCreate(text="two"))
    assert (await desk.as_("sam", messaging.get_chat, chat.id)).unread_count == 2
    assert (await desk.as_("mia", messaging.get_chat, chat.id)).unread_count == 0
    seen = await desk.as_("sam", messaging.mark_chat_read, chat.id, first.id)
    assert seen.unread_count == 1
    sam = next(
        m
        for m in (await desk.as_("mia", messaging.get_chat, chat.id)).members
        if m.user_id == w.id("sam")
    )
    assert sam.last_read_message_id == first.id


async def test_channel_unread_counts_are_per_person(desk: Desk) -> None:
    await desk.as_("mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="a"))
    await desk.as_("mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="b"))
    assert (await desk.as_("sam", messaging.channel_view, desk.general_id)).unread_count == 2
    assert (await desk.as_("mia", messaging.channel_view, desk.general_id)).unread_count == 0
    await desk.as_("sam", messaging.mark_channel_read, desk.general_id)
    assert (await desk.as_("sam", messaging.channel_view, desk.general_id)).unread_count == 0
    assert (await desk.as_("gus", messaging.channel_view, desk.general_id)).unread_count == 2
