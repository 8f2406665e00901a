from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.kernel import clock
from overleg.security.authn import totp

# RFC 6238 Appendix B: the seed of each algorithm is an ASCII string; pyotp wants base32.
SEEDS = {
    "sha1": "12345678901234567890",
    "sha256": "12345678901234567890123456789012",
    "sha512": "1234567890123456789012345678901234567890123456789012345678901234",
}
# (Unix time, time step T, {digest: 8-digit code}) straight from the RFC's table.
RFC_VECTORS = [
    (59, 0x1, {"sha1": "94287082", "sha256": "46119246", "sha512": "90693936"}),
    (1111111109, 0x23523EC, {"sha1": "07081804", "sha256": "68084774", "sha512": "25091201"}),
    (1111111111, 0x23523ED, {"sha1": "14050471", "sha256": "67062674", "sha512": "99943326"}),
    (1234567890, 0x273EF07, {"sha1": "89005924", "sha256": "91819424", "sha512": "93441116"}),
    (2000000000, 0x3F940AA, {"sha1": "69279037", "sha256": "90698825", "sha512": "38618901"}),
    (20000000000, 0x27BC86AA, {"sha1": "65353130", "sha256": "77737706", "sha512": "47863826"}),
]
# A fixed "now" for the behavioural tests, 15 s into its step.
T = datetime(2025, 3, 1, 12, 0, 15, tzinfo=UTC)
STEP = int(T.timestamp()) // 30
SECRET = totp.new_secret()

CASES = [
    (digest, unix, step, codes[digest])
    for unix, step, codes in RFC_VECTORS
    for digest in ("sha1", "sha256", "sha512")
]


