"""Versioned tenant policies. A change writes a new version; old versions stay as history."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class TenantPolicy(IdMixin, CreatedMixin, TenantScoped, Base):
    __tablename__ = "tenant_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "version", name="tenant_kind_version"),)

    kind: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_by_id: Mapped[uuid.UUID | None]
