from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.security.authn.passwords import WeakPassword, check_password, common_passwords


def reason(pw: str, *, min_length: int = 12, context: Iterable[str] = ()) -> str:
    """The reason check_password gives for refusing ``pw`` (fails if it accepts it)."""
    with pytest.raises(WeakPassword) as info:
        check_password(pw, min_length=min_length, context=context)
    assert info.value.reason == str(info.value)
    assert info.value.reason.endswith(".")
    return info.value.reason


@pytest.mark.parametrize(
    "pw",
    [
        "correct horse battery staple",
        "violet anchor gravel",
        "all lowercase letters only here",  # no composition rules
        "Grüße aus Köln am Rhein",
        "x" * 5 + "tulip orbit",
    ],
)
def test_accepts_long_passphrases(pw: str) -> None:
    check_password(pw)


def test_refuses_a_short_password_and_says_how_long_it_must_be() -> None:
    assert "at least 12 characters" in reason("tulip-orbit")  # 11
    check_password("tulip-orbit!")  # 12


def test_min_length_is_configurable() -> None:
    assert "at least 21 characters" in reason("violet anchor gravel", min_length=21)
    check_password("tulip-orb", min_length=8)


def test_length_counts_code_points_after_nfkc() -> None:
    decomposed = "cafe\u0301 au lait"  # 13 code points as typed, 12 after NFKC
    assert len(decomposed) == 13
    check_password(decomposed, min_length=12)
    assert "at least 13 characters" in reason(decomposed, min_length=13)


def test_refuses_a_password_over_max_length() -> None:
    long_pw = ("tulip orbit gravel " * 20)[:257]
    assert "at most 256 characters" in reason(long_pw)
    check_password(long_pw[:256])


@pytest.mark.parametrize("pw", ["leavemealone", "LeaveMeAlone", "JUSTINBIEBER"])
def test_refuses_common_passwords_case_insensitively(pw: str) -> None:
    assert "commonly used" in reason(pw)


def test_refuses_short_common_passwords_when_the_minimum_allows_them() -> None:
    assert "commonly used" in reason("Password", min_length=8)


def test_bundled_common_password_list_is_loaded_once_and_complete() -> None:
    words = common_passwords()
    assert words is common_passwords()
    assert 9_000 <= len(words) <= 10_000
    assert {"123456", "password", "qwerty", "leavemealone"} <= words
    assert all(w == w.casefold() for w in words)


@pytest.mark.parametrize(
    ("pw", "context"),
    [
        ("devries and his cats", ["jan.devries"]),  # e-mail local part
        ("Jan.DeVries-2024-spring", ["jan.devries"]),
        ("the vries family rocks", ["Jan de Vries"]),  # one word of the display name
        ("jandevries is my name", ["Jan de Vries"]),  # the name run together
        ("acme secure login xyz", ["Acme"]),  # org name of exactly 4 characters
        ("correct horse battery staple", ["Correct Horse Battery Staple"]),  # equal
    ],
)
def test_refuses_passwords_containing_context_words(pw: str, context: list[str]) -> None:
    assert "your name" in reason(pw, context=context)


def test_ignores_context_words_shorter_than_four_characters() -> None:
    check_password("bob likes green tea", context=["Bob", "Li"])


def test_context_is_compared_after_nfkc_and_casefolding() -> None:
    assert "your name" in reason("the cafe\u0301 crew rocks", context=["CAFÉ Crew"])


@pytest.mark.parametrize(
    "pw",
    [
        "aaaaaaaaaaaa",
        "            ",
        "ßßßßßßßßßßßß",
        "abababababab",
        "abc!abc!abc!",
        "lmnopqrstuvw",
        "zyxwvutsrqpo",
        "890123456789",  # wraps round 9 -> 0
        "poiuytrewqpo",  # keyboard row, backwards
        "abcdefabcdef",  # a repeated sequence
    ],
)
def test_refuses_repeats_and_trivial_sequences(pw: str) -> None:
    assert "repeated" in reason(pw)


def test_a_repeated_long_uncommon_unit_is_allowed() -> None:
    check_password("tulip orbit " * 2)


@given(st.text(max_size=300))
def test_check_password_only_ever_raises_weak_password(pw: str) -> None:
    try:
        check_password(pw, context=["someone@example.org"])
    except WeakPassword as exc:
        assert exc.reason
