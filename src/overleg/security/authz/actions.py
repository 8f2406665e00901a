"""Every action a service can authorize. A string not in this enum is denied."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    # self-service
    SELF_READ = "self.read"
    SELF_SESSIONS = "self.sessions"
    SELF_MFA = "self.mfa"
    SELF_PASSWORD = "self.password"  # noqa: S105 (an action name)
    # directory
    DIRECTORY_READ = "directory.read"
    # collaboration: what a person may do at all; team and chat roles decide the rest
    TEAM_CREATE = "team.create"
    TEAM_DISCOVER = "team.discover"  # see and join the tenant's public teams
    CHAT_CREATE = "chat.create"
    WORKSPACE_USE = "workspace.use"  # take part in the teams, channels and chats one is in
    WORKSPACE_PURGE = "workspace.purge"  # remove deleted teams for good (jobs, operator)
    # meetings: organising needs a member account; meeting roles decide the rest
    MEETING_CREATE = "meeting.create"
    MEETING_JOIN = "meeting.join"  # join the organisation's meetings with one's own account
    DIAL_IN_MANAGE = "dial_in.manage"  # credentials of dial-in (PSTN/SIP) gateways
    RECORDING_MANAGE = "recording.manage"  # failed post-processing: look, retry
    ALERT_READ = "alert.read"
    FILE_QUARANTINE = "file.quarantine"  # see, release, delete, rescan quarantined files
    ALERT_MANAGE = "alert.manage"  # resolve alerts
    # tenant administration
    TENANT_CREATE = "tenant.create"
    TENANT_READ = "tenant.read"
    TENANT_UPDATE = "tenant.update"
    DOMAIN_MANAGE = "domain.manage"
    USER_READ = "user.read"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_DELETE = "user.delete"
    USER_RESET_MFA = "user.reset_mfa"
    USER_ASSIGN_ROLES = "user.assign_roles"
    GROUP_READ = "group.read"
    GROUP_MANAGE = "group.manage"
    SESSION_READ_ANY = "session.read_any"
    SESSION_REVOKE_ANY = "session.revoke_any"
    POLICY_READ = "policy.read"
    POLICY_MANAGE = "policy.manage"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    AUDIT_VERIFY = "audit.verify"
    KEYS_ROTATE = "keys.rotate"
    STATUS_READ = "status.read"  # whether the services Overleg needs answer
    CONTENT_READ_COMPLIANCE = "content.read_compliance"


#: Actions that change who can do what or read everything; they need a fresh MFA step-up.
ADMIN_ACTIONS = frozenset(
    a
    for a in Action
    if a
    not in {
        Action.SELF_READ,
        Action.SELF_SESSIONS,
        Action.SELF_MFA,
        Action.SELF_PASSWORD,
        Action.DIRECTORY_READ,
        Action.TEAM_CREATE,
        Action.TEAM_DISCOVER,
        Action.CHAT_CREATE,
        Action.WORKSPACE_USE,
        Action.MEETING_CREATE,
        Action.MEETING_JOIN,
    }
)
