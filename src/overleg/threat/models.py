"""Alert rows. Private to ``overleg.threat`` and the migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class Alert(IdMixin, CreatedMixin, TenantScoped, Base):
    """Something an administrator must look at (a recording that could not be processed,
    an infected upload, an anomaly). Details hold ids and reasons, never content."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_tenant_status_created", "tenant_id", "status", "created_at"),
    )

    kind: Mapped[str] = mapped_column(String(60))  # e.g. recording.processing_failed
    severity: Mapped[str] = mapped_column(String(8))  # low | medium | high
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | resolved
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(500))
