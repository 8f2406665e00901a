"""Normalisation, tokenising and the blind index's pure primitives."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.search.blind import (
    TERM_BYTES,
    blind_term,
    decode_positions,
    encode_positions,
    phrase_matches,
)
from overleg.search.text import (
    MAX_TOKEN_CHARS,
    MAX_TOKENS,
    Token,
    normalise,
    query_tokens,
    term_positions,
    tokens,
)

# --- normalise ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # NFKC: compatibility forms become their plain letters and digits
        ("\uff2d\uff49\uff41", "mia"),  # full-width "Mia"
        ("\ufb01le", "file"),  # the "fi" ligature
        ("x\u00b2", "x2"),  # superscript two
        ("\u2460", "1"),  # circled digit one
        # case folding
        ("MIA", "mia"),
        ("Stra\u00dfe", "strasse"),
        ("\u0130stanbul", "istanbul"),  # dotted capital I
        # diacritics folded, composed or decomposed alike
        ("Zo\u00eb", "zoe"),
        ("Zoe\u0308", "zoe"),
        ("\u00c5ngstr\u00f6m", "angstrom"),
        ("cr\u00e8me br\u00fbl\u00e9e", "creme brulee"),
        ("\u0141\u00f3d\u017a", "\u0142odz"),  # the stroke of \u0141 is no combining mark
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_spacing_marks_stay_inside_words() -> None:
    # Hindi: the vowel signs U+093F and U+0940 are spacing marks (Mc), part of the
    # letters; the virama U+094D is a nonspacing mark (Mn) and is folded away.
    word = "\u0939\u093f\u0928\u094d\u0926\u0940"
    assert normalise(word) == "\u0939\u093f\u0928\u0926\u0940"
    assert [t.term for t in tokens(word + " x")] == [normalise(word), "x"]


@given(st.text())
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text())
def test_normalise_leaves_no_nonspacing_marks_and_no_capitals(text: str) -> None:
    out = normalise(text)
    assert not any(unicodedata.category(c) == "Mn" for c in out)
    assert out.casefold() == out


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_fast_path_agrees_with_the_full_algorithm(text: str) -> None:
    full = unicodedata.normalize("NFKC", text).casefold()
    assert normalise(text) == full


# --- tokens ------------------------------------------------------------------------------


def _terms(text: str) -> list[str]:
    return [t.term for t in tokens(text)]


def test_words_split_on_everything_but_letters_and_digits() -> None:
    assert _terms("Budget-review: Q3 (draft) o'Brien hello_world") == [
        "budget",
        "review",
        "q3",
        "draft",
        "o",
        "brien",
        "hello",
        "world",
    ]


def test_numbers_with_inner_separators_stay_whole() -> None:
    assert _terms("pi is 3.14, not 3. It costs 1,000 at 10.0.0.1") == [
        "pi",
        "is",
        "3.14",
        "not",
        "3",
        "it",
        "costs",
        "1,000",
        "at",
        "10.0.0.1",
    ]


def test_an_email_address_is_a_token_stacked_on_its_parts() -> None:
    assert tokens("write to Mia.de.Vries@Contoso.example today") == [
        Token("write", 0),
        Token("to", 1),
        Token("mia.de.vries@contoso.example", 2),
        Token("mia", 2),
        Token("de", 3),
        Token("vries", 4),
        Token("contoso", 5),
        Token("example", 6),
        Token("today", 7),
    ]


def test_query_tokens_let_an_address_stand_for_its_parts() -> None:
    assert query_tokens("to mia@contoso.example today") == [
        Token("to", 0),
        Token("mia@contoso.example", 1),
        Token("today", 4),
    ]
    assert query_tokens("  ...  Zoë's   ") == [Token("zoe", 0), Token("s", 1)]
    assert query_tokens("!!!") == []


def test_long_tokens_are_cut_and_long_texts_capped() -> None:
    long = "x" * (MAX_TOKEN_CHARS + 10)
    assert _terms(long) == ["x" * MAX_TOKEN_CHARS]
    many = " ".join(["w"] * (MAX_TOKENS + 5))
    assert term_positions(many)["w"][-1] == MAX_TOKENS - 1
    assert len(tokens(many)) == MAX_TOKENS


@given(st.text())
def test_term_positions_group_the_tokens(text: str) -> None:
    """The lean path used for indexing gives exactly what tokens() gives."""
    expected: dict[str, list[int]] = {}
    for t in tokens(text):
        expected.setdefault(t.term, []).append(t.position)
    assert term_positions(text) == expected


@given(st.text())
def test_tokens_are_normalised_non_empty_and_ordered(text: str) -> None:
    toks = tokens(text)
    assert all(t.term and not any(c.isspace() for c in t.term) for t in toks)
    assert [t.position for t in toks] == sorted(t.position for t in toks)
    assert tokens(normalise(text)) == toks


@given(st.text(alphabet=st.sampled_from("ab Ëë-_.@x1,")))
def test_query_tokens_of_a_text_match_that_text_as_a_phrase(text: str) -> None:
    """Searching a message's own text as a phrase finds it."""
    q = query_tokens(text)
    where = term_positions(text)
    if not q:
        return
    assert all(t.term in where for t in q)
    assert phrase_matches([where[t.term] for t in q], [t.position for t in q])


# --- blind index primitives --------------------------------------------------------------


def test_blind_terms_are_keyed_truncated_hmacs() -> None:
    a, b = b"a" * 32, b"b" * 32
    assert len(blind_term(a, "budget")) == TERM_BYTES
    assert blind_term(a, "budget") == blind_term(a, "budget")
    assert blind_term(a, "budget") != blind_term(b, "budget")
    assert blind_term(a, "budget") != blind_term(a, "budgets")
    assert b"budget" not in blind_term(a, "budget")


@given(st.lists(st.integers(min_value=0, max_value=10**7), unique=True))
def test_positions_round_trip(positions: list[int]) -> None:
    positions.sort()
    assert decode_positions(encode_positions(positions)) == positions


def test_positions_are_compact_and_checked() -> None:
    assert encode_positions([5]) == b"\x05"
    assert len(encode_positions([0, 1, 2, 3])) == 4
    assert encode_positions([300]) == b"\xac\x02"
    with pytest.raises(ValueError, match="ascending"):
        encode_positions([3, 3])
    with pytest.raises(ValueError, match="ascending"):
        encode_positions([4, 2])
    with pytest.raises(ValueError, match="truncated"):
        decode_positions(b"\x80")


def test_phrase_matching_needs_the_offsets() -> None:
    # text "a b c a": a at 0 and 3, b at 1, c at 2
    a, b, c = [0, 3], [1], [2]
    assert phrase_matches([a, b], [0, 1])  # "a b"
    assert not phrase_matches([b, a], [0, 1])  # "b a"
    assert phrase_matches([a, c], [0, 2])  # "a ? c"
    assert not phrase_matches([a, c], [0, 1])  # "a c"
    assert phrase_matches([b, c, a], [0, 1, 2])  # "b c a"
    assert not phrase_matches([a, []], [0, 1])
    assert not phrase_matches([], [])
