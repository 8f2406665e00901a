"""Channel moderation on a real database: the matrix of who may post and reply for each
setting and role, who manages moderators, and where moderation does not apply."""

from __future__ import annotations

import itertools
import uuid

import pytest

from overleg.audit.schemas import Outcome
from overleg.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from overleg.messaging import service as messaging
from overleg.messaging.schemas import MessageCreate
from overleg.workspace import service as workspace
from overleg.workspace.rules import NewPostPolicy, ReplyPolicy
from overleg.workspace.schemas import ChannelCreate, ModerationSettings
from tests.workspace.conftest import Desk

# olivia owns the team; sam is made a moderator; mia is a member; gus a guest; hank is not in
# the team (he gets "not found": he cannot even see the channel)
START = {
    NewPostPolicy.EVERYONE: {"olivia", "sam", "mia", "gus"},
    NewPostPolicy.EVERYONE_EXCEPT_GUESTS: {"olivia", "sam", "mia"},
    NewPostPolicy.MODERATORS: {"olivia", "sam"},
}
REPLY = {
    ReplyPolicy.EVERYONE: {"olivia", "sam", "mia", "gus"},
    ReplyPolicy.AUTHOR_AND_MODERATORS: {"olivia", "sam"},
}
PEOPLE = ("olivia", "sam", "mia", "gus", "hank")


async def _moderated_channel(desk: Desk) -> uuid.UUID:
    ch = await desk.as_(
        "olivia", workspace.create_channel, desk.team_id, ChannelCreate(name="News")
    )
    await desk.as_("olivia", workspace.add_moderator, ch.id, desk.world.id("sam"))
    return ch.id


@pytest.mark.parametrize(
    ("new_post", "reply"), list(itertools.product(NewPostPolicy, ReplyPolicy)), ids=str
)
async def test_the_moderation_matrix(
    desk: Desk, new_post: NewPostPolicy, reply: ReplyPolicy
) -> None:
    channel = await _moderated_channel(desk)
    settings = ModerationSettings(new_post_policy=new_post, reply_policy=reply)
    await desk.as_("olivia", workspace.set_moderation, channel, settings)
    # a post by mia's colleague olivia that everyone tries to reply to; authors reply to theirs
    root = await desk.as_("olivia", messaging.post_in_channel, channel, MessageCreate(text="root"))
    for who in PEOPLE:
        body = MessageCreate(text=f"post by {who}")
        if who == "hank":
            err = await desk.fails(who, messaging.post_in_channel, channel, body)
            assert isinstance(err, NotFound) and err.audit.outcome == Outcome.DENIED
            continue
        if who in START[new_post]:
            own = await desk.as_(who, messaging.post_in_channel, channel, body)
            # an author may always reply to their own post
            await desk.as_(
                who, messaging.reply_in_channel, channel, own.id, MessageCreate(text="+")
            )
        else:
            err = await desk.fails(who, messaging.post_in_channel, channel, body)
            assert isinstance(err, Forbidden), (who, err)
            assert err.audit is not None and err.audit.outcome == Outcome.DENIED
        answer = MessageCreate(text=f"reply by {who}")
        if who in REPLY[reply]:
            await desk.as_(who, messaging.reply_in_channel, channel, root.id, answer)
        else:
            err = await desk.fails(who, messaging.reply_in_channel, channel, root.id, answer)
            assert isinstance(err, Forbidden) and err.audit is not None, (who, err)
    posts = await desk.as_("olivia", messaging.channel_posts, channel)
    authors = {p.author_id for p in posts} - {desk.world.id("olivia")}
    assert authors == {desk.world.id(w) for w in START[new_post] - {"olivia"}}


async def test_owners_and_moderators_manage_moderators(desk: Desk) -> None:
    channel = await _moderated_channel(desk)
    w = desk.world
    # a moderator (sam) adds mia; a member who is no moderator (mia, before) could not
    err = await desk.fails("mia", workspace.add_moderator, channel, w.id("gus"))
    assert isinstance(err, Forbidden)
    m = await desk.as_("sam", workspace.add_moderator, channel, w.id("mia"))
    assert set(m.moderators) == {w.id("sam"), w.id("mia")} and m.owners == [w.id("olivia")]
    # moderators must be team members; owners cannot be removed as moderators
    err = await desk.fails("olivia", workspace.add_moderator, channel, w.id("hank"))
    assert isinstance(err, ValidationFailed)
    err = await desk.fails("sam", workspace.remove_moderator, channel, w.id("olivia"))
    assert isinstance(err, Conflict)
    m = await desk.as_("mia", workspace.remove_moderator, channel, w.id("sam"))
    assert m.moderators == [w.id("mia")]


async def test_members_read_the_settings_only_owners_change_them(desk: Desk) -> None:
    channel = await _moderated_channel(desk)
    got = await desk.as_("gus", workspace.get_moderation, channel)
    assert got.new_post_policy is NewPostPolicy.EVERYONE and not got.moderation_on
    on = ModerationSettings(new_post_policy=NewPostPolicy.MODERATORS, allow_bots=False)
    for who in ("sam", "mia", "gus"):  # a moderator is not an owner
        err = await desk.fails(who, workspace.set_moderation, channel, on)
        assert isinstance(err, Forbidden) and err.audit is not None
    got = await desk.as_("olivia", workspace.set_moderation, channel, on)
    assert got.moderation_on and not got.allow_bots
    assert (await desk.as_("mia", workspace.get_moderation, channel)).moderation_on


async def test_no_moderation_for_general_or_private_channels(desk: Desk) -> None:
    private = await desk.as_(
        "olivia",
        workspace.create_channel,
        desk.team_id,
        ChannelCreate(name="Board", kind="private", members=[desk.world.id("mia")]),
    )
    on = ModerationSettings(new_post_policy=NewPostPolicy.MODERATORS)
    for channel in (desk.general_id, private.id):
        err = await desk.fails("olivia", workspace.set_moderation, channel, on)
        assert isinstance(err, Conflict)
        err = await desk.fails("olivia", workspace.add_moderator, channel, desk.world.id("mia"))
        assert isinstance(err, Conflict)
