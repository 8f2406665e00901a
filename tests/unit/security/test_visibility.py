"""Directory visibility: guests see themselves only; other tenants see nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from overleg.security.authz.visibility import visible_users
from overleg.security.principal import Principal, PrincipalKind, Role

T = uuid.uuid4()


@dataclass
class Entry:
    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str


def who(role: Role, uid: uuid.UUID, tenant: uuid.UUID = T) -> Principal:
    return Principal(
        kind=PrincipalKind.USER, tenant_id=tenant, label="p", user_id=uid, roles=frozenset({role})
    )


def test_visibility_rules() -> None:
    a, b, c = (Entry(uuid.uuid4(), T, "member") for _ in range(3))
    foreign = Entry(uuid.uuid4(), uuid.uuid4(), "member")
    everyone = [a, b, c, foreign]
    assert visible_users(who(Role.MEMBER, a.id), everyone) == [a, b, c]
    assert visible_users(who(Role.GUEST, b.id), everyone) == [b]
    assert visible_users(who(Role.MEMBER, foreign.id, foreign.tenant_id), everyone) == [foreign]
