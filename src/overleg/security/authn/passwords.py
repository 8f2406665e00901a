"""Password hashing (argon2id) and a length-first password policy (NIST SP 800-63B).

Every password is NFKC-normalised before it is measured, hashed or verified, so the same
password typed through different keyboards or input methods (composed or decomposed
accents, full-width forms) is the same password.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import re
import secrets
import unicodedata
from collections.abc import Iterable
from importlib import resources

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

__all__ = [
    "InvalidPasswordHash",
    "PasswordHasher",
    "WeakPassword",
    "check_password",
    "common_passwords",
    "normalise",
]


def normalise(pw: str) -> str:
    """Return the NFKC form of ``pw``: the form that is measured, hashed and verified."""
    return unicodedata.normalize("NFKC", pw)


# --- hashing -------------------------------------------------------------------------------


class InvalidPasswordHash(ValueError):
    """The stored hash is not a usable argon2 hash: corrupt data, not a wrong password."""


class PasswordHasher:
    """argon2id with fixed cost parameters. Stateless after construction; share one instance.

    Defaults are argon2-cffi's RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4).
    """

    def __init__(
        self,
        *,
        time_cost: int = RFC_9106_LOW_MEMORY.time_cost,
        memory_cost_kib: int = RFC_9106_LOW_MEMORY.memory_cost,
        parallelism: int = RFC_9106_LOW_MEMORY.parallelism,
    ) -> None:
        # argon2 would only complain at the first hash; a bad setting should stop start-up.
        if time_cost < 1 or parallelism < 1 or memory_cost_kib < 8 * parallelism:
            raise ValueError(
                "argon2 needs time_cost >= 1, parallelism >= 1 and "
                "memory_cost_kib >= 8 * parallelism"
            )
        self._params = argon2.Parameters(
            type=argon2.Type.ID,
            version=RFC_9106_LOW_MEMORY.version,
            salt_len=RFC_9106_LOW_MEMORY.salt_len,
            hash_len=RFC_9106_LOW_MEMORY.hash_len,
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
        )
        self._ph = argon2.PasswordHasher.from_parameters(self._params)
        self._dummy_hash = _unmatchable_hash(self._params)

    @property
    def dummy_hash(self) -> str:
        """The hash :meth:`verify_dummy` checks against: random, with this hasher's parameters."""
        return self._dummy_hash

    def hash(self, pw: str) -> str:
        """Hash the normalised ``pw`` with a fresh random salt; returns the PHC string."""
        return self._ph.hash(normalise(pw))

    def verify(self, hash: str, pw: str) -> bool:
        """True if ``pw`` matches ``hash``, False if not.

        Raises :class:`InvalidPasswordHash` only when ``hash`` itself is unusable.
        Hashes made with other parameters still verify (see :meth:`needs_rehash`).
        """
        try:
            return self._ph.verify(hash, normalise(pw))
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError) as exc:
            # VerificationError other than a mismatch means argon2 could not even run,
            # e.g. a truncated or tampered-with hash: that is a data problem to surface.
            raise InvalidPasswordHash(str(exc)) from exc

    # argon2 takes a few hundred milliseconds of CPU by design; in the server it runs in a
    # worker thread (argon2-cffi releases the GIL) so that other requests keep flowing.

    async def hash_async(self, pw: str) -> str:
        return await asyncio.to_thread(self.hash, pw)

    async def verify_async(self, hash: str, pw: str) -> bool:
        return await asyncio.to_thread(self.verify, hash, pw)

    async def verify_dummy_async(self, pw: str) -> bool:
        return await asyncio.to_thread(self.verify_dummy, pw)

    def needs_rehash(self, hash: str) -> bool:
        """True if ``hash`` was made with parameters other than this hasher's.

        Call after a successful :meth:`verify` and, if True, store :meth:`hash` of the
        password the user just typed.
        """
        try:
            return self._ph.check_needs_rehash(hash)
        except InvalidHashError as exc:
            raise InvalidPasswordHash(str(exc)) from exc

    def verify_dummy(self, pw: str) -> bool:
        """Spend the time of a real :meth:`verify`, then return False.

        Call it when no account matches the submitted identifier, so that response times
        do not reveal which identifiers have accounts.
        """
        self.verify(self._dummy_hash, pw)
        return False


