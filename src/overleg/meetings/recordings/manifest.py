"""The manifest of a recording: who was recorded, in which time ranges, in which files.

It is stored sealed next to the files (it names people) and shown to whoever may view the
recording. People who were in the meeting but not recorded (declined, excluded by the
organizer, never agreed) do not appear in it at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_id: uuid.UUID
    feed: str = Field(description="camera | screen")
    media: str = Field(description="audio | video")
    content_type: str = Field(examples=["video/webm", "audio/ogg"])
    codec: str = Field(examples=["vp8", "opus"])
    started_at: datetime
    ended_at: datetime
    size: int
    sha256: str


class ManifestPerson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: uuid.UUID
    display_name: str
    user_id: uuid.UUID | None = None
    #: the time ranges in which something of this person was recorded (merged over files)
    ranges: list[tuple[datetime, datetime]]
    files: list[ManifestFile]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recording_id: uuid.UUID
    meeting_id: uuid.UUID
    subject: str
    started_at: datetime
    stopped_at: datetime
    people: list[ManifestPerson]


def merge_ranges(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching ranges joined, in order."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class RecordingProcessing(BaseModel):
    """A recording as an admin sees it while it is (or failed) being post-processed."""

    id: uuid.UUID
    meeting_id: uuid.UUID
    state: str
    started_at: datetime
    stopped_at: datetime | None
    attempts: int
    error: str | None
    raw_files: int = Field(description="raw segments still on disk, waiting or kept")
