"""Errors that services raise. The API maps each to an RFC 9457 problem; the CLI to one line.

Every error carries a stable ``type`` slug (the last part of the problem ``type`` URI), an
HTTP status and a human ``detail``. Errors that represent a refused attempt may carry an
``audit`` entry: the unit of work writes it in its own transaction after rolling back, so
that the denial is recorded even though the change is not.
"""

from __future__ import annotations

from typing import Any


class OverlegError(Exception):
    """Base for every error a service raises on purpose."""

    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra or {}
        #: an ``overleg.audit.schemas.AuditEntry`` to record after rollback, if any
        self.audit: Any = None


class ValidationFailed(OverlegError):
    status = 422
    type = "validation-failed"
    title = "The request is not valid"


class NotFound(OverlegError):
    """Raised for "missing" and for "not yours" alike, so callers learn nothing."""

    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(OverlegError):
    status = 409
    type = "conflict"
    title = "Conflict"


class Unauthenticated(OverlegError):
    status = 401
    type = "unauthenticated"
    title = "Sign-in required"


class MfaRequired(OverlegError):
    """The session is valid but needs a (fresh) second factor for this request."""

    status = 401
    type = "mfa-required"
    title = "A second factor is required"


class Forbidden(OverlegError):
    status = 403
    type = "forbidden"
    title = "Not allowed"


class TooManyAttempts(OverlegError):
    status = 429
    type = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(OverlegError):
    status = 503
    type = "service-unavailable"
    title = "Service unavailable"


class ConfigurationError(Exception):
    """Settings or key material are wrong; the process must not start."""
