"""Database rows of envelope encryption: wrapped data keys and per-tenant key state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class TenantDataKey(IdMixin, CreatedMixin, TenantScoped, Base):
    """One version of a tenant's data key (DEK), wrapped by the tenant's KEK.

    New data is sealed with the newest non-retired version; retired versions stay for
    reading what was written with them. ``wrapped`` is useless without the KEK named by
    ``kek_id`` in ``provider``.
    """

    __tablename__ = "tenant_data_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    version: Mapped[int]
    kek_id: Mapped[str] = mapped_column(String(200))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    provider: Mapped[str] = mapped_column(String(20))
    retired_at: Mapped[datetime | None]


class TenantKeyState(TenantScoped, Base):
    """The tenant's current KEK, and whether the tenant's keys were shredded (for good)."""

    __tablename__ = "tenant_key_states"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(200))
    kek_version: Mapped[int]
    shredded_at: Mapped[datetime | None]


def dek_aad(tenant_id: uuid.UUID, version: int) -> bytes:
    """AAD binding a wrapped DEK to its tenant and version, so rows cannot be swapped."""
    return f"overleg-dek:{tenant_id}:{version}".encode()
