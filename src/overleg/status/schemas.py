"""Status DTOs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ComponentName = Literal["database", "redis", "janus", "clamd"]
ComponentState = Literal["ok", "down", "not_configured"]


class ComponentStatus(BaseModel):
    """One dependency as this server node sees it now."""

    component: ComponentName
    instance: str | None = Field(
        default=None, description="which one, where there may be several (Janus instances)"
    )
    state: ComponentState
    detail: str | None = Field(
        default=None,
        description="the version that answered, or in a few words why it did not "
        "(never an address or a secret)",
    )
    latency_ms: int | None = Field(default=None, description="how long the answer took")


class ServiceStatus(BaseModel):
    checked_at: datetime
    #: every check is bounded by this many seconds, so a hung service cannot hang the answer
    timeout_seconds: float
    components: list[ComponentStatus]
