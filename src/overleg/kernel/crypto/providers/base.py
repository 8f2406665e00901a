"""The contract every key provider fulfils."""

from __future__ import annotations

import abc


class KeyProvider(abc.ABC):
    """Holds key-encryption keys (KEKs) by id and wraps data keys with them.

    Methods are synchronous: a provider call takes microseconds (local) to a few
    milliseconds (HSM). Implementations are thread safe.
    """

    #: stored next to every wrapped key, so a row says which provider can unwrap it
    name: str

    @abc.abstractmethod
    def create_kek(self, kek_id: str) -> None:
        """Create a new random KEK under ``kek_id``; ``KeyExists`` if the id is taken."""

    @abc.abstractmethod
    def wrap(self, kek_id: str, dek: bytes, aad: bytes) -> bytes:
        """Encrypt ``dek`` under the KEK, bound to ``aad``. ``KeyUnavailable`` if no such KEK."""

    @abc.abstractmethod
    def unwrap(self, kek_id: str, blob: bytes, aad: bytes) -> bytes:
        """Reverse ``wrap``. ``KeyUnavailable`` if no such KEK, ``DecryptionFailed`` if the
        blob or ``aad`` does not match."""

    @abc.abstractmethod
    def destroy_kek(self, kek_id: str) -> None:
        """Destroy the KEK for good. Destroying a missing KEK is not an error."""

    @abc.abstractmethod
    def has_kek(self, kek_id: str) -> bool:
        """Whether the KEK exists."""

    @abc.abstractmethod
    def check(self) -> None:
        """Health check at start-up; ``ConfigurationError`` if the provider is unusable."""

    def close(self) -> None:  # noqa: B027  (optional hook, most providers hold nothing)
        """Release sessions or handles. The provider may be used again afterwards."""
