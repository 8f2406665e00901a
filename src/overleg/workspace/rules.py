"""Pure workspace rules: who may post, reply, manage a team or a channel. No I/O.

They follow what IT admins know from Microsoft Teams:

- Team roles are ``owner``, ``member`` and ``guest`` (a guest account is always a team
  guest). A team always keeps at least one owner.
- Channel moderation exists for standard channels other than General. ``new_post_policy``
  ``everyone`` | ``everyone_except_guests`` | ``moderators`` ("moderation on"): who may start
  a post. ``reply_policy`` ``everyone`` | ``author_and_moderators``: who may reply to a post.
  ``allow_bots`` and ``allow_connectors`` are consulted only when moderation is on.
- Team owners are always moderators (and cannot be removed as such); owners and moderators
  add and remove moderators, who must be team members; members read the settings, only
  owners change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TeamRole(StrEnum):
    OWNER = "owner"
    MEMBER = "member"
    GUEST = "guest"


class NewPostPolicy(StrEnum):
    EVERYONE = "everyone"
    EVERYONE_EXCEPT_GUESTS = "everyone_except_guests"
    MODERATORS = "moderators"


class ReplyPolicy(StrEnum):
    EVERYONE = "everyone"
    AUTHOR_AND_MODERATORS = "author_and_moderators"


class SenderKind(StrEnum):
    PERSON = "person"
    BOT = "bot"
    CONNECTOR = "connector"


@dataclass(frozen=True)
class Moderation:
    new_post_policy: NewPostPolicy = NewPostPolicy.EVERYONE
    reply_policy: ReplyPolicy = ReplyPolicy.EVERYONE
    allow_bots: bool = True
    allow_connectors: bool = True

    @property
    def on(self) -> bool:
        return self.new_post_policy is NewPostPolicy.MODERATORS


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


YES = Verdict(True)


def is_moderator(role: TeamRole | None, listed_moderator: bool) -> bool:
    """Owners always are; others when listed."""
    return role is TeamRole.OWNER or (role is not None and listed_moderator)


def may_start_post(
    m: Moderation,
    role: TeamRole | None,
    *,
    moderator: bool,
    sender: SenderKind = SenderKind.PERSON,
) -> Verdict:
    """May this team member (``role`` None: not a member) start a new post?"""
    if role is None:
        return Verdict(False, "only team members post in this channel")
    if sender is not SenderKind.PERSON and m.on:
        allowed = m.allow_bots if sender is SenderKind.BOT else m.allow_connectors
        return YES if allowed else Verdict(False, f"{sender.value}s may not post here")
    if m.new_post_policy is NewPostPolicy.MODERATORS and not moderator:
        return Verdict(False, "only moderators start new posts in this channel")
    if m.new_post_policy is NewPostPolicy.EVERYONE_EXCEPT_GUESTS and role is TeamRole.GUEST:
        return Verdict(False, "guests may not start new posts in this channel")
    return YES


def may_reply(
    m: Moderation,
    role: TeamRole | None,
    *,
    moderator: bool,
    is_post_author: bool,
    sender: SenderKind = SenderKind.PERSON,
) -> Verdict:
    """May this team member reply to a post?"""
    if role is None:
        return Verdict(False, "only team members reply in this channel")
    if sender is not SenderKind.PERSON and m.on:
        allowed = m.allow_bots if sender is SenderKind.BOT else m.allow_connectors
        return YES if allowed else Verdict(False, f"{sender.value}s may not post here")
    if m.reply_policy is ReplyPolicy.AUTHOR_AND_MODERATORS and not (moderator or is_post_author):
        return Verdict(False, "only the post's author and moderators reply in this channel")
    return YES


def may_create_channel(role: TeamRole | None, *, members_can: bool, guests_can: bool) -> Verdict:
    if role is TeamRole.OWNER:
        return YES
    if role is TeamRole.MEMBER and members_can:
        return YES
    if role is TeamRole.GUEST and guests_can:
        return YES
    if role is None:
        return Verdict(False, "only team members create channels")
    return Verdict(False, f"team {role.value}s may not create channels in this team")


def may_manage_moderators(role: TeamRole | None, *, moderator: bool) -> Verdict:
    if is_moderator(role, moderator):
        return YES
    return Verdict(False, "only team owners and moderators manage moderators")


def may_change_moderation(role: TeamRole | None) -> Verdict:
    if role is TeamRole.OWNER:
        return YES
    return Verdict(False, "only team owners change channel moderation")
