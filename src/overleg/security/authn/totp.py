"""Time-based one-time passwords (RFC 6238, 30-second steps) for the second factor.

pyotp computes the codes; this module adds strict input checking, a verification window
and replay refusal. The caller stores the step that :func:`verify` returns and passes it
back as ``last_used_step`` next time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import segno

from overleg.kernel import clock

__all__ = [
    "PERIOD",
    "code_at",
    "new_secret",
    "provisioning_uri",
    "qr_png_data_uri",
    "qr_svg",
    "verify",
]

#: Length of one time step. 30 s is what every authenticator app assumes.
PERIOD = timedelta(seconds=30)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGESTS: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}
_ASCII_DIGITS = frozenset("0123456789")
# Quiet zone and module size: large enough for phone cameras, small enough for a page.
_QR_SCALE = 5
_QR_BORDER = 4


def new_secret() -> str:
    """A fresh 160-bit secret (RFC 4226's recommended size) as 32 base32 characters."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def provisioning_uri(
    secret: str,
    account: str,
    issuer: str,
    *,
    digits: int = 6,
    digest: str = "sha1",
) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app enrols from.

    ``account`` and ``issuer`` are percent-encoded, colons included. Raises ValueError if
    ``secret`` is not base32 of at least 112 bits.
    """
    uri = _totp(secret, digits, digest).provisioning_uri(name=account, issuer_name=issuer)
    return str(uri)


def qr_svg(uri: str) -> str:
    """``uri`` as a QR code in standalone SVG markup (with xmlns, no XML declaration)."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="svg", xmldecl=False, scale=_QR_SCALE, border=_QR_BORDER)
    return out.getvalue().decode("utf-8")


def qr_png_data_uri(uri: str) -> str:
    """``uri`` as a QR code in a ``data:image/png;base64,...`` URI, for an ``<img src>``."""
    return str(_qr(uri).png_data_uri(scale=_QR_SCALE, border=_QR_BORDER))


def code_at(secret: str, at: datetime, digits: int = 6, digest: str = "sha1") -> str:
    """The code for the time step containing ``at`` (timezone-aware)."""
    return str(_totp(secret, digits, digest).generate_otp(_step(at)))


def verify(
    secret: str,
    code: str,
    *,
    last_used_step: int | None,
    at: datetime | None = None,
    window: int = 1,
    digits: int = 6,
    digest: str = "sha1",
) -> int | None:
    """Return the time step ``code`` belongs to, or None to refuse it.

    Steps within ``window`` of the one containing ``at`` (default: now) are tried, to
    allow for clock drift and typing time. ``code`` must be exactly ``digits`` ASCII
    digits once whitespace is removed. A step at or before ``last_used_step`` is never
    accepted: a code is single-use, and an older code cannot follow a newer one.
    """
    if window < 0:
        raise ValueError("window must not be negative")
    totp = _totp(secret, digits, digest)
    given = "".join(code.split())
    if len(given) != digits or not _ASCII_DIGITS.issuperset(given):
        return None
    current = _step(at if at is not None else clock.now())
    matched: int | None = None
    for step in range(current - window, current + window + 1):
        if step < 0 or (last_used_step is not None and step <= last_used_step):
            continue
        expected = str(totp.generate_otp(step))
        # Compare against every candidate, and in constant time, so that timing tells
        # nothing about how close a guess was. A later step wins if two steps collide.
        if hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")):
            matched = step
    return matched


def _totp(secret: str, digits: int, digest: str) -> pyotp.TOTP:
    try:
        digest_fn = _DIGESTS[digest]
    except KeyError:
        raise ValueError(f"unsupported digest {digest!r}; use one of {sorted(_DIGESTS)}") from None
    return pyotp.TOTP(secret, digits=digits, digest=digest_fn, interval=int(PERIOD.seconds))


def _step(at: datetime) -> int:
    if at.tzinfo is None:
        # A naive datetime would silently be read as local time and shift every step.
        raise ValueError("at must be timezone-aware")
    # Integer arithmetic on timedeltas: no float rounding at step boundaries.
    return (at - _EPOCH) // PERIOD


def _qr(uri: str) -> segno.QRCode:
    # make_qr, not make: a short URI must never come out as a Micro QR code, which most
    # authenticator apps cannot read.
    return segno.make_qr(uri, error="m")
