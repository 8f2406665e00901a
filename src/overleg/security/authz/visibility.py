"""The read filter: what a principal may see of things it is allowed to list.

Every list and search endpoint and every realtime fan-out asks here, so that "may I
see this?" has one answer. Tenant isolation itself is enforced lower down, by the
session-level tenant scope; these rules narrow further inside a tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol, TypeVar

from overleg.security.principal import Principal, PrincipalKind


class DirectoryEntry(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...


E = TypeVar("E", bound=DirectoryEntry)


def can_see_user(principal: Principal, entry: DirectoryEntry) -> bool:
    """Members see the tenant's directory; guests see only themselves (as in Teams, where
    guests cannot browse the organisation's directory); admins see everyone."""
    if entry.tenant_id != principal.tenant_id:
        return False
    if principal.kind in (PrincipalKind.OPERATOR, PrincipalKind.SYSTEM) or principal.is_admin:
        return True
    if principal.kind is not PrincipalKind.USER:
        return False
    if principal.is_guest:
        return entry.id == principal.user_id
    return True


def visible_users(principal: Principal, entries: Iterable[E]) -> list[E]:
    return [e for e in entries if can_see_user(principal, e)]
