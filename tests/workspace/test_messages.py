"""Messages: Markdown, mentions, edits with history, soft delete, reactions, pins, and the
body at rest."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from overleg.audit.models import AuditRecord
from overleg.kernel.errors import Conflict, Forbidden, ValidationFailed
from overleg.messaging import service as messaging
from overleg.messaging import views
from overleg.messaging.models import Message, MessageVersion
from overleg.messaging.schemas import ChatCreate, MessageCreate, MessageEdit
from overleg.security import content_gate
from overleg.workspace import service as workspace
from overleg.workspace.schemas import TeamSettings, TeamUpdate
from tests.workspace.conftest import Desk


async def test_markdown_is_rendered_and_sanitised(desk: Desk) -> None:
    text = (
        "# T\n**b** <img src=x onerror=alert(1)> [x](javascript:alert(1)) [ok](https://e.example)"
    )
    m = await desk.as_("mia", messaging.post_in_channel, desk.general_id, MessageCreate(text=text))
    assert m.html is not None and m.text == text
    assert "<strong>b</strong>" in m.html and "<h1>T</h1>" in m.html
    # raw HTML stays text, and no link leads to a script
    assert "<img" not in m.html and "&lt;img" in m.html and 'href="javascript' not in m.html
    assert '<a href="https://e.example" rel="noopener noreferrer nofollow">ok</a>' in m.html


async def test_mentions_resolve_to_people_in_the_conversation(desk: Desk) -> None:
    w = desk.world
    m = await desk.as_(
        "mia",
        messaging.post_in_channel,
        desk.general_id,
        MessageCreate(text="@sam@contoso.example and @channel, look"),
    )
    assert [(x.kind, x.id) for x in m.mentions] == [
        ("user", w.id("sam")),
        ("channel", desk.general_id),
    ]
    # hank is not in the team: the mention is refused and nothing is stored
    err = await desk.fails(
        "mia",
        messaging.post_in_channel,
        desk.general_id,
        MessageCreate(text="ping @hank@contoso.example"),
    )
    assert isinstance(err, ValidationFailed) and "not in this conversation" in err.detail
    await desk.as_(
        "olivia",
        workspace.update_team,
        desk.team_id,
        TeamUpdate(settings=TeamSettings(allow_team_mentions=False)),
    )
    err = await desk.fails(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="@team hi")
    )
    assert isinstance(err, ValidationFailed)
    chat = await desk.as_("mia", messaging.create_chat, ChatCreate(members=[w.id("sam")]))
    err = await desk.fails("mia", messaging.send_in_chat, chat.id, MessageCreate(text="@channel"))
    assert isinstance(err, ValidationFailed)
    posts = await desk.as_("mia", messaging.channel_posts, desk.general_id)
    assert len(posts) == 1


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 28_001])
def test_empty_and_over_long_messages_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        MessageCreate(text=text)


async def test_edits_keep_every_version(desk: Desk) -> None:
    m = await desk.as_("mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="v1"))
    await desk.as_("mia", messaging.edit_message, m.id, MessageEdit(text="v2"))
    edited = await desk.as_("mia", messaging.edit_message, m.id, MessageEdit(text="v3"))
    assert edited.edited and edited.text == "v3"
    err = await desk.fails("sam", messaging.edit_message, m.id, MessageEdit(text="mine now"))
    assert isinstance(err, Forbidden) and err.audit is not None
    err = await desk.fails("olivia", messaging.edit_message, m.id, MessageEdit(text="owner"))
    assert isinstance(err, Forbidden)
    p = desk.p("mia")
    async with desk.world.rt.database.transaction(tenant_id=p.tenant_id) as db:
        versions = (
            await db.scalars(
                select(MessageVersion)
                .where(MessageVersion.message_id == m.id)
                .order_by(MessageVersion.version)
            )
        ).all()
        texts = [
            (await views.open_body(db, v.tenant_id, v.message_id, v.version, v.body_enc))["text"]
            for v in versions
        ]
    assert texts == ["v1", "v2"]


async def test_delete_hides_the_message_but_keeps_it(desk: Desk) -> None:
    m = await desk.as_(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="oops")
    )
    err = await desk.fails("sam", messaging.delete_message, m.id)
    assert isinstance(err, Forbidden)
    await desk.as_("mia", messaging.delete_message, m.id)
    (shown,) = await desk.as_("sam", messaging.channel_posts, desk.general_id)
    assert shown.deleted and shown.text is None and shown.html is None
    err = await desk.fails("mia", messaging.edit_message, m.id, MessageEdit(text="back"))
    assert isinstance(err, Conflict)
    p = desk.p("mia")
    async with desk.world.rt.database.transaction(tenant_id=p.tenant_id) as db:
        row = await db.get(Message, m.id)
        assert row is not None and row.deleted_at is not None and row.body_enc
    # owners (moderators) delete others' channel posts
    other = await desk.as_(
        "sam", messaging.post_in_channel, desk.general_id, MessageCreate(text="spam")
    )
    await desk.as_("olivia", messaging.delete_message, other.id)


async def test_reactions_and_pins(desk: Desk) -> None:
    m = await desk.as_(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="vote")
    )
    await desk.as_("sam", messaging.react, m.id, "like", True)
    await desk.as_("gus", messaging.react, m.id, "like", True)
    r = await desk.as_("gus", messaging.react, m.id, "heart", True)
    assert [(x.kind, x.count, x.me) for x in r.reactions] == [("heart", 1, True), ("like", 2, True)]
    r = await desk.as_("sam", messaging.react, m.id, "like", False)
    assert [(x.kind, x.count, x.me) for x in r.reactions] == [
        ("heart", 1, False),
        ("like", 1, False),
    ]
    # channel pins are for owners and moderators
    assert isinstance(await desk.fails("mia", messaging.pin, m.id, True), Forbidden)
    await desk.as_("olivia", messaging.pin, m.id, True)
    assert [x.id for x in await desk.as_("gus", messaging.pinned, "channel", desk.general_id)] == [
        m.id
    ]
    chat = await desk.as_("mia", messaging.create_chat, ChatCreate(members=[desk.world.id("sam")]))
    c = await desk.as_("mia", messaging.send_in_chat, chat.id, MessageCreate(text="keep"))
    await desk.as_("sam", messaging.pin, c.id, True)
    assert [x.id for x in await desk.as_("mia", messaging.pinned, "chat", chat.id)] == [c.id]


async def test_bodies_are_encrypted_at_rest(desk: Desk) -> None:
    secret = "the acquisition of Northwind closes Friday"
    m = await desk.as_(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text=secret)
    )
    other = await desk.as_(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="x")
    )
    p = desk.p("mia")
    async with desk.world.rt.database.transaction(tenant_id=p.tenant_id) as db:
        row = await db.get(Message, m.id)
        assert row is not None
        assert b"Northwind" not in row.body_enc and b"acquisition" not in row.body_enc
        assert (await views.open_body(db, p.tenant_id, m.id, 1, row.body_enc))["text"] == secret
        # a body copied onto another message does not open (the ids are in the aad)
        with pytest.raises(Exception, match=r"(?i)decrypt|tag|authentic"):
            await views.open_body(db, p.tenant_id, other.id, 1, row.body_enc)


async def test_every_send_is_audited_without_its_content(desk: Desk) -> None:
    m = await desk.as_(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="confidential words")
    )
    p = desk.p("mia")
    async with desk.world.rt.database.transaction(tenant_id=p.tenant_id) as db:
        rec = await db.scalar(select(AuditRecord).where(AuditRecord.target_id == str(m.id)))
    assert rec is not None and rec.action == "message.send" and rec.actor_id == p.user_id
    assert "confidential" not in str(rec.details)


async def test_the_content_gate_sees_every_send_and_edit(desk: Desk) -> None:
    seen: list[tuple[str, str]] = []

    def spy(_p: object, content: content_gate.Content) -> content_gate.Verdict:
        seen.append((content.channel.value, content.text))
        if "forbidden-word" in content.text:
            return content_gate.Verdict(content_gate.VerdictKind.BLOCK, ("test rule",))
        return content_gate.Verdict()

    content_gate.register("test-spy", spy)
    try:
        m = await desk.as_(
            "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="fine")
        )
        await desk.as_("mia", messaging.edit_message, m.id, MessageEdit(text="still fine"))
        err = await desk.fails(
            "mia",
            messaging.post_in_channel,
            desk.general_id,
            MessageCreate(text="a forbidden-word"),
        )
        assert isinstance(err, Forbidden) and err.audit is not None
    finally:
        content_gate.unregister("test-spy")
    assert seen == [
        ("message", "fine"),
        ("message_edit", "still fine"),
        ("message", "a forbidden-word"),
    ]
    assert len(await desk.as_("mia", messaging.channel_posts, desk.general_id)) == 1
