"""Enforcement: ``authorize`` raises on a deny and attaches the audit record of the denial.

The unit of work writes that record in its own transaction after the rollback, so the
denied attempt is audited even though nothing else of the request is kept.
"""

from __future__ import annotations

from overleg.audit.schemas import Outcome
from overleg.audit.service import with_audit
from overleg.kernel.errors import Forbidden, MfaRequired, NotFound
from overleg.security.authz.actions import Action
from overleg.security.authz.pdp import Resource, decide
from overleg.security.principal import Principal

#: set by bootstrap from settings; a module value because the PDP is pure and global
STEP_UP_MINUTES = 15


def authorize(principal: Principal, action: Action, resource: Resource | None = None) -> None:
    d = decide(principal, action, resource, step_up_minutes=STEP_UP_MINUTES)
    if d.allowed:
        return
    err: Forbidden | MfaRequired
    if d.step_up:
        err = MfaRequired(
            "Verify your second factor again (POST /api/v1/auth/step-up) to continue."
        )
    else:
        err = Forbidden(f"You may not do this: {d.reason}.")
    raise with_audit(
        err,
        principal,
        action.value,
        outcome=Outcome.DENIED,
        target_type=resource.type if resource else None,
        target_id=resource.id if resource else None,
        details={"reason": d.reason},
    )


def not_found_denied(
    principal: Principal, action: str, target_type: str, target_id: str
) -> NotFound:
    """The "not yours" answer: indistinguishable from missing, but audited as a denial."""
    return with_audit(
        NotFound(f"No {target_type} with id {target_id}."),
        principal,
        action,
        outcome=Outcome.DENIED,
        target_type=target_type,
        target_id=target_id,
        details={"reason": "not visible to the caller"},
    )


def refuse(
    principal: Principal,
    action: str,
    reason: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    error: type[Forbidden] = Forbidden,
) -> Forbidden:
    """A denial decided by a relationship rule (team role, channel moderation, chat
    membership) rather than the PDP: 403 with ``reason``, audited as denied."""
    return with_audit(
        error(f"You may not do this: {reason}."),
        principal,
        action,
        outcome=Outcome.DENIED,
        target_type=target_type,
        target_id=target_id,
        details={"reason": reason},
    )
