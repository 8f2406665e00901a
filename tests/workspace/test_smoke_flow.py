"""A first end-to-end pass through teams, channels and messages at service level."""

from __future__ import annotations

from overleg.messaging import service as messaging
from overleg.messaging.schemas import MessageCreate
from overleg.workspace import service as workspace
from overleg.workspace.schemas import ChannelCreate
from tests.workspace.conftest import Desk


async def test_post_reply_and_read_back(desk: Desk) -> None:
    ch = await desk.as_(
        "olivia", workspace.create_channel, desk.team_id, ChannelCreate(name="Deals")
    )
    post = await desk.as_(
        "mia", messaging.post_in_channel, ch.id, MessageCreate(text="**Hello** <b>x</b>")
    )
    assert (
        post.html is not None and "<strong>Hello</strong>" in post.html and "<b>" not in post.html
    )
    reply = await desk.as_(
        "sam", messaging.reply_in_channel, ch.id, post.id, MessageCreate(text="hi")
    )
    assert reply.thread_root_id == post.id
    posts = await desk.as_("gus", messaging.channel_posts, ch.id)
    assert [p.id for p in posts] == [post.id] and posts[0].reply_count == 1
