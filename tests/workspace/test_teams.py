"""Teams and channels: privacy, roles, the last owner, archive and delete, visibility."""

from __future__ import annotations

import pytest

from overleg.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from overleg.messaging import service as messaging
from overleg.messaging.schemas import MessageCreate
from overleg.workspace import service as workspace
from overleg.workspace.rules import TeamRole
from overleg.workspace.schemas import (
    ChannelCreate,
    ChannelUpdate,
    MemberAdd,
    MemberRole,
    TeamCreate,
    TeamSettings,
    TeamUpdate,
)
from tests.workspace.conftest import Desk


async def test_a_new_team_has_its_owner_and_general(desk: Desk) -> None:
    team = await desk.as_("olivia", workspace.get_team, desk.team_id)
    assert team.my_role is TeamRole.OWNER and team.general_channel_id == desk.general_id
    members = await desk.as_("mia", workspace.list_members, desk.team_id)
    roles = {m.email.split("@")[0]: m.role for m in members}
    assert roles == {"olivia": "owner", "mia": "member", "sam": "member", "gus": "guest"}
    channels = await desk.as_("mia", messaging.team_channels, desk.team_id)
    assert [(c.name, c.is_general) for c in channels] == [("General", True)]


async def test_private_teams_are_invisible_to_outsiders(desk: Desk) -> None:
    for who in ("hank", "eve"):
        err = await desk.fails(who, workspace.get_team, desk.team_id)
        assert isinstance(err, NotFound) and err.audit is not None
        err = await desk.fails(who, messaging.channel_posts, desk.general_id)
        assert isinstance(err, NotFound)
    assert desk.team_id not in {t.id for t in await desk.as_("hank", workspace.discover_teams)}


async def test_public_teams_can_be_discovered_and_joined_but_not_by_guests(desk: Desk) -> None:
    pub = await desk.as_(
        "mia", workspace.create_team, TeamCreate(name="Running club", privacy="public")
    )
    assert pub.id in {t.id for t in await desk.as_("hank", workspace.discover_teams)}
    joined = await desk.as_("hank", workspace.join_team, pub.id)
    assert joined.my_role is TeamRole.MEMBER
    err = await desk.fails("hank", workspace.join_team, pub.id)
    assert isinstance(err, Conflict)
    assert isinstance(await desk.fails("gus", workspace.discover_teams), Forbidden)
    assert isinstance(await desk.fails("gus", workspace.join_team, pub.id), NotFound)
    assert isinstance(await desk.fails("eve", workspace.join_team, pub.id), NotFound)


async def test_guests_create_no_teams(desk: Desk) -> None:
    err = await desk.fails("gus", workspace.create_team, TeamCreate(name="Mine"))
    assert isinstance(err, Forbidden) and err.audit is not None


async def test_a_team_keeps_one_owner(desk: Desk) -> None:
    w = desk.world
    err = await desk.fails("olivia", workspace.leave_team, desk.team_id)
    assert isinstance(err, Conflict)
    err = await desk.fails(
        "olivia", workspace.set_member_role, desk.team_id, w.id("olivia"), MemberRole(role="member")
    )
    assert isinstance(err, Conflict)
    await desk.as_(
        "olivia", workspace.set_member_role, desk.team_id, w.id("mia"), MemberRole(role="owner")
    )
    await desk.as_("olivia", workspace.leave_team, desk.team_id)
    assert isinstance(await desk.fails("olivia", workspace.get_team, desk.team_id), NotFound)
    # a guest account stays a team guest
    err = await desk.fails(
        "mia", workspace.set_member_role, desk.team_id, w.id("gus"), MemberRole(role="owner")
    )
    assert isinstance(err, Conflict)


async def test_only_owners_manage_members_and_settings(desk: Desk) -> None:
    w = desk.world
    for who in ("mia", "gus"):
        err = await desk.fails(
            who, workspace.add_member, desk.team_id, MemberAdd(user_id=w.id("hank"))
        )
        assert isinstance(err, Forbidden) and err.audit is not None
        err = await desk.fails(who, workspace.update_team, desk.team_id, TeamUpdate(name="X"))
        assert isinstance(err, Forbidden)
        err = await desk.fails(who, workspace.remove_member, desk.team_id, w.id("sam"))
        assert isinstance(err, Forbidden)
    # people of another tenant are not found in this one
    err = await desk.fails(
        "olivia", workspace.add_member, desk.team_id, MemberAdd(user_id=w.id("eve"))
    )
    assert isinstance(err, NotFound)
    t = await desk.as_(
        "olivia",
        workspace.update_team,
        desk.team_id,
        TeamUpdate(settings=TeamSettings(members_can_create_channels=False)),
    )
    assert not t.settings.members_can_create_channels
    err = await desk.fails(
        "mia", workspace.create_channel, desk.team_id, ChannelCreate(name="Mine")
    )
    assert isinstance(err, Forbidden)
    err = await desk.fails(
        "gus", workspace.create_channel, desk.team_id, ChannelCreate(name="Mine")
    )
    assert isinstance(err, Forbidden)


