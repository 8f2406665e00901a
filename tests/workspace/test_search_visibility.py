"""Message search through the messaging service: a person finds only what they may read."""

from __future__ import annotations

from datetime import timedelta

from overleg.kernel import clock
from overleg.kernel.errors import ValidationFailed
from overleg.messaging import service as messaging
from overleg.messaging.schemas import ChatCreate, ChatMembersAdd, MessageCreate, MessageEdit
from overleg.workspace import service as workspace
from overleg.workspace.schemas import ChannelCreate
from tests.workspace.conftest import Desk


async def _found(desk: Desk, who: str, q: str) -> list[str | None]:
    return [m.text for m in (await desk.as_(who, messaging.search, q)).messages]


async def test_search_finds_only_what_the_searcher_may_read(desk: Desk) -> None:
    w = desk.world
    await desk.as_(
        "mia",
        messaging.post_in_channel,
        desk.general_id,
        MessageCreate(text="Budget review on Monday"),
    )
    board = await desk.as_(
        "olivia",
        workspace.create_channel,
        desk.team_id,
        ChannelCreate(name="Board", kind="private", members=[w.id("mia")]),
    )
    await desk.as_(
        "olivia",
        messaging.post_in_channel,
        board.id,
        MessageCreate(text="Budget cuts, do not share"),
    )
    chat = await desk.as_("hank", messaging.create_chat, ChatCreate(members=[w.id("mia")]))
    await desk.as_("hank", messaging.send_in_chat, chat.id, MessageCreate(text="budget for HR"))

    assert sorted(await _found(desk, "mia", "budget")) == [
        "Budget cuts, do not share",
        "Budget review on Monday",
        "budget for HR",
    ]
    assert await _found(desk, "sam", "budget") == ["Budget review on Monday"]
    assert await _found(desk, "gus", "budget") == ["Budget review on Monday"]
    assert await _found(desk, "hank", "budget") == ["budget for HR"]
    assert await _found(desk, "eve", "budget") == []
    # operators of the query language, end to end
    assert await _found(desk, "mia", '"budget cuts"') == ["Budget cuts, do not share"]
    assert await _found(desk, "mia", "budget -monday in:Board") == ["Budget cuts, do not share"]
    assert await _found(desk, "mia", "budget from:hank@contoso.example") == ["budget for HR"]


async def test_newcomers_find_nothing_from_before_they_could_read(desk: Desk) -> None:
    w = desk.world
    base = clock.now()
    try:
        clock.freeze(base - timedelta(days=2))
        board = await desk.as_(
            "olivia",
            workspace.create_channel,
            desk.team_id,
            ChannelCreate(name="Board", kind="private"),
        )
        await desk.as_(
            "olivia", messaging.post_in_channel, board.id, MessageCreate(text="merger talks")
        )
        chat = await desk.as_(
            "mia", messaging.create_chat, ChatCreate(members=[w.id("sam")], topic="x")
        )
        await desk.as_("mia", messaging.send_in_chat, chat.id, MessageCreate(text="merger rumours"))
        clock.freeze(base)
        await desk.as_("olivia", workspace.add_channel_member, board.id, w.id("mia"))
        await desk.as_(
            "olivia", workspace.add_channel_member, board.id, w.id("sam"), share_history=True
        )
        await desk.as_(
            "mia", messaging.add_chat_members, chat.id, ChatMembersAdd(members=[w.id("hank")])
        )
        clock.freeze(base + timedelta(minutes=1))
        await desk.as_(
            "olivia", messaging.post_in_channel, board.id, MessageCreate(text="merger signed")
        )
    finally:
        clock.freeze(None)
    assert await _found(desk, "mia", "merger") == ["merger signed", "merger rumours"]
    # the two older messages were written at the same moment: their order is not defined
    found = await _found(desk, "sam", "merger")
    assert found[0] == "merger signed"
    assert sorted(found[1:]) == ["merger rumours", "merger talks"]
    assert await _found(desk, "hank", "merger") == []
    assert [m.text for m in await desk.as_("mia", messaging.channel_posts, board.id)] == [
        "merger signed"
    ]
    assert (await desk.as_("mia", messaging.channel_view, board.id)).unread_count == 1


async def test_edits_and_deletes_change_what_is_found(desk: Desk) -> None:
    m = await desk.as_(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="old wording")
    )
    await desk.as_("mia", messaging.edit_message, m.id, MessageEdit(text="new phrasing"))
    assert await _found(desk, "sam", "wording") == []
    assert await _found(desk, "sam", "phrasing") == ["new phrasing"]
    await desk.as_("mia", messaging.delete_message, m.id)
    assert await _found(desk, "sam", "phrasing") == []


async def test_bad_queries_are_refused_clearly(desk: Desk) -> None:
    err = await desk.fails("mia", messaging.search, 'budget "unclosed')
    assert isinstance(err, ValidationFailed)
