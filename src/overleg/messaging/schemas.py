"""Messaging DTOs. Write models forbid unknown fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from overleg.kernel.schemas import InputModel

#: limits (documented in docs/messaging.md): Teams allows about 28 KB per message
MAX_TEXT = 28_000
MAX_SUBJECT = 250
MAX_ATTACHMENTS = 20
MAX_GROUP_CHAT = 250
REACTIONS = ("like", "heart", "laugh", "surprised", "sad", "angry")
Reaction = Literal["like", "heart", "laugh", "surprised", "sad", "angry"]


class MessageCreate(InputModel):
    # Markdown is whitespace-sensitive (indented code, line breaks): keep the text as sent.
    model_config = ConfigDict(str_strip_whitespace=False)

    text: str = Field(
        max_length=MAX_TEXT,
        description="Markdown. Mention people as @their.address@example.org; @channel and "
        "@team where the team allows them.",
        examples=["Draft is ready, @mia@contoso.example please review"],
    )
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT)
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)

    @field_validator("text")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a message needs some text")
        return v

    @field_validator("subject")
    @classmethod
    def _subject(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class MessageEdit(InputModel):
    model_config = ConfigDict(str_strip_whitespace=False)

    text: str = Field(max_length=MAX_TEXT)

    _not_empty = field_validator("text")(MessageCreate._not_empty.__func__)  # type: ignore[attr-defined]


class MessagePreview(BaseModel):
    """How a text will look once sent: the HTML the server would store and show."""

    html: str


class Mention(BaseModel):
    kind: Literal["user", "channel", "team"]
    id: uuid.UUID
    text: str


class ReactionCount(BaseModel):
    kind: str
    count: int
    me: bool


class MessagePublic(BaseModel):
    id: uuid.UUID
    container_type: Literal["channel", "chat"]
    container_id: uuid.UUID
    thread_root_id: uuid.UUID | None
    author_id: uuid.UUID | None
    created_at: datetime
    subject: str | None = None
    #: None when deleted
    text: str | None
    html: str | None
    mentions: list[Mention]
    attachments: list[uuid.UUID]
    edited: bool
    edited_at: datetime | None
    deleted: bool
    pinned: bool
    reactions: list[ReactionCount]
    reply_count: int = 0


class ChatCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"members": ["01936f5e-0000-7000-8000-000000000002"]},
                {
                    "members": [
                        "01936f5e-0000-7000-8000-000000000002",
                        "01936f5e-0000-7000-8000-000000000003",
                    ],
                    "topic": "Launch",
                },
            ]
        }
    )

    members: list[uuid.UUID] = Field(
        min_length=1,
        max_length=MAX_GROUP_CHAT - 1,
        description="The other people (one for a 1:1 chat). The caller is added.",
    )
    topic: str | None = Field(default=None, min_length=1, max_length=250)


class ChatUpdate(InputModel):
    topic: str | None = Field(min_length=1, max_length=250)


class ChatMembersAdd(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "members": ["01936f5e-0000-7000-8000-000000000004"],
                    "share_history": "days",
                    "days": 7,
                }
            ]
        }
    )

    members: list[uuid.UUID] = Field(min_length=1, max_length=MAX_GROUP_CHAT)
    share_history: Literal["none", "all", "days"] = "none"
    days: int | None = Field(default=None, ge=1, le=365)


class ChatMemberPublic(BaseModel):
    user_id: uuid.UUID
    display_name: str
    joined_at: datetime
    last_read_message_id: uuid.UUID | None
    last_read_at: datetime | None


class ChatPublic(BaseModel):
    id: uuid.UUID
    kind: Literal["one_on_one", "group"]
    topic: str | None
    created_at: datetime
    members: list[ChatMemberPublic]
    unread_count: int = 0


class ReadMark(InputModel):
    message_id: uuid.UUID


class SearchResults(BaseModel):
    query: str
    messages: list[MessagePublic]
