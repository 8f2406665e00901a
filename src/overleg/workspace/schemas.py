"""Workspace DTOs. Write models forbid unknown fields (typos are errors, not no-ops)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from overleg.kernel.schemas import InputModel
from overleg.workspace.rules import NewPostPolicy, ReplyPolicy, TeamRole

# Teams refuses these characters in channel names; we do the same (they break links).
_CHANNEL_NAME_FORBIDDEN = re.compile(r"[~#%&*{}+/\\:<>?|'\".]|^_|^\.|\.$")
Privacy = Literal["public", "private"]


class TeamSettings(InputModel):
    members_can_create_channels: bool = True
    guests_can_create_channels: bool = False
    allow_team_mentions: bool = True
    allow_channel_mentions: bool = True


class TeamCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Sales",
                    "description": "Deals and forecasts",
                    "privacy": "private",
                    "settings": {"guests_can_create_channels": False, "allow_team_mentions": True},
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=256, examples=["Sales"])
    description: str = Field(default="", max_length=1024)
    privacy: Privacy = "private"
    settings: TeamSettings = Field(default_factory=TeamSettings)


class TeamUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    privacy: Privacy | None = None
    settings: TeamSettings | None = None


class TeamPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    privacy: str
    created_at: datetime
    archived: bool
    settings: TeamSettings
    #: the caller's role in the team (None: not a member, e.g. a public team to join)
    my_role: TeamRole | None = None
    general_channel_id: uuid.UUID | None = None


class MemberAdd(InputModel):
    user_id: uuid.UUID
    role: Literal["owner", "member"] = "member"


class MemberRole(InputModel):
    role: Literal["owner", "member"]


class TeamMemberPublic(BaseModel):
    user_id: uuid.UUID
    display_name: str
    email: str
    role: TeamRole
    joined_at: datetime


def _channel_name(v: str) -> str:
    if _CHANNEL_NAME_FORBIDDEN.search(v):
        raise ValueError("must not contain ~ # % & * { } + / \\ : < > ? | ' \" or dots")
    if v.casefold() == "general":
        raise ValueError("General is the team's own channel")
    return v


class ChannelCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Quarterly review", "kind": "standard"},
                {
                    "name": "Board",
                    "kind": "private",
                    "members": ["01936f5e-0000-7000-8000-000000000002"],
                },
            ]
        }
    )

    name: str = Field(min_length=1, max_length=50, examples=["Quarterly review"])
    description: str = Field(default="", max_length=1024)
    kind: Literal["standard", "private"] = "standard"
    #: private channels: further team members to add (the creator becomes its owner)
    members: list[uuid.UUID] = Field(default_factory=list, max_length=250)

    _name = field_validator("name")(_channel_name)


class ChannelUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=1024)

    @field_validator("name")
    @classmethod
    def _n(cls, v: str | None) -> str | None:
        return None if v is None else _channel_name(v)


class ModerationSettings(InputModel):
    """See docs/channel-moderation.md."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "new_post_policy": "moderators",
                    "reply_policy": "author_and_moderators",
                    "allow_bots": False,
                    "allow_connectors": True,
                }
            ]
        }
    )

    new_post_policy: NewPostPolicy = NewPostPolicy.EVERYONE
    reply_policy: ReplyPolicy = ReplyPolicy.EVERYONE
    allow_bots: bool = True
    allow_connectors: bool = True


class ModerationPublic(ModerationSettings):
    moderation_on: bool
    #: listed moderators; team owners are moderators too and are listed in ``owners``
    moderators: list[uuid.UUID]
    owners: list[uuid.UUID]


class ModeratorAdd(InputModel):
    user_id: uuid.UUID


class ChannelMemberAdd(InputModel):
    user_id: uuid.UUID
    #: False (default): the newcomer reads from now on; True: the whole history
    share_history: bool = False


class ChannelPublic(BaseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    name: str
    description: str
    kind: str
    is_general: bool
    archived: bool
    created_at: datetime
    moderation_on: bool
    unread_count: int = 0
