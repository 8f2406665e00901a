"""Recording DTOs. Write models forbid unknown fields; a new expiry must have a time zone,
lie in the future and at most ``MAX_EXPIRY_DAYS`` ahead (else 422)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from overleg.kernel.clock import now
from overleg.kernel.schemas import InputModel

#: as far ahead as an expiry may be set (Teams: 99,999 days)
MAX_EXPIRY_DAYS = 99_999

State = Literal["recording", "processing", "ready", "failed", "recycled", "purged"]


def check_expiry(value: datetime | None) -> datetime | None:
    """A new expiry: None (never), or a moment in the next ``MAX_EXPIRY_DAYS`` days."""
    if value is None:
        return None
    t = now()
    if value <= t:
        raise ValueError("must be in the future (or null: never expires)")
    if value > t + timedelta(days=MAX_EXPIRY_DAYS):
        raise ValueError(f"must be at most {MAX_EXPIRY_DAYS:,} days ahead")
    return value


class RecordingRights(BaseModel):
    """What the caller may do with the recording."""

    view: bool
    download: bool
    manage: bool = Field(description="give and take access, change expiry, delete, restore")


class RecordingFilePublic(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    display_name: str | None = Field(description="the recorded person (from the manifest)")
    feed: str = Field(description="camera | screen")
    media: str = Field(description="audio | video")
    content_type: str
    size: int
    started_at: datetime
    ended_at: datetime


class RecordingPerson(BaseModel):
    """Someone of whom something was recorded (people not recorded are not listed)."""

    participant_id: uuid.UUID
    display_name: str
    user_id: uuid.UUID | None
    ranges: list[tuple[datetime, datetime]]


class RecordingPublic(BaseModel):
    id: uuid.UUID
    meeting_id: uuid.UUID
    subject: str | None
    state: State
    started_at: datetime
    stopped_at: datetime | None
    expires_at: datetime | None = Field(description="null: never expires")
    recycled_at: datetime | None
    purged_at: datetime | None
    files: list[RecordingFilePublic]
    people: list[RecordingPerson]
    my_rights: RecordingRights


class RecordingAccessEntry(BaseModel):
    """An owner's explicit choice for one person."""

    user_id: uuid.UUID
    display_name: str | None
    kind: str | None = Field(description="member | guest (null: account deleted)")
    allowed: bool = Field(description="true: may view; false: may not, even if invited")
    by: str
    at: datetime


class RecordingAccessSet(InputModel):
    allowed: bool


class RecordingUpdate(InputModel):
    """A recording's owner changes when it expires."""

    expires_at: AwareDatetime | None = Field(
        description=f"in the future, at most {MAX_EXPIRY_DAYS:,} days ahead; null: never"
    )

    @field_validator("expires_at")
    @classmethod
    def _expiry(cls, value: datetime | None) -> datetime | None:
        return check_expiry(value)


class RecordingRestore(InputModel):
    """Bring a recycled recording back. One whose expiry has passed needs a new one."""

    expires_at: AwareDatetime | None = Field(
        default=None,
        description="a new expiry (null: never); required when the old one has passed",
    )

    @field_validator("expires_at")
    @classmethod
    def _expiry(cls, value: datetime | None) -> datetime | None:
        return check_expiry(value)
