"""File rows. Private to ``overleg.files`` and the migrations.

A file lives in one container: a channel (its team's members, or a private channel's
members), a chat (its members) or a person's own files. Names are sealed with the
tenant's key like message bodies; contents are blobs of sealed parts in the object store.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class Blob(IdMixin, CreatedMixin, TenantScoped, Base):
    """The content of one file version: ``parts`` sealed objects of ``PART`` plaintext
    bytes each (the last one shorter) under ``blobs/<tenant>/<blob>/<n>``. Each part has
    its own key, derived from the blob's key, which is sealed with the tenant's key.

    ``complete`` is False while an upload is still sending parts; such a blob belongs to
    its upload session and is deleted with it when the session is aborted or expires.
    """

    __tablename__ = "file_blobs"

    size: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes (declared, then actual)
    parts: Mapped[int] = mapped_column(Integer)
    part_size: Mapped[int] = mapped_column(Integer)
    key_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: the part numbers stored so far (while uploading)
    received: Mapped[list[int]] = mapped_column(JSON, default=list)
    complete: Mapped[bool] = mapped_column(default=False)


class FileItem(IdMixin, CreatedMixin, TenantScoped, Base):
    """A file: its place, its name, and the state of its current version."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_container", "container_type", "container_id"),
        Index("ix_files_state", "state"),
    )

    container_type: Mapped[str] = mapped_column(String(8))  # channel | chat | user
    container_id: Mapped[uuid.UUID]
    #: for channel files: the team (files move only between channels of the same team)
    team_id: Mapped[uuid.UUID | None]
    owner_id: Mapped[uuid.UUID]  # who uploaded it first
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed {"name": ...}
    current_version_id: Mapped[uuid.UUID | None]
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    #: the current version's scan state: scan_pending | clean | infected | scan_failed
    state: Mapped[str] = mapped_column(String(12), default="scan_pending")
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(320))
    #: its search document is out of date (renamed, restored, released): the ``files.reindex``
    #: job indexes it again from its current version's name and text
    index_due: Mapped[bool] = mapped_column(default=False, index=True)
    #: why the purge keeps this deleted file past its recycle period (a retention policy or
    #: a legal hold), as last noted and audited; None when nothing holds it
    purge_held: Mapped[str | None] = mapped_column(String(500))


class FileVersion(IdMixin, TenantScoped, Base):
    """One uploaded version of a file, with what the scanners said about it."""

    __tablename__ = "file_versions"
    __table_args__ = (
        UniqueConstraint("file_id", "number", name="file_version_number"),
        Index("ix_file_versions_scan", "scan_state", "uploaded_at"),
    )

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    blob_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("file_blobs.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[uuid.UUID]
    uploaded_at: Mapped[datetime]
    #: scan_pending | clean | infected | scan_failed
    scan_state: Mapped[str] = mapped_column(String(12), default="scan_pending")
    #: [{"engine": ..., "name": ..., "detail": ...}]
    scan_findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scanned_at: Mapped[datetime | None]
    #: the signature databases' fingerprint the last scan used (a change means rescan)
    scan_fingerprint: Mapped[str | None] = mapped_column(String(64))
    scan_attempts: Mapped[int] = mapped_column(Integer, default=0)
    scan_claimed_until: Mapped[datetime | None]
    #: a security admin released it from quarantine (or deleted it)
    released_by: Mapped[str | None] = mapped_column(String(320))
    released_at: Mapped[datetime | None]
    #: uploaded through this sharing link by someone without an account of the organisation
    #: (``uploaded_by`` is then ``LINK_UPLOADER``)
    via_link_id: Mapped[uuid.UUID | None]
    #: copied from this version by a restore (it shares that version's blob)
    restored_from: Mapped[int | None] = mapped_column(Integer)


#: ``FileVersion.uploaded_by`` of a version uploaded through an "anyone" link by someone
#: who is not signed in to the organisation (``via_link_id`` says which link)
LINK_UPLOADER = uuid.UUID(int=0)


class UploadSession(IdMixin, CreatedMixin, TenantScoped, Base):
    """A resumable upload: parts arrive in any order and may be sent again; ``complete``
    turns the blob into a new file or a new version of ``file_id``."""

    __tablename__ = "file_uploads"

    user_id: Mapped[uuid.UUID] = mapped_column(index=True)
    container_type: Mapped[str] = mapped_column(String(8))
    container_id: Mapped[uuid.UUID]
    file_id: Mapped[uuid.UUID | None]  # a new version of this file
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    blob_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("file_blobs.id"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class FileShare(IdMixin, TenantScoped, Base):
    """A file shared with a named person of the organisation."""

    __tablename__ = "file_shares"
    __table_args__ = (UniqueConstraint("file_id", "user_id", name="file_share_user"),)

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(index=True)
    role: Mapped[str] = mapped_column(String(4))  # view | edit
    by: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]


class ShareLink(IdMixin, CreatedMixin, TenantScoped, Base):
    """A sharing link (only where the tenant's policy allows): SHA-256 of its token,
    optional expiry and password (argon2)."""

    __tablename__ = "file_links"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(4))  # view | edit
    #: people: signed-in people of the organisation; anyone: also guests and outsiders
    audience: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(320))
    revoked_at: Mapped[datetime | None]


class FileLinkGrant(IdMixin, TenantScoped, Base):
    """A person of the organisation who opened a sharing link while signed in: they reach
    the file with the link's role for as long as the link is active (revoking it, or its
    expiry, ends their access; SharePoint keeps such people in the link's group)."""

    __tablename__ = "file_link_grants"
    __table_args__ = (UniqueConstraint("link_id", "user_id", name="file_link_grant_user"),)

    link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("file_links.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(index=True)
    at: Mapped[datetime]
