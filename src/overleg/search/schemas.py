"""What the search index is told about a message, and what a searcher may read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SearchDocument:
    """The filterable facts of one message or file (its text is passed separately, never
    stored). A file: ``kind="file"``, its id as ``message_id``, its uploader as author."""

    tenant_id: uuid.UUID
    message_id: uuid.UUID
    container_type: str  # "channel" | "chat"
    container_id: uuid.UUID
    author_id: uuid.UUID | None
    created_at: datetime
    has_attachment: bool
    kind: str = "message"  # "message" | "file"


@dataclass(frozen=True)
class Readable:
    """One container the searcher may read, from ``since`` on (None: its whole history).

    ``names`` are what ``in:`` matches (case-insensitive): for a channel its team's and its
    own name, for a chat its topic and members' names.
    """

    container_type: str
    container_id: uuid.UUID
    names: tuple[str, ...]
    since: datetime | None = None


@dataclass(frozen=True)
class SearchHit:
    """One message (or file: its id is ``message_id``) that matched a search; the caller
    loads and shows it."""

    message_id: uuid.UUID
    container_type: str
    container_id: uuid.UUID
    created_at: datetime
