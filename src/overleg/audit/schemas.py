"""Audit DTOs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from overleg.kernel.schemas import InputModel


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class AuditEntry(BaseModel):
    """What a service asks to be recorded. Actor fields come from the principal."""

    model_config = ConfigDict(frozen=True)

    tenant_id: uuid.UUID
    action: str
    outcome: Outcome = Outcome.SUCCESS
    target_type: str | None = None
    target_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    actor_type: str
    actor_id: uuid.UUID | None = None
    actor_label: str
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


class AuditRecordPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    seq: int
    at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    actor_label: str
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditQuery(InputModel):
    actor: str | None = Field(default=None, description="actor id or e-mail/label")
    action: str | None = Field(default=None, description="exact action, or a prefix ending in '.'")
    target: str | None = Field(default=None, description="target id")
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = Field(default=None, ge=0, description="cursor: records after this seq")
    limit: int = Field(default=100, ge=1, le=1000)


class AuditPage(BaseModel):
    records: list[AuditRecordPublic]
    next_after_seq: int | None


class VerifyResult(BaseModel):
    tenant_id: uuid.UUID
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    first_bad_id: uuid.UUID | None = None
    reason: str | None = None
