"""Declarative base for every model, and the mixins that mark tenant-owned rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overleg.kernel.clock import now
from overleg.kernel.db.types import UTCDateTime
from overleg.kernel.ids import new_id

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class CreatedMixin:
    created_at: Mapped[datetime] = mapped_column(default=now)


class TenantScoped:
    """Rows owned by one tenant. Sessions opened for a tenant see and write only its rows.

    The filter is applied by ``overleg.kernel.db.tenancy`` to every ORM query; code never
    has to remember ``where(tenant_id == ...)``.
    """

    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
