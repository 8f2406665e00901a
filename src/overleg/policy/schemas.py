"""Typed tenant policies. Each kind has a schema and a default used until a version exists."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MfaPolicy(BaseModel):
    """Who must use a second factor at sign-in."""

    model_config = ConfigDict(extra="forbid")

    require: Literal["all", "admins", "off"] = Field(
        default="admins",
        description="all: every user; admins: anyone holding an admin role; off: nobody",
    )
    allow_recovery_codes: bool = True


POLICY_KINDS: dict[str, type[BaseModel]] = {"mfa": MfaPolicy}


class PolicyVersion(BaseModel):
    kind: str
    version: int
    body: dict[str, Any]
    created_at: datetime | None
    created_by: str | None
