"""Realtime rows: WebSocket tickets and presence. Private to ``overleg.realtime`` and the
migrations. Importing this module also registers the outbox tables of
``overleg.kernel.events`` (the migrations import one module for both)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped
from overleg.kernel.events import models as outbox_models

__all__ = ["SocketTicket", "UserPresence", "outbox_models"]


class SocketTicket(IdMixin, CreatedMixin, TenantScoped, Base):
    """A single-use, short-lived ticket to open the event socket without the session
    cookie. Only the SHA-256 of the ticket is stored; it works on any node."""

    __tablename__ = "socket_tickets"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE")
    )
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class UserPresence(TenantScoped, Base):
    """The availability a user chose. Whether they are online is not stored: it is derived
    from their open connections (memory or Redis), see ``overleg.realtime.presence``."""

    __tablename__ = "user_presence"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    #: available | busy | do_not_disturb | away | offline (appear offline)
    availability: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime]
