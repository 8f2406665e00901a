"""Outbox rows. Private to ``overleg.kernel.events`` and the migrations.

``outbox_heads`` holds each tenant's last handed-out event number; its row lock is what
orders a tenant's events (see ``outbox``). ``outbox_events`` holds the events themselves
for the retention time, so that a client that reconnects can catch up.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, TenantScoped


class OutboxHead(TenantScoped, Base):
    """The last event number of a tenant. Never decreases while events exist."""

    __tablename__ = "outbox_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class OutboxEvent(TenantScoped, Base):
    """One committed event, numbered ``seq`` within its tenant (1, 2, 3, ... without gaps,
    except for the oldest ones that were purged).

    ``data`` is the event's JSON text exactly as clients receive it. ``recipients`` lists
    the user ids it is addressed to as 32-digit hex, each surrounded by spaces
    (``" 0a1b... 9f8e... "``): fixed-width tokens, so ``LIKE '% <hex> %'`` finds one
    recipient's events on SQLite and PostgreSQL alike without false matches.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_created_at", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
