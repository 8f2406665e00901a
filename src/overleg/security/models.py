"""Sign-in state: sessions and throttling counters. Private to ``overleg.security``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class UserSession(IdMixin, CreatedMixin, TenantScoped, Base):
    """A signed-in session. Only the SHA-256 of its token is stored."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    # active | mfa_pending (password ok, second factor missing) | mfa_enrol (must enrol first)
    state: Mapped[str] = mapped_column(String(12))
    mfa_at: Mapped[datetime | None]
    #: authentication methods used (RFC 8176 values, space separated): "pwd", "pwd otp"
    amr: Mapped[str] = mapped_column(String(40), default="pwd")
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(100))


class SignInThrottle(Base):
    """Failure counters per key ("acct:<id>", "acctip:<id>:<ip>", "ip:<ip>").

    Not tenant-owned: an IP's counter spans tenants, and it must be readable before the
    tenant of the sign-in is known.
    """

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]
