"""audit: the database links each appended record into its tenant's chain

Appends go to the view ``audit_appends``; its INSTEAD OF INSERT trigger reads and locks
the tenant's chain head, sets ``seq`` and ``prev_hash``, computes the link hash
SHA-256(prev_hash ":" seq ":" body_hash), inserts the record and moves the head, all
inside the one INSERT statement. Records written before this revision have no
``body_hash`` and keep their whole-record hash (``overleg.audit.chain`` verifies both).

SQLite has no SHA-256 function: every connection of ours registers ``overleg_sha256``
(``overleg.kernel.db.session``), so an append through any other client fails instead of
breaking the chain.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 20:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GENESIS = "0" * 64
# Columns the application supplies; the trigger adds seq, prev_hash and hash.
_COLUMNS = (
    "id",
    "tenant_id",
    "at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "details",
    "body_hash",
)
# The statements below are built from these constants only (hence the S608 waivers).
_COLS = ", ".join(_COLUMNS)
_NEW = ", ".join(f"NEW.{c}" for c in _COLUMNS)

_VIEW = f"CREATE VIEW audit_appends AS SELECT {_COLS} FROM audit_records"  # noqa: S608

_SQLITE_TRIGGER = f"""
CREATE TRIGGER audit_appends_chain INSTEAD OF INSERT ON audit_appends
BEGIN
    INSERT OR IGNORE INTO audit_chain_heads (tenant_id, seq, last_hash)
        VALUES (NEW.tenant_id, 0, '{_GENESIS}');
    INSERT INTO audit_records ({_COLS}, seq, prev_hash, hash)
        SELECT {_NEW}, h.seq + 1, h.last_hash,
               overleg_sha256(h.last_hash || ':' || (h.seq + 1) || ':' || NEW.body_hash)
        FROM audit_chain_heads AS h WHERE h.tenant_id = NEW.tenant_id;
    UPDATE audit_chain_heads
        SET seq = seq + 1,
            last_hash = (SELECT r.hash FROM audit_records AS r WHERE r.id = NEW.id)
        WHERE tenant_id = NEW.tenant_id;
END
"""  # noqa: S608

_PG_FUNCTION = f"""
CREATE FUNCTION audit_appends_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash varchar(64);
    link varchar(64);
BEGIN
    INSERT INTO audit_chain_heads (tenant_id, seq, last_hash)
        VALUES (NEW.tenant_id, 0, '{_GENESIS}') ON CONFLICT (tenant_id) DO NOTHING;
    SELECT seq, last_hash INTO head_seq, head_hash
        FROM audit_chain_heads WHERE tenant_id = NEW.tenant_id FOR UPDATE;
    head_seq := head_seq + 1;
    link := encode(sha256(convert_to(
        head_hash || ':' || head_seq::text || ':' || NEW.body_hash, 'UTF8')), 'hex');
    INSERT INTO audit_records ({_COLS}, seq, prev_hash, hash)
        VALUES ({_NEW}, head_seq, head_hash, link);
    UPDATE audit_chain_heads SET seq = head_seq, last_hash = link
        WHERE tenant_id = NEW.tenant_id;
    RETURN NEW;
END
$$
"""  # noqa: S608

_PG_TRIGGER = """
CREATE TRIGGER audit_appends_chain INSTEAD OF INSERT ON audit_appends
    FOR EACH ROW EXECUTE FUNCTION audit_appends_chain()
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_hash", sa.String(length=64), nullable=True))
    op.execute(_VIEW)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SQLITE_TRIGGER)
    else:
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        op.execute("DROP TRIGGER audit_appends_chain ON audit_appends")
        op.execute("DROP FUNCTION audit_appends_chain()")
    op.execute("DROP VIEW audit_appends")  # drops its SQLite trigger with it
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.drop_column("body_hash")
