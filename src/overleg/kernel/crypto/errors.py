"""Errors of the crypto layer.

``CryptoError`` and its subclasses are runtime failures of one operation; ``WrongMasterKey``
is a ``ConfigurationError`` because the process must not start with it.
"""

from __future__ import annotations

from overleg.kernel.errors import ConfigurationError


class CryptoError(Exception):
    """A key operation failed."""


class KeyUnavailable(CryptoError):
    """The key needed does not exist (never created, destroyed, or its tenant was shredded)."""


class KeyExists(CryptoError):
    """A key with this id already exists in the provider."""


class DecryptionFailed(CryptoError):
    """The ciphertext is malformed, was tampered with, or the AAD/key does not match."""


class WrongMasterKey(ConfigurationError):
    """The configured master key does not open the existing keyring."""
