"""Audit rows. Private to ``overleg.audit`` and the migrations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, IdMixin, TenantScoped
from overleg.kernel.db.types import UTCDateTime


class AuditRecord(IdMixin, TenantScoped, Base):
    """One audited event, written only through ``audit_appends`` (see ``overleg.audit.chain``).

    ``body_hash`` = SHA-256 over the canonical event; ``hash`` = SHA-256 over
    ``prev_hash:seq:body_hash``, set by the database. Records from before revision 0002
    have no ``body_hash``; their ``hash`` covers the whole canonical record.
    """

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq", name="tenant_seq"),
        Index("ix_audit_records_tenant_at", "tenant_id", "at"),
        Index("ix_audit_records_tenant_action", "tenant_id", "action"),
    )

    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(10))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(TenantScoped, Base):
    """The newest link of a tenant's chain. Its row lock serialises appends per tenant,
    and it lets ``verify`` notice records cut off the end of the chain."""

    __tablename__ = "audit_chain_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


# The append path: a view over audit_records whose INSTEAD OF INSERT trigger (migration
# 0002) assigns seq, prev_hash and hash and moves the head in the same statement. It is
# kept out of ``Base.metadata``: it is no table to create, truncate or map.
audit_appends = Table(
    "audit_appends",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid),
    Column("at", UTCDateTime(timezone=True)),
    Column("actor_type", String(20)),
    Column("actor_id", Uuid),
    Column("actor_label", String(320)),
    Column("action", String(100)),
    Column("target_type", String(50)),
    Column("target_id", String(100)),
    Column("outcome", String(10)),
    Column("ip", String(64)),
    Column("user_agent", String(512)),
    Column("request_id", String(64)),
    Column("details", JSON),
    Column("body_hash", String(64)),
)
