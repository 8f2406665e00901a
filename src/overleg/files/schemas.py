"""File DTOs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from overleg.kernel.schemas import InputModel

ContainerType = Literal["channel", "chat", "user"]
ScanState = Literal["scan_pending", "clean", "infected", "scan_failed"]


class UploadStart(InputModel):
    """Where the file goes (``user``: one's own files, ``container_id`` = one's user id),
    its name and its exact size. ``file_id``: a new version of that file instead."""

    container_type: ContainerType
    container_id: uuid.UUID
    name: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0)
    file_id: uuid.UUID | None = None


class UploadPublic(BaseModel):
    id: uuid.UUID
    size: int
    part_size: int = Field(description="send parts of exactly this size (the last shorter)")
    parts: int
    received: list[int] = Field(description="the part numbers stored so far")
    expires_at: datetime


class Finding(BaseModel):
    engine: str = Field(description="clamav | yara | macros | archive | pipeline")
    name: str
    detail: str | None = None
    severity: str = Field(default="infected", description="infected | failed | warning")


class FilePublic(BaseModel):
    id: uuid.UUID
    container_type: ContainerType
    container_id: uuid.UUID
    name: str
    size: int
    content_type: str
    state: ScanState = Field(
        description="scan_pending: only the uploader may open it; clean: everyone who sees "
        "it; infected: quarantined; scan_failed: blocked until an admin rescans it"
    )
    version: int
    owner_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class QuarantinedPublic(BaseModel):
    """A quarantined (or scan-failed) version, as a security admin sees it: no name."""

    file_id: uuid.UUID
    version_id: uuid.UUID
    version: int
    container_type: ContainerType
    container_id: uuid.UUID
    uploaded_by: uuid.UUID
    uploaded_at: datetime
    size: int
    content_type: str
    scan_state: ScanState
    findings: list[Finding]
    scanned_at: datetime | None


class QuarantineDecision(InputModel):
    action: Literal["release", "delete", "rescan"]
