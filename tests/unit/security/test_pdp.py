"""The decision point: deny by default, roles, tenants, admin targets, step-up."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.kernel.clock import now
from overleg.security.authz.actions import ADMIN_ACTIONS, Action
from overleg.security.authz.pdp import Resource, decide
from overleg.security.authz.roles import PERMISSIONS
from overleg.security.principal import (
    Principal,
    PrincipalKind,
    Role,
    anonymous,
    for_tenant,
    operator,
    system,
)

TENANT = uuid.uuid4()
OTHER = uuid.uuid4()


def user(*roles: Role, mfa_age: timedelta | None = timedelta(0)) -> Principal:
    base = {Role.GUEST} if Role.GUEST in roles else {Role.MEMBER}
    return Principal(
        kind=PrincipalKind.USER,
        tenant_id=TENANT,
        label="x@example.org",
        user_id=uuid.uuid4(),
        roles=frozenset(base | set(roles)),
        mfa_at=None if mfa_age is None else now() - mfa_age,
    )


def test_unknown_action_is_denied_even_for_the_operator() -> None:
    d = decide(operator("root"), "teleport.everyone")
    assert not d.allowed and "unknown action" in d.reason


def test_anonymous_is_denied_everything() -> None:
    anon = anonymous("192.0.2.1", None, None)
    assert not any(decide(anon, a).allowed for a in Action)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_permissions(role: Role) -> None:
    p = user(role)
    granted = {a for a in Action if decide(p, a).allowed}
    base = PERMISSIONS[Role.GUEST if role is Role.GUEST else Role.MEMBER]
    assert granted == set(PERMISSIONS[role] | base)


def test_least_privilege_split_of_admin_roles() -> None:
    sec, comp, uadm = user(Role.SECURITY_ADMIN), user(Role.COMPLIANCE_ADMIN), user(Role.USER_ADMIN)
    assert not decide(sec, Action.CONTENT_READ_COMPLIANCE).allowed  # security admin: no content
    assert not decide(sec, Action.USER_CREATE).allowed
    assert decide(comp, Action.CONTENT_READ_COMPLIANCE).allowed
    assert not decide(comp, Action.USER_UPDATE).allowed  # compliance admin: no user changes
    assert not decide(comp, Action.POLICY_MANAGE).allowed
    assert decide(uadm, Action.USER_RESET_MFA).allowed
    assert not decide(uadm, Action.AUDIT_READ).allowed
    assert not decide(uadm, Action.USER_ASSIGN_ROLES).allowed
    assert not any(decide(user(r), Action.TENANT_CREATE).allowed for r in Role)


def test_guests_cannot_read_the_directory() -> None:
    assert decide(user(), Action.DIRECTORY_READ).allowed
    assert not decide(user(Role.GUEST), Action.DIRECTORY_READ).allowed


def test_resources_of_another_tenant_are_denied_to_everyone() -> None:
    foreign = Resource("user", "1", tenant_id=OTHER)
    assert not decide(user(Role.GLOBAL_ADMIN), Action.USER_READ, foreign).allowed
    assert not decide(for_tenant(operator("root"), TENANT), Action.USER_READ, foreign).allowed
    assert decide(for_tenant(operator("root"), OTHER), Action.USER_READ, foreign).allowed


def test_only_global_admins_act_on_admin_accounts() -> None:
    target = Resource("user", "1", tenant_id=TENANT, target_roles=frozenset({Role.SECURITY_ADMIN}))
    assert not decide(user(Role.USER_ADMIN), Action.USER_RESET_MFA, target).allowed
    assert decide(user(Role.USER_ADMIN), Action.USER_READ, target).allowed
    assert decide(user(Role.GLOBAL_ADMIN), Action.USER_RESET_MFA, target).allowed


@pytest.mark.parametrize("age", [None, timedelta(minutes=16)])
def test_admin_actions_need_a_recent_second_factor(age: timedelta | None) -> None:
    d = decide(user(Role.GLOBAL_ADMIN, mfa_age=age), Action.USER_CREATE, step_up_minutes=15)
    assert not d.allowed and d.step_up
    assert decide(
        user(Role.GLOBAL_ADMIN, mfa_age=timedelta(minutes=14)), Action.USER_CREATE
    ).allowed


def test_self_service_needs_no_step_up() -> None:
    assert decide(user(mfa_age=None), Action.SELF_SESSIONS).allowed
    assert Action.SELF_SESSIONS not in ADMIN_ACTIONS and Action.USER_READ in ADMIN_ACTIONS


def test_system_principal_may_not_create_tenants() -> None:
    assert not decide(system(), Action.TENANT_CREATE).allowed
    assert decide(system(TENANT), Action.AUDIT_READ).allowed


@given(st.text(min_size=1, max_size=40))
def test_any_string_that_is_not_an_action_is_denied(name: str) -> None:
    if name in {a.value for a in Action}:
        return
    assert not decide(user(Role.GLOBAL_ADMIN), name).allowed
