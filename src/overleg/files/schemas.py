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


class FileSearchResults(BaseModel):
    """A file search: the query as given and the matching files, newest upload first."""

    query: str
    files: list[FilePublic]


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


# --- sharing ------------------------------------------------------------------------------

ShareRole = Literal["view", "edit"]
LinkAudience = Literal["people", "anyone"]


class ShareSet(InputModel):
    """``view``: see and open the file; ``edit``: also upload new versions and rename it."""

    role: ShareRole


class SharePublic(BaseModel):
    file_id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    role: ShareRole
    by: str = Field(description="who shared it (for a link: who made the link)")
    at: datetime
    via_link: uuid.UUID | None = Field(
        default=None,
        description="reaches the file through this sharing link, redeemed at `at` "
        "(None: shared by name)",
    )


class SharedFilePublic(FilePublic):
    """A file shared with the caller by name, or reached through a link they redeemed."""

    role: ShareRole
    shared_by: str
    shared_at: datetime
    via_link: uuid.UUID | None = Field(
        default=None, description="through this sharing link (None: shared by name)"
    )


class LinkCreate(InputModel):
    """A sharing link, where the organisation's policy allows it. ``people``: people of the
    organisation who are signed in (not guests); ``anyone``: whoever has the link (only
    when the policy allows such links). Without ``expires_at`` the link lives as long as the
    policy's ``link_max_days`` allows (for ever only when the policy sets no limit)."""

    role: ShareRole = "view"
    audience: LinkAudience = "people"
    expires_at: datetime | None = None
    password: str | None = Field(
        default=None,
        min_length=8,
        max_length=256,
        description="asked for when the link is used (header X-Link-Password)",
    )


class LinkPublic(BaseModel):
    """A sharing link as its file's managers see it (never its token)."""

    id: uuid.UUID
    file_id: uuid.UUID
    role: ShareRole
    audience: LinkAudience
    expires_at: datetime | None
    has_password: bool
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    state: Literal["active", "expired", "revoked"]


class LinkCreated(LinkPublic):
    token: str = Field(description="shown once: only its hash is kept")
    url: str = Field(description="the path that opens the link (GET, with /content: download)")


class LinkView(BaseModel):
    """What a sharing link shows to whoever uses it."""

    name: str
    size: int
    content_type: str
    state: ScanState = Field(description="only a clean file opens through a link")
    version: int
    updated_at: datetime
    role: ShareRole
    audience: LinkAudience
    expires_at: datetime | None
    content_url: str


# --- managing -----------------------------------------------------------------------------


class VersionPublic(BaseModel):
    number: int
    size: int
    content_type: str
    state: ScanState
    uploaded_by: uuid.UUID
    uploaded_at: datetime
    current: bool
    restored_from: int | None = Field(
        default=None,
        description="this version is a restore of that older version (same content)",
    )


class FileRename(InputModel):
    name: str = Field(min_length=1, max_length=255)


class FileMove(InputModel):
    """Another channel of the same team."""

    container_id: uuid.UUID


class DeletedFilePublic(FilePublic):
    """A file in its place's recycle bin."""

    deleted_at: datetime
    deleted_by: str | None
    purge_after: datetime = Field(description="restorable until then; purged for good after")
