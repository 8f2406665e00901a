"""The search query language: a small parser producing a :class:`Query`. Pure, no I/O.

Syntax (whitespace separates items; ``OR`` and ``NOT`` are operators only in capitals)::

    budget review          both words (AND is implied between items)
    "quarterly review"     the exact phrase: the words next to each other, in this order
    budget OR forecast     either; OR binds tighter than the implied AND:
                           ``q3 budget OR forecast`` is q3 AND (budget OR forecast)
    NOT draft, -draft      not this word (or -"a phrase", NOT "a phrase")
    from:mia               written by a person the caller resolves (from:"Mia de Vries")
    in:sales               in a channel, team or chat with that name (in:"Sales team")
    before:2025-01-31      created before that day (UTC)
    after:2025-01-01       created after that day (UTC): from 2025-01-02 00:00 on
    has:attachment         with at least one attachment

Words are normalised and split like message text (``overleg.search.text``): a word that
splits into several (``e-mail``, ``zoë's``) is matched as a phrase of its parts. Items that
normalise to nothing (``!!!``) are ignored. A ``name:value`` whose name is not an operator
is text (``re:budget`` is the words ``re`` and ``budget``). Parentheses are punctuation,
not grouping. Repeating ``from:`` or ``in:`` means any of them; repeating ``before:`` or
``after:`` keeps the strictest.

Errors raise ``ValidationFailed`` with a one-line reason. The bounds below keep a query's
cost bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from overleg.kernel.errors import ValidationFailed
from overleg.search.text import query_tokens

MAX_QUERY_CHARS = 500
MAX_ATOMS = 16  # words and phrases, positive and negated
MAX_PHRASE_TOKENS = 32
MAX_FILTERS = 16
MAX_VALUE_CHARS = 200

OPERATORS = ("from", "in", "before", "after", "has")
HAS_VALUES = ("attachment",)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OPERATOR = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)


@dataclass(frozen=True)
class Atom:
    """A word or phrase: normalised terms with their offsets (a word has one term, or
    several when it splits, e.g. ``e-mail``)."""

    text: str
    terms: tuple[tuple[int, str], ...]

    @property
    def is_phrase(self) -> bool:
        return len(self.terms) > 1


@dataclass(frozen=True)
class AnyOf:
    """A group a message must match at least one atom of (a single atom without OR)."""

    atoms: tuple[Atom, ...]


@dataclass(frozen=True)
class Query:
    required: tuple[AnyOf, ...] = ()
    excluded: tuple[Atom, ...] = ()
    authors: tuple[str, ...] = ()  # from: values as typed
    places: tuple[str, ...] = ()  # in: values as typed
    before: date | None = None
    after: date | None = None
    has_attachment: bool = False

    @property
    def has_filters(self) -> bool:
        return bool(self.authors or self.places or self.before or self.after or self.has_attachment)


def _fail(reason: str) -> ValidationFailed:
    return ValidationFailed(f"search query: {reason}")


# --- lexing --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "word" | "phrase" | "or" | "not" | "filter"
    text: str = ""
    negated: bool = False
    name: str = ""  # of a filter


def _read_quoted(q: str, i: int) -> tuple[str, int]:
    """``q[i]`` is a quote: the text up to the closing quote, and the index after it."""
    end = q.find('"', i + 1)
    if end < 0:
        raise _fail("a quote is not closed")
    return q[i + 1 : end], end + 1


def _lex(q: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(q)
    while i < n:
        if q[i].isspace():
            i += 1
            continue
        if q[i] == '"':
            text, i = _read_quoted(q, i)
            out.append(_Lexeme("phrase", text))
            continue
        start = i
        while i < n and not q[i].isspace() and q[i] != '"':
            i += 1
        chunk = q[start:i]
        quoted_next = i < n and q[i] == '"'
        if quoted_next and chunk == "-":
            text, i = _read_quoted(q, i)
            out.append(_Lexeme("phrase", text, negated=True))
            continue
        op = _OPERATOR.fullmatch(chunk)
        if op and op.group(1).lower() in OPERATORS:
            name, value = op.group(1).lower(), op.group(2)
            if not value and quoted_next:
                value, i = _read_quoted(q, i)
            out.append(_Lexeme("filter", value.strip(), name=name))
            continue
        if chunk == "OR":
            out.append(_Lexeme("or"))
        elif chunk == "NOT":
            out.append(_Lexeme("not"))
        elif chunk.startswith("-") and len(chunk) > 1:
            rest = chunk[1:]
            op = _OPERATOR.fullmatch(rest)
            if op and op.group(1).lower() in OPERATORS:
                raise _fail(f"{op.group(1).lower()}: cannot be negated")
            out.append(_Lexeme("word", rest, negated=True))
        else:
            out.append(_Lexeme("word", chunk))
    return out


# --- parsing -------------------------------------------------------------------------


@dataclass
class _Builder:
    groups: list[list[Atom]] = field(default_factory=list)
    excluded: list[Atom] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    before: date | None = None
    after: date | None = None
    has_attachment: bool = False
    atoms: int = 0
    filters: int = 0


def _atom(text: str) -> Atom | None:
    terms = query_tokens(text)
    if not terms:
        return None
    if len(terms) > MAX_PHRASE_TOKENS:
        raise _fail(f"a phrase may have at most {MAX_PHRASE_TOKENS} words")
    return Atom(text, tuple((t.position, t.term) for t in terms))


def _day(name: str, value: str) -> date:
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(f"{name}: wants a date as YYYY-MM-DD, not {value[:40]!r}")


def _filter(b: _Builder, name: str, value: str) -> None:
    if not value:
        raise _fail(f"{name}: needs a value")
    if len(value) > MAX_VALUE_CHARS:
        raise _fail(f"the value of {name}: is longer than {MAX_VALUE_CHARS} characters")
    b.filters += 1
    if b.filters > MAX_FILTERS:
        raise _fail(f"at most {MAX_FILTERS} filters")
    if name == "from":
        b.authors.append(value)
    elif name == "in":
        b.places.append(value)
    elif name == "before":
        d = _day(name, value)
        b.before = d if b.before is None else min(b.before, d)
    elif name == "after":
        d = _day(name, value)
        b.after = d if b.after is None else max(b.after, d)
    else:  # has
        if value.lower() not in HAS_VALUES:
            raise _fail(f"has: knows only {', '.join(HAS_VALUES)}, not {value[:40]!r}")
        b.has_attachment = True


def parse(text: str) -> Query:
    """Parse a query. ``ValidationFailed`` (one-line reason) for bad syntax or bounds.

    The result may have no required group (only NOT terms or filters); whether that is
    acceptable is the searcher's decision.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise _fail(f"longer than {MAX_QUERY_CHARS} characters")
    b = _Builder()
    negate_next = False  # a NOT is waiting for its atom
    or_pending = False  # an OR is waiting for its right-hand atom
    after_positive = False  # the previous item was a positive word or phrase
    for lx in _lex(text):
        if lx.kind == "or":
            if negate_next:
                raise _fail("NOT needs a word or phrase after it")
            if not after_positive or or_pending:
                raise _fail("OR needs a word or phrase on both sides")
            or_pending, after_positive = True, False
            continue
        if lx.kind == "not":
            if or_pending:
                raise _fail("OR joins words and phrases, not NOT terms")
            if negate_next:
                raise _fail("NOT needs a word or phrase after it")
            negate_next, after_positive = True, False
            continue
        if lx.kind == "filter":
            if negate_next:
                raise _fail(f"{lx.name}: cannot be negated")
            if or_pending:
                raise _fail("OR joins words and phrases, not filters")
            _filter(b, lx.name, lx.text)
            after_positive = False
            continue
        # a word or a phrase
        negated = lx.negated or negate_next
        if negated and or_pending:
            raise _fail("OR joins words and phrases, not NOT terms")
        b.atoms += 1
        if b.atoms > MAX_ATOMS:
            raise _fail(f"at most {MAX_ATOMS} words and phrases")
        atom = _atom(lx.text)
        if negated:
            if atom is not None:
                b.excluded.append(atom)
        elif or_pending and b.groups:
            if atom is not None:
                b.groups[-1].append(atom)
        elif atom is not None:
            b.groups.append([atom])
        elif not or_pending:
            # An item that normalises to nothing still holds its place, so that an OR
            # next to it joins with an (empty) group rather than the previous one.
            b.groups.append([])
        negate_next, or_pending, after_positive = False, False, not negated
    if negate_next:
        raise _fail("NOT needs a word or phrase after it")
    if or_pending:
        raise _fail("OR needs a word or phrase on both sides")
    return Query(
        required=tuple(AnyOf(tuple(g)) for g in b.groups if g),
        excluded=tuple(b.excluded),
        authors=tuple(b.authors),
        places=tuple(b.places),
        before=b.before,
        after=b.after,
        has_attachment=b.has_attachment,
    )
