"""search: keyed blind index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import overleg.kernel.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``overleg.search.models.CompactUuid``: native uuid on PostgreSQL, 16 raw bytes on SQLite.
COMPACT_UUID = sa.Uuid().with_variant(sa.LargeBinary(16), "sqlite")


def upgrade() -> None:
    op.create_table(
        "search_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", overleg.kernel.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_search_keys")),
    )
    op.create_table(
        "search_documents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", COMPACT_UUID, nullable=False),
        sa.Column("container_type", sa.String(length=10), nullable=False),
        sa.Column("container_id", COMPACT_UUID, nullable=False),
        sa.Column("author_id", COMPACT_UUID, nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("has_attachment", sa.Boolean(), nullable=False),
        sa.Column("terms", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "message_id", name=op.f("pk_search_documents")),
    )
    op.create_index(
        "ix_search_documents_recent",
        "search_documents",
        ["tenant_id", "created_us", "message_id"],
    )
    op.create_index(
        "ix_search_documents_container",
        "search_documents",
        ["tenant_id", "container_id", "created_us"],
    )
    op.create_index(
        "ix_search_documents_author",
        "search_documents",
        ["tenant_id", "author_id", "created_us"],
    )
    op.create_table(
        "search_postings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("term", sa.LargeBinary(length=16), nullable=False),
        sa.Column("created_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", COMPACT_UUID, nullable=False),
        sa.Column("positions", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "term", "created_us", "message_id", name=op.f("pk_search_postings")
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("search_postings")
    op.drop_index("ix_search_documents_author", table_name="search_documents")
    op.drop_index("ix_search_documents_container", table_name="search_documents")
    op.drop_index("ix_search_documents_recent", table_name="search_documents")
    op.drop_table("search_documents")
    op.drop_table("search_keys")
