"""The moderation matrix as a table: who may start a post and who may reply, for every
setting and role (Teams' semantics; see overleg.workspace.rules)."""

from __future__ import annotations

import itertools

import pytest

from overleg.workspace.rules import (
    Moderation,
    NewPostPolicy,
    ReplyPolicy,
    SenderKind,
    TeamRole,
    is_moderator,
    may_change_moderation,
    may_create_channel,
    may_manage_moderators,
    may_reply,
    may_start_post,
)

# (role, listed as moderator) -> name
PEOPLE = {
    "owner": (TeamRole.OWNER, False),
    "moderator": (TeamRole.MEMBER, True),
    "member": (TeamRole.MEMBER, False),
    "guest": (TeamRole.GUEST, False),
    "guest-moderator": (TeamRole.GUEST, True),
    "outsider": (None, False),
}

# new_post_policy -> who may start a post
START = {
    NewPostPolicy.EVERYONE: {"owner", "moderator", "member", "guest", "guest-moderator"},
    NewPostPolicy.EVERYONE_EXCEPT_GUESTS: {"owner", "moderator", "member"},
    NewPostPolicy.MODERATORS: {"owner", "moderator", "guest-moderator"},
}
# reply_policy -> who may reply to someone else's post (authors may always reply to theirs)
REPLY = {
    ReplyPolicy.EVERYONE: {"owner", "moderator", "member", "guest", "guest-moderator"},
    ReplyPolicy.AUTHOR_AND_MODERATORS: {"owner", "moderator", "guest-moderator"},
}


@pytest.mark.parametrize(("policy", "who"), list(itertools.product(NewPostPolicy, PEOPLE)), ids=str)
def test_who_starts_a_post(policy: NewPostPolicy, who: str) -> None:
    role, listed = PEOPLE[who]
    v = may_start_post(
        Moderation(new_post_policy=policy), role, moderator=is_moderator(role, listed)
    )
    assert v.allowed is (who in START[policy]), v
    assert v.allowed or v.reason


@pytest.mark.parametrize(
    ("policy", "who", "author"),
    list(itertools.product(ReplyPolicy, PEOPLE, (False, True))),
    ids=str,
)
def test_who_replies(policy: ReplyPolicy, who: str, author: bool) -> None:
    role, listed = PEOPLE[who]
    v = may_reply(
        Moderation(reply_policy=policy),
        role,
        moderator=is_moderator(role, listed),
        is_post_author=author,
    )
    expected = who != "outsider" and (who in REPLY[policy] or author)
    assert v.allowed is expected, v


@pytest.mark.parametrize("on", [False, True])
@pytest.mark.parametrize("bots", [False, True])
@pytest.mark.parametrize("sender", [SenderKind.BOT, SenderKind.CONNECTOR])
def test_bots_and_connectors_count_only_with_moderation_on(
    on: bool, bots: bool, sender: SenderKind
) -> None:
    m = Moderation(
        new_post_policy=NewPostPolicy.MODERATORS if on else NewPostPolicy.EVERYONE,
        allow_bots=bots,
        allow_connectors=bots,
    )
    v = may_start_post(m, TeamRole.MEMBER, moderator=False, sender=sender)
    assert v.allowed is (bots or not on)
    r = may_reply(m, TeamRole.MEMBER, moderator=False, is_post_author=False, sender=sender)
    assert r.allowed is (bots or not on)


def test_owners_are_always_moderators() -> None:
    assert is_moderator(TeamRole.OWNER, False)
    assert not is_moderator(TeamRole.MEMBER, False)
    assert not is_moderator(None, True)


def test_who_manages_moderation() -> None:
    assert may_change_moderation(TeamRole.OWNER).allowed
    assert not may_change_moderation(TeamRole.MEMBER).allowed
    assert may_manage_moderators(TeamRole.MEMBER, moderator=True).allowed
    assert may_manage_moderators(TeamRole.OWNER, moderator=False).allowed
    assert not may_manage_moderators(TeamRole.MEMBER, moderator=False).allowed
    assert not may_manage_moderators(TeamRole.GUEST, moderator=False).allowed


@pytest.mark.parametrize(
    ("role", "members_can", "guests_can", "allowed"),
    [
        (TeamRole.OWNER, False, False, True),
        (TeamRole.MEMBER, True, False, True),
        (TeamRole.MEMBER, False, True, False),
        (TeamRole.GUEST, True, False, False),
        (TeamRole.GUEST, False, True, True),
        (None, True, True, False),
    ],
)
def test_who_creates_channels(
    role: TeamRole | None, members_can: bool, guests_can: bool, allowed: bool
) -> None:
    assert (
        may_create_channel(role, members_can=members_can, guests_can=guests_can).allowed is allowed
    )
