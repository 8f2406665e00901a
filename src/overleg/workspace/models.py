"""Workspace rows. Private to ``overleg.workspace`` (and ``overleg.messaging``) and the
migrations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class Team(IdMixin, CreatedMixin, TenantScoped, Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(String(1024), default="")
    privacy: Mapped[str] = mapped_column(String(10))  # public | private
    created_by: Mapped[uuid.UUID | None]
    # settings (as in Teams: Manage team > Settings > Member / Guest permissions, @mentions)
    members_can_create_channels: Mapped[bool] = mapped_column(default=True)
    guests_can_create_channels: Mapped[bool] = mapped_column(default=False)
    allow_team_mentions: Mapped[bool] = mapped_column(default=True)
    allow_channel_mentions: Mapped[bool] = mapped_column(default=True)
    archived_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]  # soft-deleted; purged by a job later


class TeamMember(TenantScoped, Base):
    __tablename__ = "team_members"

    team_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10))  # owner | member | guest
    joined_at: Mapped[datetime]


class Channel(IdMixin, CreatedMixin, TenantScoped, Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("team_id", "name", name="team_channel_name"),)

    team_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(String(1024), default="")
    kind: Mapped[str] = mapped_column(String(10))  # standard | private
    is_general: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[uuid.UUID | None]
    # moderation (standard channels other than General only)
    new_post_policy: Mapped[str] = mapped_column(String(30), default="everyone")
    reply_policy: Mapped[str] = mapped_column(String(30), default="everyone")
    allow_bots: Mapped[bool] = mapped_column(default=True)
    allow_connectors: Mapped[bool] = mapped_column(default=True)
    archived_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class ChannelMember(TenantScoped, Base):
    """Members of a private channel (standard channels have the team's members)."""

    __tablename__ = "channel_members"

    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10))  # owner | member
    joined_at: Mapped[datetime]
    #: the member reads the channel from this moment (None: its whole history)
    history_from: Mapped[datetime | None]


class ChannelModerator(TenantScoped, Base):
    """Moderators added to a channel. Team owners are moderators without a row."""

    __tablename__ = "channel_moderators"

    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