async def test_private_channels_are_for_their_members(desk: Desk) -> None:
    w = desk.world
    board = await desk.as_(
        "olivia",
        workspace.create_channel,
        desk.team_id,
        ChannelCreate(name="Board", kind="private", members=[w.id("mia")]),
    )
    await desk.as_("mia", messaging.post_in_channel, board.id, MessageCreate(text="secret plan"))
    for who in ("sam", "gus", "hank", "eve"):
        err = await desk.fails(who, messaging.channel_posts, board.id)
        assert isinstance(err, NotFound), who
    names = {c.name for c in await desk.as_("sam", messaging.team_channels, desk.team_id)}
    assert "Board" not in names
    assert "Board" in {c.name for c in await desk.as_("mia", messaging.team_channels, desk.team_id)}
    # members must be team members
    err = await desk.fails("olivia", workspace.add_channel_member, board.id, w.id("hank"))
    assert isinstance(err, ValidationFailed)
    await desk.as_(
        "olivia", workspace.add_channel_member, board.id, w.id("sam"), share_history=True
    )
    assert len(await desk.as_("sam", messaging.channel_posts, board.id)) == 1
    # leaving the team takes sam out of its private channels too
    await desk.as_("sam", workspace.leave_team, desk.team_id)
    await desk.as_("olivia", workspace.add_member, desk.team_id, MemberAdd(user_id=w.id("sam")))
    assert isinstance(await desk.fails("sam", messaging.channel_posts, board.id), NotFound)


async def test_general_cannot_be_renamed_archived_or_deleted(desk: Desk) -> None:
    for fn, args in (
        (workspace.update_channel, (ChannelUpdate(name="Lobby"),)),
        (workspace.set_channel_archived, (True,)),
        (workspace.delete_channel, ()),
    ):
        err = await desk.fails("olivia", fn, desk.general_id, *args)
        assert isinstance(err, Conflict)


@pytest.mark.parametrize("name", ["General", "a/b", "x?", "dots.here", "_x"])
def test_channel_names_that_teams_refuses(name: str) -> None:
    with pytest.raises(ValueError):
        ChannelCreate(name=name)


async def test_archived_channels_and_teams_are_read_only(desk: Desk) -> None:
    ch = await desk.as_("olivia", workspace.create_channel, desk.team_id, ChannelCreate(name="Old"))
    post = await desk.as_("mia", messaging.post_in_channel, ch.id, MessageCreate(text="before"))
    await desk.as_("olivia", workspace.set_channel_archived, ch.id, True)
    err = await desk.fails("mia", messaging.post_in_channel, ch.id, MessageCreate(text="after"))
    assert isinstance(err, Conflict)
    err = await desk.fails(
        "mia", messaging.reply_in_channel, ch.id, post.id, MessageCreate(text="r")
    )
    assert isinstance(err, Conflict)
    assert [p.text for p in await desk.as_("mia", messaging.channel_posts, ch.id)] == ["before"]
    await desk.as_("olivia", workspace.set_channel_archived, ch.id, False)
    await desk.as_("olivia", workspace.set_team_archived, desk.team_id, True)
    err = await desk.fails(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="x")
    )
    assert isinstance(err, Conflict)


async def test_a_deleted_team_disappears(desk: Desk) -> None:
    assert isinstance(await desk.fails("mia", workspace.delete_team, desk.team_id), Forbidden)
    await desk.as_("olivia", workspace.delete_team, desk.team_id)
    for who in ("olivia", "mia"):
        assert await desk.as_(who, workspace.my_teams) == []
        assert isinstance(await desk.fails(who, messaging.channel_posts, desk.general_id), NotFound)


async def test_deleted_teams_are_purged_with_their_content(desk: Desk) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from overleg.audit.models import AuditRecord
    from overleg.messaging.models import Message
    from overleg.security.principal import for_tenant
    from overleg.workspace.models import Channel, Team
    from tests.fixtures.world import OPERATOR

    post = await desk.as_(
        "mia", messaging.post_in_channel, desk.general_id, MessageCreate(text="bye")
    )
    tenant = desk.p("olivia").tenant_id
    op = for_tenant(OPERATOR, tenant)
    # a member may not purge (global admins and the operator may)
    assert isinstance(await desk.fails("mia", workspace.purge_deleted_teams), Forbidden)
    await desk.as_("olivia", workspace.delete_team, desk.team_id)
    async with desk.world.rt.database.transaction(tenant_id=tenant) as db:
        # within the grace period nothing is purged
        assert await workspace.purge_deleted_teams(op, db) == []
    async with desk.world.rt.database.transaction(tenant_id=tenant) as db:
        assert await workspace.purge_deleted_teams(op, db, older_than=timedelta(0)) == [
            desk.team_id
        ]
    async with desk.world.rt.database.session(tenant_id=tenant, readonly=True) as db:
        for model in (Team, Channel, Message):
            assert await db.scalar(select(func.count()).select_from(model)) == 0, model
        rec = await db.scalar(select(AuditRecord).where(AuditRecord.action == "team.purge"))
        assert rec is not None and rec.target_id == str(desk.team_id)
        assert rec.details == {"channels": 1, "messages": 1}
    assert post.id


async def test_the_purge_job_covers_every_tenant(desk: Desk) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from overleg.audit.models import AuditRecord
    from overleg.workspace.jobs import purge_deleted_teams_everywhere

    await desk.as_("olivia", workspace.delete_team, desk.team_id)
    rt = desk.world.rt
    assert await purge_deleted_teams_everywhere(rt) == []  # still within 30 days
    purged = await purge_deleted_teams_everywhere(rt, older_than=timedelta(0))
    assert purged == [("contoso", desk.team_id)]
    async with rt.database.session(unscoped=True, readonly=True) as db:
        rec = await db.scalar(select(AuditRecord).where(AuditRecord.action == "team.purge"))
    assert rec is not None and rec.actor_label == "system:teams.purge"
