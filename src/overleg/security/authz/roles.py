"""Role -> permitted actions. Least privilege, modelled on Microsoft 365's admin roles:

- global admin: everything in the tenant;
- security admin: security policy, sessions, audit; cannot read content, cannot manage users;
- compliance admin: audit and content for compliance; cannot change users or policy;
- user admin: users, groups, MFA resets of non-admins; no policy, no audit, no content.
"""

from __future__ import annotations

from overleg.security.authz.actions import Action as A
from overleg.security.principal import Role

_SELF = frozenset({A.SELF_READ, A.SELF_SESSIONS, A.SELF_MFA, A.SELF_PASSWORD})

PERMISSIONS: dict[Role, frozenset[A]] = {
    Role.MEMBER: _SELF
    | {
        A.DIRECTORY_READ,
        A.TEAM_CREATE,
        A.TEAM_DISCOVER,
        A.CHAT_CREATE,
        A.WORKSPACE_USE,
        A.MEETING_CREATE,
        A.MEETING_JOIN,
    },
    # guests take part where they were added and join meetings, but schedule none and
    # create nothing (as in Teams)
    Role.GUEST: _SELF | {A.WORKSPACE_USE, A.MEETING_JOIN},
    Role.USER_ADMIN: frozenset(
        {
            A.TENANT_READ,
            A.USER_READ,
            A.USER_CREATE,
            A.USER_UPDATE,
            A.USER_DISABLE,
            A.USER_ENABLE,
            A.USER_DELETE,
            A.USER_RESET_MFA,
            A.GROUP_READ,
            A.GROUP_MANAGE,
            A.SESSION_READ_ANY,
            A.SESSION_REVOKE_ANY,
        }
    ),
    Role.SECURITY_ADMIN: frozenset(
        {
            A.TENANT_READ,
            A.USER_READ,
            A.GROUP_READ,
            A.SESSION_READ_ANY,
            A.SESSION_REVOKE_ANY,
            A.POLICY_READ,
            A.POLICY_MANAGE,
            A.AUDIT_READ,
            A.AUDIT_EXPORT,
            A.AUDIT_VERIFY,
            A.KEYS_ROTATE,
            A.ALERT_READ,
            A.ALERT_MANAGE,
            A.FILE_QUARANTINE,
            A.STATUS_READ,
        }
    ),
    Role.COMPLIANCE_ADMIN: frozenset(
        {
            A.TENANT_READ,
            A.USER_READ,
            A.GROUP_READ,
            A.POLICY_READ,
            A.AUDIT_READ,
            A.AUDIT_EXPORT,
            A.AUDIT_VERIFY,
            A.CONTENT_READ_COMPLIANCE,
            A.ALERT_READ,
        }
    ),
    Role.GLOBAL_ADMIN: frozenset(A) - {A.TENANT_CREATE},
}


def permitted(roles: frozenset[Role]) -> frozenset[A]:
    out: frozenset[A] = frozenset()
    for r in roles:
        out |= PERMISSIONS.get(r, frozenset())
    return out
