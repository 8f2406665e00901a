"""Messaging rows. Private to ``overleg.messaging`` and the migrations.

Bodies are sealed with the tenant's data key (``KeyService.encrypt``); the associated data
binds a body to its tenant, message and version, so a sealed body copied onto another row
does not open.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class Chat(IdMixin, CreatedMixin, TenantScoped, Base):
    __tablename__ = "chats"

    kind: Mapped[str] = mapped_column(String(10))  # one_on_one | group
    topic: Mapped[str | None] = mapped_column(String(250))  # a named group chat
    #: for 1:1 chats the two user ids, sorted and joined: one chat per pair
    pair_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    created_by: Mapped[uuid.UUID | None]


class ChatMember(TenantScoped, Base):
    __tablename__ = "chat_members"

    chat_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime]
    #: the member sees messages from this moment on (None: the whole history)
    history_from: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    last_read_at: Mapped[datetime | None]
    last_read_message_id: Mapped[uuid.UUID | None]


class Message(IdMixin, CreatedMixin, TenantScoped, Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_container_created", "container_type", "container_id", "created_at"),
        Index("ix_messages_thread", "thread_root_id"),
    )

    container_type: Mapped[str] = mapped_column(String(10))  # channel | chat
    container_id: Mapped[uuid.UUID]
    #: a reply in a channel thread points at its post; posts and chat messages have None
    thread_root_id: Mapped[uuid.UUID | None]
    author_id: Mapped[uuid.UUID | None]
    subject: Mapped[str | None] = mapped_column(String(250))  # channel posts may have one
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed {"text": ..., "html": ...}
    version: Mapped[int] = mapped_column(Integer, default=1)
    mentions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)  # file ids
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]  # hidden from users, kept for compliance
    deleted_by: Mapped[uuid.UUID | None]
    pinned_at: Mapped[datetime | None]
    pinned_by: Mapped[uuid.UUID | None]


class MessageVersion(TenantScoped, Base):
    """Every earlier body of an edited message, kept for compliance."""

    __tablename__ = "message_versions"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    written_at: Mapped[datetime]
    replaced_at: Mapped[datetime]
    replaced_by: Mapped[uuid.UUID | None]


class Reaction(TenantScoped, Base):
    __tablename__ = "reactions"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime]


class ChannelReadState(TenantScoped, Base):
    __tablename__ = "channel_read_states"

    channel_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_read_at: Mapped[datetime]
