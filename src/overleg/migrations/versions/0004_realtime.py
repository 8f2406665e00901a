"""realtime: outbox, WebSocket tickets, presence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import overleg.kernel.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_heads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_outbox_heads")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("created_at", overleg.kernel.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name=op.f("pk_outbox_events")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_events_created_at", ["created_at"], unique=False)

    op.create_table(
        "socket_tickets",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", overleg.kernel.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", overleg.kernel.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", overleg.kernel.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_sessions.id"],
            name=op.f("fk_socket_tickets_session_id_user_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_socket_tickets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_socket_tickets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_socket_tickets_token_hash")),
    )
    with op.batch_alter_table("socket_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_socket_tickets_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_socket_tickets_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "user_presence",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("availability", sa.String(length=20), nullable=False),
        sa.Column("updated_at", overleg.kernel.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_presence_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_presence")),
    )
    with op.batch_alter_table("user_presence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_presence_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_presence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_presence_tenant_id"))
    op.drop_table("user_presence")
    with op.batch_alter_table("socket_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_socket_tickets_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_socket_tickets_expires_at"))
    op.drop_table("socket_tickets")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_created_at")
    op.drop_table("outbox_events")
    op.drop_table("outbox_heads")