def fullwidth(text: str) -> str:
    """``text`` with ASCII letters and digits replaced by their full-width forms."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


def seed(digest: str) -> str:
    return base64.b32encode(SEEDS[digest].encode("ascii")).decode("ascii")


def utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


@pytest.fixture
def secret() -> str:
    return totp.new_secret()


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    clock.freeze(T)
    yield T
    clock.freeze(None)


@pytest.mark.parametrize(("digest", "unix", "step", "code"), CASES)
def test_rfc_6238_vectors_through_code_at(digest: str, unix: int, step: int, code: str) -> None:
    assert totp.code_at(seed(digest), utc(unix), digits=8, digest=digest) == code


@pytest.mark.parametrize(("digest", "unix", "step", "code"), CASES)
def test_rfc_6238_vectors_through_verify(digest: str, unix: int, step: int, code: str) -> None:
    found = totp.verify(
        seed(digest), code, last_used_step=None, at=utc(unix), window=0, digits=8, digest=digest
    )
    assert found == step


def test_new_secret_is_160_bits_of_base32() -> None:
    a, b = totp.new_secret(), totp.new_secret()
    assert len(a) == 32
    assert len(base64.b32decode(a)) == 20
    assert a != b


def test_provisioning_uri_round_trips_through_an_authenticator_parser(secret: str) -> None:
    uri = totp.provisioning_uri(secret, "ann@example.org", "Overleg Acme")
    assert uri.startswith("otpauth://totp/")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret
    assert parsed.name == "ann@example.org"
    assert parsed.issuer == "Overleg Acme"
    assert parsed.digits == 6


def test_provisioning_uri_carries_non_default_digits_and_digest(secret: str) -> None:
    uri = totp.provisioning_uri(secret, "ann", "Overleg", digits=8, digest="sha256")
    assert "digits=8" in uri
    assert "algorithm=SHA256" in uri


def test_qr_svg_is_standalone_svg_markup(secret: str) -> None:
    svg = totp.qr_svg(totp.provisioning_uri(secret, "ann@example.org", "Overleg"))
    assert svg.startswith("<svg")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert "<?xml" not in svg
    assert svg.rstrip().endswith("</svg>")


def test_qr_png_data_uri_holds_a_png(secret: str) -> None:
    data_uri = totp.qr_png_data_uri(totp.provisioning_uri(secret, "ann@example.org", "Overleg"))
    prefix = "data:image/png;base64,"
    assert data_uri.startswith(prefix)
    assert base64.b64decode(data_uri[len(prefix) :]).startswith(b"\x89PNG\r\n\x1a\n")


def test_a_correct_code_returns_its_step(secret: str) -> None:
    assert totp.verify(secret, totp.code_at(secret, T), last_used_step=None, at=T) == STEP


def test_a_wrong_code_is_refused(secret: str) -> None:
    right = totp.code_at(secret, T)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert totp.verify(secret, wrong, last_used_step=None, at=T) is None


def test_a_code_is_single_use(secret: str) -> None:
    code = totp.code_at(secret, T)
    step = totp.verify(secret, code, last_used_step=None, at=T)
    assert step == STEP
    assert totp.verify(secret, code, last_used_step=step, at=T) is None
    assert totp.verify(secret, code, last_used_step=step, at=T + timedelta(seconds=10)) is None


def test_a_code_older_than_the_last_used_one_is_refused(secret: str) -> None:
    older = totp.code_at(secret, T - timedelta(seconds=30))
    # Inside the window, but a newer code has already been used.
    assert totp.verify(secret, older, last_used_step=None, at=T) == STEP - 1
    assert totp.verify(secret, older, last_used_step=STEP, at=T) is None


def test_the_next_code_after_the_last_used_one_is_accepted(secret: str) -> None:
    later = T + timedelta(seconds=30)
    assert totp.verify(secret, totp.code_at(secret, later), last_used_step=STEP, at=later) == (
        STEP + 1
    )


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_drift_either_way_is_accepted(secret: str, offset: int) -> None:
    code = totp.code_at(secret, T + offset * totp.PERIOD)
    assert totp.verify(secret, code, last_used_step=None, at=T) == STEP + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_of_drift_are_refused(secret: str, offset: int) -> None:
    code = totp.code_at(secret, T + offset * totp.PERIOD)
    assert totp.verify(secret, code, last_used_step=None, at=T) is None
    assert totp.verify(secret, code, last_used_step=None, at=T, window=2) == STEP + offset


def test_window_zero_accepts_only_the_current_step(secret: str) -> None:
    code = totp.code_at(secret, T + totp.PERIOD)
    assert totp.verify(secret, code, last_used_step=None, at=T, window=0) is None
    assert totp.verify(secret, totp.code_at(secret, T), last_used_step=None, at=T, window=0)


def test_step_boundaries_are_exact(secret: str) -> None:
    start = datetime.fromtimestamp(STEP * 30, UTC)
    just_before = start - timedelta(microseconds=1)
    assert totp.code_at(secret, start) == totp.code_at(secret, start + timedelta(seconds=29))
    assert totp.code_at(secret, just_before) == totp.code_at(secret, start - totp.PERIOD)


def test_spaces_in_the_typed_code_are_ignored(secret: str) -> None:
    code = totp.code_at(secret, T)
    assert totp.verify(secret, f" {code[:3]} {code[3:]}\t", last_used_step=None, at=T) == STEP


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:5],  # too short
        lambda c: c + "0",  # too long
        lambda c: c[:5] + "a",  # not a digit
        lambda c: c[:3] + "-" + c[3:],  # hyphen
        fullwidth,
        lambda c: "".join(chr(0x0660 + int(d)) for d in c),  # Arabic-Indic digits
        lambda c: "",
    ],
)
def test_anything_but_exactly_six_ascii_digits_is_refused(secret: str, mangle: object) -> None:
    assert callable(mangle)
    assert totp.verify(secret, mangle(totp.code_at(secret, T)), last_used_step=None, at=T) is None


def test_verify_defaults_to_the_kernel_clock(secret: str, frozen_clock: datetime) -> None:
    code = totp.code_at(secret, frozen_clock)
    assert totp.verify(secret, code, last_used_step=None) == STEP


def test_naive_datetimes_are_rejected(secret: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        totp.code_at(secret, datetime(2025, 3, 1, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        totp.verify(secret, "123456", last_used_step=None, at=datetime(2025, 3, 1, 12, 0))


def test_unknown_digest_and_negative_window_are_rejected(secret: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        totp.code_at(secret, T, digest="md5")
    with pytest.raises(ValueError, match="window"):
        totp.verify(secret, "123456", last_used_step=None, at=T, window=-1)


def test_an_invalid_secret_is_rejected() -> None:
    with pytest.raises(ValueError):  # binascii.Error is a ValueError
        totp.code_at("not base32!", T)


@given(st.text(max_size=20))
def test_verify_never_raises_on_any_typed_input(code: str) -> None:
    result = totp.verify(SECRET, code, last_used_step=None, at=T)
    assert result is None or result in {STEP - 1, STEP, STEP + 1}


def test_provisioning_uri_survives_colons_in_the_label(secret: str) -> None:
    # The label is "issuer:account"; a raw colon in either part would split it wrongly.
    parsed = pyotp.parse_uri(totp.provisioning_uri(secret, "ann:b@example.org", "Acme: EU"))
    assert parsed.name == "ann:b@example.org"
    assert parsed.issuer == "Acme: EU"
