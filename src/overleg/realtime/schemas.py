"""Realtime DTOs: socket tickets, presence, purge results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Availability = Literal["available", "busy", "do_not_disturb", "away", "offline"]


class TicketIssued(BaseModel):
    """A single-use ticket for ``/api/v1/events?ticket=...``; valid for ``expires_in`` s."""

    ticket: str
    expires_at: datetime
    expires_in: int = Field(examples=[60])


class PresenceUpdate(BaseModel):
    """The availability the user chooses. ``offline`` means "appear offline"; ``away`` is
    only ever set by the user, never inferred from idleness."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"availability": "busy"}]}
    )

    availability: Availability


class PresencePublic(BaseModel):
    """What the caller may see of someone's presence. ``availability`` is what everyone who
    may see the user sees ("offline" without an open connection); ``chosen`` is the user's
    own choice, shown to the user only."""

    user_id: uuid.UUID
    availability: Availability
    chosen: Availability | None = None


class PurgeResult(BaseModel):
    events: int
    tickets: int
