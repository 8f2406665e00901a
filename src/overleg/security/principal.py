"""Who is acting. Built once per request (or job, or CLI call) and passed to every service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from overleg.audit.chain import SYSTEM_TENANT


class Role(StrEnum):
    MEMBER = "member"
    GUEST = "guest"
    GLOBAL_ADMIN = "global_admin"
    SECURITY_ADMIN = "security_admin"
    COMPLIANCE_ADMIN = "compliance_admin"
    USER_ADMIN = "user_admin"


ADMIN_ROLES = frozenset(
    {Role.GLOBAL_ADMIN, Role.SECURITY_ADMIN, Role.COMPLIANCE_ADMIN, Role.USER_ADMIN}
)


class PrincipalKind(StrEnum):
    USER = "user"
    OPERATOR = "operator"  # a person at the server's CLI
    SYSTEM = "system"  # background jobs
    ANONYMOUS = "anonymous"
    #: someone in one meeting by a participant credential: an anonymous joiner, a dial-in
    #: caller, or a person signed in at another organisation (see overleg.meetings.credentials)
    PARTICIPANT = "participant"
    #: a dial-in (PSTN/SIP) gateway, accepted only by POST /api/v1/dial-in/calls
    GATEWAY = "gateway"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    tenant_id: uuid.UUID
    label: str
    user_id: uuid.UUID | None = None
    roles: frozenset[Role] = frozenset()
    session_id: uuid.UUID | None = None
    mfa_at: datetime | None = None
    #: how the session was authenticated (RFC 8176): ("pwd",) or ("pwd", "otp")
    amr: tuple[str, ...] = ()
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    device_id: str | None = None
    auth_method: str | None = None  # "cookie" | "bearer" | None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & ADMIN_ROLES)

    @property
    def is_guest(self) -> bool:
        return Role.GUEST in self.roles


def operator(label: str, tenant_id: uuid.UUID = SYSTEM_TENANT) -> Principal:
    """The person running ``overleg`` on the server, audited under their OS user name."""
    return Principal(kind=PrincipalKind.OPERATOR, tenant_id=tenant_id, label=f"operator:{label}")


def system(tenant_id: uuid.UUID = SYSTEM_TENANT, job: str = "job") -> Principal:
    return Principal(kind=PrincipalKind.SYSTEM, tenant_id=tenant_id, label=f"system:{job}")


def anonymous(ip: str | None, user_agent: str | None, request_id: str | None) -> Principal:
    return Principal(
        kind=PrincipalKind.ANONYMOUS,
        tenant_id=SYSTEM_TENANT,
        label="anonymous",
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
    )


def for_tenant(p: Principal, tenant_id: uuid.UUID) -> Principal:
    """An operator or system principal acting inside one tenant."""
    from dataclasses import replace

    if p.kind not in (PrincipalKind.OPERATOR, PrincipalKind.SYSTEM):
        raise ValueError("only operator and system principals change tenant")
    return replace(p, tenant_id=tenant_id)
