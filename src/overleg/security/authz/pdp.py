"""The policy decision point: pure, deny by default.

``decide`` looks only at the principal, the action and the resource's attributes; it does
no I/O, so it is cheap and fully unit-tested. Enforcement (raising, auditing) lives in
``enforce``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from overleg.kernel.clock import now
from overleg.security.authz.actions import ADMIN_ACTIONS, Action
from overleg.security.authz.roles import permitted
from overleg.security.principal import ADMIN_ROLES, Principal, PrincipalKind, Role


@dataclass(frozen=True)
class Resource:
    """What an action is about. ``tenant_id`` None means "the principal's own tenant"."""

    type: str
    id: str | None = None
    tenant_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    #: roles held by a target user, for rules such as "user admins cannot touch admins"
    target_roles: frozenset[Role] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    step_up: bool = False  # denied only because a fresh second factor is missing


ALLOW = Decision(True, "allowed")


def decide(
    principal: Principal,
    action: Action | str,
    resource: Resource | None = None,
    *,
    step_up_minutes: int = 15,
) -> Decision:
    try:
        act = Action(action)
    except ValueError:
        return Decision(False, f"unknown action {action!r}")
    if resource and resource.tenant_id is not None and resource.tenant_id != principal.tenant_id:
        return Decision(False, "resource belongs to another tenant")
    if principal.kind is PrincipalKind.OPERATOR:
        return ALLOW
    if principal.kind is PrincipalKind.SYSTEM:
        return ALLOW if act is not Action.TENANT_CREATE else Decision(False, "operator only")
    if principal.kind is not PrincipalKind.USER:
        return Decision(False, "not signed in")
    if act not in permitted(principal.roles):
        return Decision(False, f"no role grants {act.value}")
    if (
        act is not Action.USER_READ
        and resource is not None
        and resource.target_roles & ADMIN_ROLES
        and Role.GLOBAL_ADMIN not in principal.roles
    ):
        return Decision(False, "only a global admin may act on an admin account")
    if act in ADMIN_ACTIONS:
        fresh_after = now() - timedelta(minutes=step_up_minutes)
        if principal.mfa_at is None or principal.mfa_at < fresh_after:
            return Decision(
                False,
                f"admin actions need a second factor in the last {step_up_minutes} minutes",
                step_up=True,
            )
    return ALLOW
