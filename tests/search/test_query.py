"""The query language parser: every operator, precedence, and the errors."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.kernel.errors import ValidationFailed
from overleg.search.query import (
    MAX_ATOMS,
    MAX_FILTERS,
    MAX_PHRASE_TOKENS,
    MAX_QUERY_CHARS,
    MAX_VALUE_CHARS,
    Atom,
    Query,
    parse,
)


def words(q: Query) -> list[list[str]]:
    """The required groups as lists of atom texts."""
    return [[" ".join(t for _, t in a.terms) for a in g.atoms] for g in q.required]


def excluded(q: Query) -> list[str]:
    return [" ".join(t for _, t in a.terms) for a in q.excluded]


def test_words_are_anded_and_normalised() -> None:
    q = parse("Budget  REVIEW zoë")
    assert words(q) == [["budget"], ["review"], ["zoe"]]
    assert not q.excluded and not q.has_filters


def test_a_phrase_keeps_its_words_and_their_offsets() -> None:
    q = parse('"Quarterly  Review" budget')
    assert q.required[0].atoms[0] == Atom("Quarterly  Review", ((0, "quarterly"), (1, "review")))
    assert q.required[0].atoms[0].is_phrase
    assert words(q) == [["quarterly review"], ["budget"]]


def test_a_word_that_splits_is_a_phrase_of_its_parts() -> None:
    atom = parse("e-mail").required[0].atoms[0]
    assert atom.terms == ((0, "e"), (1, "mail"))
    assert atom.is_phrase


def test_or_binds_tighter_than_and() -> None:
    assert words(parse("q3 budget OR forecast")) == [["q3"], ["budget", "forecast"]]
    assert words(parse('a OR "b c" OR d e')) == [["a", "b c", "d"], ["e"]]
    # lower-case "or" is a word
    assert words(parse("this or that")) == [["this"], ["or"], ["that"]]


def test_not_and_minus_exclude() -> None:
    q = parse('budget NOT draft -old -"first version"')
    assert words(q) == [["budget"]]
    assert excluded(q) == ["draft", "old", "first version"]
    assert parse('NOT "a b" x').excluded[0].is_phrase


def test_a_lone_minus_or_punctuation_is_ignored() -> None:
    assert words(parse("budget - !!! (draft)")) == [["budget"], ["draft"]]
    # an OR next to an item that normalises to nothing joins nothing
    assert words(parse("!!! OR budget")) == [["budget"]]
    assert words(parse("budget OR !!!")) == [["budget"]]
    assert parse('""').required == ()


def test_from_and_in_take_bare_or_quoted_values_and_repeat_as_any() -> None:
    q = parse('from:mia FROM:"Mia de Vries" in:sales in:"Sales team" budget')
    assert q.authors == ("mia", "Mia de Vries")
    assert q.places == ("sales", "Sales team")
    assert words(q) == [["budget"]]


def test_dates_keep_the_strictest() -> None:
    q = parse("before:2025-03-01 before:2025-02-01 after:2024-01-01 after:2024-06-30")
    assert q.before == date(2025, 2, 1)
    assert q.after == date(2024, 6, 30)


def test_has_attachment() -> None:
    assert parse("has:attachment").has_attachment
    assert parse("HAS:Attachment report").has_attachment
    assert parse("has:attachment").has_filters


def test_unknown_operators_are_text() -> None:
    assert words(parse("re:budget")) == [["re budget"]]
    assert words(parse("at 10:30")) == [["at"], ["10 30"]]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ('"quarterly review', "a quote is not closed"),
        ('from:"Mia', "a quote is not closed"),
        ("OR budget", "OR needs a word or phrase on both sides"),
        ("budget OR", "OR needs a word or phrase on both sides"),
        ("a OR OR b", "OR needs a word or phrase on both sides"),
        ("a OR -b", "OR joins words and phrases, not NOT terms"),
        ("a OR NOT b", "OR joins words and phrases, not NOT terms"),
        ("-a OR b", "OR needs a word or phrase on both sides"),
        ("a OR from:mia", "OR joins words and phrases, not filters"),
        ("budget NOT", "NOT needs a word or phrase after it"),
        ("NOT NOT budget", "NOT needs a word or phrase after it"),
        ("NOT OR budget", "NOT needs a word or phrase after it"),
        ("NOT from:mia", "from: cannot be negated"),
        ("-in:sales", "in: cannot be negated"),
        ("from:", "from: needs a value"),
        ('in:""', "in: needs a value"),
        ("before:yesterday", "before: wants a date as YYYY-MM-DD"),
        ("after:2025-13-01", "after: wants a date as YYYY-MM-DD"),
        ("after:2025-1-1", "after: wants a date as YYYY-MM-DD"),
        ("has:link", "has: knows only attachment"),
        ("x" * (MAX_QUERY_CHARS + 1), f"longer than {MAX_QUERY_CHARS} characters"),
        (" ".join(["w"] * (MAX_ATOMS + 1)), f"at most {MAX_ATOMS} words and phrases"),
        (
            '"' + " ".join(["w"] * (MAX_PHRASE_TOKENS + 1)) + '"',
            f"a phrase may have at most {MAX_PHRASE_TOKENS} words",
        ),
        (" ".join(["has:attachment"] * (MAX_FILTERS + 1)), f"at most {MAX_FILTERS} filters"),
        ("from:" + "m" * (MAX_VALUE_CHARS + 1), "longer than"),
    ],
)
def test_bad_queries_say_why_in_one_line(query: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(query)
    detail = caught.value.detail
    assert reason in detail
    assert detail.startswith("search query: ")
    assert "\n" not in detail


@given(st.text(max_size=MAX_QUERY_CHARS))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        q = parse(text)
    except ValidationFailed as e:
        assert "\n" not in e.detail
        return
    assert len(q.required) + len(q.excluded) <= MAX_ATOMS
    assert all(g.atoms for g in q.required)
    assert all(a.terms for g in q.required for a in g.atoms)
