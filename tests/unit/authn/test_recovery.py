from __future__ import annotations

import hashlib
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.security.authn import recovery


def fullwidth(text: str) -> str:
    """``text`` with ASCII letters and digits replaced by their full-width forms."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


CODE_RE = re.compile(r"^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$")


def test_codes_have_the_human_friendly_format() -> None:
    codes = recovery.generate_codes()
    assert len(codes) == 10
    assert all(CODE_RE.fullmatch(code) for code in codes), codes


def test_codes_are_unique() -> None:
    codes = recovery.generate_codes(2000)
    assert len(set(codes)) == 2000


def test_each_code_carries_at_least_80_bits() -> None:
    alphabet = recovery.ALPHABET
    assert len(set(alphabet)) == len(alphabet) == 32
    symbols = len(recovery.normalise_code(recovery.generate_codes(1)[0]))
    assert symbols * math.log2(len(alphabet)) >= 80


def test_the_alphabet_has_no_ambiguous_or_uppercase_characters() -> None:
    assert not set("ilou") & set(recovery.ALPHABET)
    assert recovery.ALPHABET.lower() == recovery.ALPHABET


def test_every_symbol_is_used() -> None:
    # Catches a generator that draws from a smaller alphabet than it claims.
    seen = set("".join(recovery.normalise_code(c) for c in recovery.generate_codes(200)))
    assert seen == set(recovery.ALPHABET)


def test_generate_codes_count() -> None:
    assert recovery.generate_codes(0) == []
    assert len(recovery.generate_codes(3)) == 3
    with pytest.raises(ValueError):
        recovery.generate_codes(-1)


@pytest.mark.parametrize(
    "typed",
    [
        "abcd-efgh-jkmn-pqrs",
        "ABCD-EFGH-JKMN-PQRS",
        " abcd efgh jkmn pqrs ",
        "abcdefghjkmnpqrs",
        "Abcd - Efgh\t- jkmn-pqrs\n",
        fullwidth("ABCD-EFGH-JKMN-PQRS"),
    ],
)
def test_normalise_code_accepts_how_people_type(typed: str) -> None:
    assert recovery.normalise_code(typed) == "abcdefghjkmnpqrs"


def test_normalise_code_reads_lookalike_letters_as_digits() -> None:
    assert recovery.normalise_code("O0o0-I1i1-L1l1-abcd") == "00001111" + "1111abcd"


def test_hash_code_is_sha256_hex_of_the_normalised_code() -> None:
    expected = hashlib.sha256(b"abcdefghjkmnpqrs").hexdigest()
    assert recovery.hash_code("abcd-efgh-jkmn-pqrs") == expected
    assert recovery.hash_code(" ABCD EFGH JKMN PQRS") == expected
    assert recovery.hash_code("abcd-efgh-jkmn-pqrt") != expected


def test_matches_returns_the_matching_stored_hash() -> None:
    codes = recovery.generate_codes(5)
    stored = [recovery.hash_code(code) for code in codes]
    assert recovery.matches(codes[3], stored) == stored[3]
    assert recovery.matches(codes[0].upper().replace("-", " "), stored) == stored[0]


def test_matches_refuses_unknown_and_used_codes() -> None:
    codes = recovery.generate_codes(3)
    stored = [recovery.hash_code(code) for code in codes]
    assert recovery.matches(recovery.generate_codes(1)[0], stored) is None
    assert recovery.matches("", stored) is None
    assert recovery.matches(codes[1], []) is None
    # Once the caller deletes the used hash, the code stops working.
    used = recovery.matches(codes[1], stored)
    remaining = [h for h in stored if h != used]
    assert recovery.matches(codes[1], remaining) is None


def test_matches_accepts_any_iterable_and_odd_stored_values() -> None:
    code = recovery.generate_codes(1)[0]
    stored = iter(["", "not-a-hash", "é", recovery.hash_code(code)])
    assert recovery.matches(code, stored) == recovery.hash_code(code)


@given(st.data())
def test_casing_and_spacing_never_change_a_codes_hash(data: st.DataObject) -> None:
    code = recovery.generate_codes(1)[0]
    mangled = "".join(
        data.draw(st.sampled_from([ch, ch.upper()]))
        + data.draw(st.sampled_from(["", " ", "-", "  "]))
        for ch in code
    )
    assert recovery.hash_code(mangled) == recovery.hash_code(code)
