"""Alert DTOs. Details carry ids and reasons, never content."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from overleg.kernel.schemas import InputModel

Severity = Literal["low", "medium", "high"]
AlertStatus = Literal["open", "resolved"]
MAX_RESOLUTION = 500
MAX_LIMIT = 1000


class AlertPublic(BaseModel):
    """One alert as an administrator sees it in the queue."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    kind: str = Field(description="what happened, e.g. recording.processing_failed")
    severity: Severity
    title: str
    details: dict[str, Any] = Field(description="ids and reasons, never content")
    target_type: str | None = Field(description="what the alert is about, e.g. recording")
    target_id: str | None
    status: AlertStatus
    resolved_by: str | None = Field(description="who resolved it (e-mail or label)")
    resolved_at: datetime | None
    resolution: str | None = Field(description="the note left when it was resolved")


class AlertQuery(InputModel):
    """Filters of the alert queue."""

    status: AlertStatus | None = None
    kind: str | None = Field(default=None, max_length=60, description="exact kind")
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)


class AlertResolve(InputModel):
    resolution: str = Field(
        min_length=1,
        max_length=MAX_RESOLUTION,
        description="what was done about it (kept with the alert and in the audit log)",
        examples=["Recording re-processed after the disk was freed."],
    )