def _unmatchable_hash(params: argon2.Parameters) -> str:
    """A well-formed argon2id hash of random bytes, with ``params``.

    Verifying against it does the same work as verifying a real hash with the same
    parameters, yet no known password matches it (finding one is a preimage attack).
    Building it costs nothing, unlike hashing a random password at start-up.
    """

    def b64(n: int) -> str:
        # PHC strings use unpadded standard base64.
        return base64.b64encode(secrets.token_bytes(n)).rstrip(b"=").decode("ascii")

    return (
        f"$argon2id$v={params.version}"
        f"$m={params.memory_cost},t={params.time_cost},p={params.parallelism}"
        f"${b64(params.salt_len)}${b64(params.hash_len)}"
    )


# --- policy --------------------------------------------------------------------------------


class WeakPassword(ValueError):
    """A password the policy refuses. ``reason`` is a sentence to show the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_MIN_CONTEXT_WORD = 4
# Splits e-mail local parts ("jan.de-vries") and display names ("Jan de Vries") into words.
_CONTEXT_SEPARATORS = re.compile(r"[\s._+\-@]+")
# Cycled to recognise runs such as "abcdefghijkl", "3456789012" or "poiuytrewqpo".
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")
# A password made of a unit this short repeated ("abababab", "pass" * 3) is trivial.
_MAX_TRIVIAL_UNIT = 4


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled common-password list, casefolded. Read once, on first use."""
    data = resources.files(__package__ or __name__).joinpath("data", "common-passwords.txt")
    lines = data.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip())


def check_password(
    pw: str,
    *,
    min_length: int = 12,
    max_length: int = 256,
    context: Iterable[str] = (),
) -> None:
    """Raise :class:`WeakPassword` if ``pw`` breaks the policy; return None if it passes.

    Length is counted in code points after NFKC normalisation. ``context`` holds words the
    password must not contain, compared case-insensitively: the user's e-mail local part,
    display name, organisation name. Each is also split on spaces and ``. _ + - @``; only
    words of at least 4 characters count. There are deliberately no composition rules
    (SP 800-63B: they annoy users without making passwords harder to guess).
    """
    norm = normalise(pw)
    if len(norm) < min_length:
        raise WeakPassword(
            f"Use at least {min_length} characters. A few unrelated words in a row are "
            "long and easy to remember."
        )
    if len(norm) > max_length:
        raise WeakPassword(f"Use at most {max_length} characters.")
    folded = norm.casefold()
    if folded in common_passwords():
        raise WeakPassword("This is one of the most commonly used passwords. Choose another.")
    if any(word in folded for word in _context_words(context)):
        raise WeakPassword(
            "Do not use your name, your e-mail address or your organisation's name in your "
            "password."
        )
    if _is_trivial(folded):
        raise WeakPassword(
            "Do not use a repeated character, a repeated short pattern or a simple sequence "
            "such as 'abcd' or '1234'."
        )


def _context_words(context: Iterable[str]) -> set[str]:
    words: set[str] = set()
    for item in context:
        folded = normalise(item).casefold().strip()
        parts = [part for part in _CONTEXT_SEPARATORS.split(folded) if part]
        for word in (folded, "".join(parts), *parts):
            if len(word) >= _MIN_CONTEXT_WORD:
                words.add(word)
    return words


def _is_trivial(folded: str) -> bool:
    """True for one repeated character, a repeated short or common unit, or a sequence."""
    if not folded:
        return True
    unit = _smallest_unit(folded)
    if unit != folded and (
        len(unit) <= _MAX_TRIVIAL_UNIT or unit in common_passwords() or _is_sequence(unit)
    ):
        return True
    return _is_sequence(folded)


def _smallest_unit(s: str) -> str:
    """The shortest ``u`` with ``s == u * k``; ``s`` itself if it is no repetition."""
    # s is a repetition of its prefix of length i exactly when s occurs in s + s at i.
    return s[: (s + s).find(s, 1)]


def _is_sequence(s: str) -> bool:
    """True if ``s`` walks one of _SEQUENCES (forwards or backwards, wrapping round)."""
    for seq in _SEQUENCES:
        for cycle in (seq, seq[::-1]):
            start = cycle.find(s[0])
            if start >= 0 and all(ch == cycle[(start + i) % len(cycle)] for i, ch in enumerate(s)):
                return True
    return False
