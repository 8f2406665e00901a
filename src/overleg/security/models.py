"""Sign-in state: sessions, throttling counters, passkeys and their ceremonies' challenges.
Private to ``overleg.security``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
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


class Passkey(IdMixin, CreatedMixin, TenantScoped, Base):
    """A user's WebAuthn credential: its public key (COSE) and last signature counter.

    The private key never leaves the authenticator. ``credential_id`` is unique across the
    server, so a passwordless sign-in finds its tenant from the credential alone.
    """

    __tablename__ = "passkeys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: the authenticator's signature counter (32 bits unsigned: wider than a SQL integer)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the WebAuthn user handle given at registration (random; the same for all of a user's)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary)
    #: the relying party id (a host name) the credential is scoped to
    rp_id: Mapped[str] = mapped_column(String(253))
    aaguid: Mapped[str] = mapped_column(String(36))
    transports: Mapped[str] = mapped_column(String(200), default="")  # comma separated
    #: a synced ("multi-device") passkey rather than one bound to a single authenticator
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    last_used_at: Mapped[datetime | None]


class WebAuthnChallenge(IdMixin, CreatedMixin, Base):
    """A challenge handed out for one WebAuthn ceremony: single-use, short-lived.

    Bound to a session (registration, second factor, step-up) or, for a passwordless
    sign-in, to the hash of a random handle the client got with the options. Not
    tenant-owned: a passwordless sign-in has no tenant until its credential is presented.
    """

    __tablename__ = "webauthn_challenges"

    purpose: Mapped[str] = mapped_column(String(12))  # register | session | sign_in
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True
    )
    handle_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: registration: the user handle the options gave the authenticator
    user_handle: Mapped[bytes | None] = mapped_column(LargeBinary)
    rp_id: Mapped[str] = mapped_column(String(253))
    origin: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[datetime] = mapped_column(index=True)
