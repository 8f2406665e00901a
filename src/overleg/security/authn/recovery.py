"""Single-use recovery codes for when the second factor is lost.

Codes are 16 characters of Crockford's base32 in lowercase (no i, l, o or u, so nothing
is mistaken for 1 or 0), shown as ``xxxx-xxxx-xxxx-xxxx``: 80 random bits each.
Only :func:`hash_code` of a code is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable

__all__ = ["ALPHABET", "generate_codes", "hash_code", "matches", "normalise_code"]

#: Crockford's base32 alphabet, lowercase: 32 symbols, 5 bits each.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_GROUPS = 4
_GROUP_LEN = 4
# Letters a user may type for a digit they misread; Crockford decodes them this way too.
_LOOKALIKES = str.maketrans({"i": "1", "l": "1", "o": "0"})


def generate_codes(n: int = 10) -> list[str]:
    """``n`` distinct fresh codes, formatted ``xxxx-xxxx-xxxx-xxxx`` (80 bits each)."""
    if n < 0:
        raise ValueError("n must not be negative")
    codes: list[str] = []
    while len(codes) < n:
        code = _new_code()
        # A repeat is astronomically unlikely, but a set of codes must hold n usable ones.
        if code not in codes:
            codes.append(code)
    return codes


def normalise_code(code: str) -> str:
    """The canonical form of a typed code: lowercase, no hyphens or whitespace.

    Full-width characters are folded (NFKC), and ``i``, ``l`` and ``o``, which never occur
    in a code, are read as ``1``, ``1`` and ``0``.
    """
    folded = unicodedata.normalize("NFKC", code).casefold()
    kept = "".join(ch for ch in folded if ch != "-" and not ch.isspace())
    return kept.translate(_LOOKALIKES)


def hash_code(code: str) -> str:
    """SHA-256 (hex) of the normalised code: the value to store.

    A fast unsalted hash is enough here, unlike for passwords: with 80 random bits per
    code, guessing one from its hash is out of reach however fast the hash is.
    """
    return hashlib.sha256(normalise_code(code).encode("utf-8")).hexdigest()


def matches(code: str, hashes: Iterable[str]) -> str | None:
    """The stored hash in ``hashes`` that ``code`` matches, or None.

    The caller must then delete (or mark used) that hash: each code works once.
    """
    given = hash_code(code).encode("ascii")
    found: str | None = None
    for stored in hashes:
        # Constant-time and no early exit: timing reveals neither match nor position.
        if hmac.compare_digest(given, stored.encode("utf-8")):
            found = stored
    return found


def _new_code() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(_GROUPS * _GROUP_LEN))
    groups = (chars[i : i + _GROUP_LEN] for i in range(0, len(chars), _GROUP_LEN))
    return "-".join(groups)
