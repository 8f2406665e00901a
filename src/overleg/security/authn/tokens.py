"""Opaque random tokens for sessions and CSRF protection.

A session token goes to the client; only :func:`hash_token` of it is stored, so a leaked
database does not yield usable sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["csrf_matches", "hash_token", "new_csrf_token", "new_token"]

_TOKEN_BYTES = 32  # 256 bits


def new_token() -> str:
    """A fresh session token: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 (hex) of ``token``: the value to store and look sessions up by.

    No salt or slow hash is needed: the token is 256 random bits, not a human secret.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_csrf_token() -> str:
    """A fresh CSRF token: 256 random bits, URL-safe base64."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def csrf_matches(expected: str, given: str) -> bool:
    """True if ``given`` equals ``expected``, compared in constant time."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
