"""Attribute-based group membership rules, a subset of Entra ID dynamic membership syntax.

A rule such as ``(user.department -eq "HR") -and -not (user.country -eq "NL")`` is parsed
once with :func:`parse_rule` and evaluated against a user's attributes with
:meth:`Rule.matches`. Pure: no I/O and no global state.

Grammar (``-and`` binds tighter than ``-or``; ``-not`` binds tightest)::

    rule       := or_expr END
    or_expr    := and_expr ("-or" and_expr)*
    and_expr   := unary ("-and" unary)*
    unary      := "-not" unary | primary
    primary    := "(" or_expr ")" | comparison
    comparison := property operator value
    property   := ["user."] NAME                      (letters, digits, underscore)
    operator   := -eq | -ne | -startsWith | -notStartsWith | -contains | -notContains
                | -in | -notIn | -match | -notMatch   (case-insensitive)
    value      := STRING | true | false | null | "[" STRING ("," STRING)* "]"

Semantics:

* property names and operators are case-insensitive; the ``user.`` prefix is optional;
* a missing property is null; values that are not ``str``, ``bool``, ``int`` or ``float``
  are treated as null as well; booleans compare as ``"true"``/``"false"``, numbers as
  their ``str()``;
* string comparisons are case-insensitive (``str.casefold``); ``-match`` uses
  :func:`re.search` with :data:`re.IGNORECASE`;
* every negated operator (``-ne``, ``-notIn``, ...) is the exact negation of its positive
  form, so ``user.department -ne "HR"`` is true for a user without a department;
* inside a string a backslash escapes a quote or a backslash; any other backslash is kept
  as-is, so regular expressions such as ``"^\\d+$"`` can be written naturally;
* error positions are 0-based character offsets into the rule text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "MAX_DEPTH",
    "MAX_PATTERN_LENGTH",
    "MAX_RULE_LENGTH",
    "Rule",
    "RuleSyntaxError",
    "parse_rule",
]

MAX_RULE_LENGTH: Final = 2000
MAX_DEPTH: Final = 20
MAX_PATTERN_LENGTH: Final = 200


class RuleSyntaxError(ValueError):
    """A rule could not be parsed; ``position`` is the 0-based offset of the problem."""

    def __init__(self, expected: str, position: int, found: str | None = None) -> None:
        message = f"expected {expected} at position {position}"
        if found is not None:
            message += f", found {found}"
        super().__init__(message)
        self.expected = expected
        self.position = position
        self.found = found


# --------------------------------------------------------------------------- AST


def _text_of(value: object) -> str | None:
    """The text form of an attribute value, or None for null and unsupported types."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class Equals:
    """``name -eq value``; ``value`` is casefolded, or None for ``-eq null``."""

    name: str
    value: str | None

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        text = _text_of(attributes.get(self.name))
        if self.value is None:
            return text is None
        return text is not None and text.casefold() == self.value


@dataclass(frozen=True, slots=True)
class StartsWith:
    """``name -startsWith prefix``; ``prefix`` is casefolded."""

    name: str
    prefix: str

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        text = _text_of(attributes.get(self.name))
        return text is not None and text.casefold().startswith(self.prefix)


@dataclass(frozen=True, slots=True)
class Contains:
    """``name -contains part`` (substring); ``part`` is casefolded."""

    name: str
    part: str

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        text = _text_of(attributes.get(self.name))
        return text is not None and self.part in text.casefold()


@dataclass(frozen=True, slots=True)
class In:
    """``name -in ["a", "b"]``; ``values`` are casefolded."""

    name: str
    values: frozenset[str]

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        text = _text_of(attributes.get(self.name))
        return text is not None and text.casefold() in self.values


@dataclass(frozen=True, slots=True)
class Matches:
    """``name -match "regex"`` (``re.search``, case-insensitive)."""

    name: str
    pattern: re.Pattern[str]

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        text = _text_of(attributes.get(self.name))
        return text is not None and self.pattern.search(text) is not None


@dataclass(frozen=True, slots=True)
class Not:
    """``-not operand``; also how the negated operators (``-ne``, ...) are represented."""

    operand: Expression

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        return not self.operand.evaluate(attributes)


@dataclass(frozen=True, slots=True)
class And:
    """``a -and b -and ...`` (short-circuit)."""

    operands: tuple[Expression, ...]

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        return all(operand.evaluate(attributes) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    """``a -or b -or ...`` (short-circuit)."""

    operands: tuple[Expression, ...]

    def evaluate(self, attributes: Mapping[str, object]) -> bool:
        return any(operand.evaluate(attributes) for operand in self.operands)


Comparison = Equals | StartsWith | Contains | In | Matches
Expression = Comparison | Not | And | Or


def _walk(expression: Expression) -> Iterator[Comparison]:
    """All comparisons in an expression tree."""
    if isinstance(expression, Not):
        yield from _walk(expression.operand)
    elif isinstance(expression, And | Or):
        for operand in expression.operands:
            yield from _walk(operand)
    else:
        yield expression


# --------------------------------------------------------------------------- tokenizer

_TOKEN_RE: Final = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<operator>-[A-Za-z]+)
    | (?P<name>[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]*)*)
    | (?P<punct>[()\[\],])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE_RE: Final = re.compile(r"""\\([\\"'])""")


@dataclass(frozen=True, slots=True)
class _Token:
    """One token: ``kind`` is string/operator/name/punct/end; ``value`` is unescaped."""

    kind: str
    text: str
    position: int
    value: str

    def describe(self) -> str:
        """A short one-line description for error messages."""
        if self.kind == "end":
            return "end of rule"
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return repr(text)


def _tokenize(text: str) -> Iterator[_Token]:
    """Yield the tokens of rule text lazily, ending with an ``end`` token.

    Lazy so that a bad character is only reported once the parser gets there, after any
    earlier syntax error.
    """
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            char = text[position]
            if char in "\"'":
                raise RuleSyntaxError(
                    f"a closing {char} for the string that starts", position, "end of rule"
                )
            raise RuleSyntaxError(
                "a property, an operator, a string, '(' or ')'", position, repr(char)
            )
        kind = match.lastgroup
        assert kind is not None
        lexeme = match.group()
        if kind == "string":
            yield _Token(kind, lexeme, position, _ESCAPE_RE.sub(r"\1", lexeme[1:-1]))
        elif kind == "operator":
            yield _Token(kind, lexeme, position, lexeme.lower())
        elif kind != "space":
            yield _Token(kind, lexeme, position, lexeme)
        position = match.end()
    yield _Token("end", "", len(text), "")


# --------------------------------------------------------------------------- parser

_OPERATORS: Final = {
    "-eq": ("eq", False),
    "-ne": ("eq", True),
    "-startswith": ("startswith", False),
    "-notstartswith": ("startswith", True),
    "-contains": ("contains", False),
    "-notcontains": ("contains", True),
    "-in": ("in", False),
    "-notin": ("in", True),
    "-match": ("match", False),
    "-notmatch": ("match", True),
}
_PROPERTY_EXPECTED: Final = "a property such as user.department"


class _Parser:
    """Recursive descent parser over the token list (see the module grammar)."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._current = next(self._tokens)
        self._depth = 0

    def parse(self) -> Expression:
        expression = self._or()
        token = self._peek()
        if token.kind != "end":
            raise RuleSyntaxError(
                "-and, -or or the end of the rule", token.position, token.describe()
            )
        return expression

    # helpers

    def _peek(self) -> _Token:
        return self._current

    def _advance(self) -> _Token:
        token = self._current
        if token.kind != "end":
            self._current = next(self._tokens)
        return token

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind == "operator" and token.value == keyword

    def _at_punct(self, punct: str) -> bool:
        token = self._peek()
        return token.kind == "punct" and token.value == punct

    def _expect_punct(self, punct: str, expected: str) -> _Token:
        if not self._at_punct(punct):
            token = self._peek()
            raise RuleSyntaxError(expected, token.position, token.describe())
        return self._advance()

    def _expect_string(self) -> _Token:
        token = self._peek()
        if token.kind != "string":
            raise RuleSyntaxError("a quoted string", token.position, token.describe())
        return self._advance()

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise RuleSyntaxError(f"at most {MAX_DEPTH} levels of nesting", token.position)

    # grammar

    def _or(self) -> Expression:
        operands = [self._and()]
        while self._at_keyword("-or"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Expression:
        operands = [self._unary()]
        while self._at_keyword("-and"):
            self._advance()
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _unary(self) -> Expression:
        if not self._at_keyword("-not"):
            return self._primary()
        self._enter(self._advance())
        operand = self._unary()
        self._depth -= 1
        return Not(operand)

    def _primary(self) -> Expression:
        token = self._peek()
        if self._at_punct("("):
            self._enter(self._advance())
            expression = self._or()
            self._expect_punct(")", "')' or an operator such as -and")
            self._depth -= 1
            return expression
        if token.kind == "name":
            return self._comparison()
        raise RuleSyntaxError(f"{_PROPERTY_EXPECTED} or '('", token.position, token.describe())

    def _property(self) -> str:
        token = self._advance()
        parts = token.text.split(".")
        if len(parts) == 2 and parts[0].lower() == "user":
            if not parts[1]:
                raise RuleSyntaxError(
                    "a property name after 'user.'", token.position + len(token.text)
                )
            return parts[1].lower()
        if len(parts) == 1:
            return parts[0].lower()
        raise RuleSyntaxError(_PROPERTY_EXPECTED, token.position, token.describe())

    def _comparison(self) -> Expression:
        name = self._property()
        token = self._peek()
        operator = _OPERATORS.get(token.value) if token.kind == "operator" else None
        if operator is None:
            raise RuleSyntaxError("an operator such as -eq", token.position, token.describe())
        self._advance()
        kind, negated = operator
        comparison: Comparison
        if kind == "eq":
            comparison = Equals(name, self._scalar())
        elif kind == "startswith":
            comparison = StartsWith(name, self._expect_string().value.casefold())
        elif kind == "contains":
            comparison = Contains(name, self._expect_string().value.casefold())
        elif kind == "in":
            comparison = In(name, self._string_list())
        else:
            comparison = Matches(name, self._pattern())
        return Not(comparison) if negated else comparison

    def _scalar(self) -> str | None:
        """A string, true, false or null (casefolded; null is None)."""
        token = self._peek()
        if token.kind == "string":
            return self._advance().value.casefold()
        if token.kind == "name" and token.text.lower() in ("true", "false", "null"):
            self._advance()
            word = token.text.lower()
            return None if word == "null" else word
        raise RuleSyntaxError(
            "a quoted string, true, false or null", token.position, token.describe()
        )

    def _string_list(self) -> frozenset[str]:
        """``["a", "b", ...]`` with at least one element."""
        self._expect_punct("[", 'a list such as ["a", "b"]')
        values = [self._expect_string().value.casefold()]
        while self._at_punct(","):
            self._advance()
            values.append(self._expect_string().value.casefold())
        self._expect_punct("]", "',' or ']'")
        return frozenset(values)

    def _pattern(self) -> re.Pattern[str]:
        """A quoted regular expression, compiled case-insensitively."""
        token = self._expect_string()
        if len(token.value) > MAX_PATTERN_LENGTH:
            raise RuleSyntaxError(
                f"a regular expression of at most {MAX_PATTERN_LENGTH} characters",
                token.position,
                f"one of {len(token.value)} characters",
            )
        try:
            return re.compile(token.value, re.IGNORECASE)
        except re.error as exc:
            raise RuleSyntaxError(
                "a valid regular expression", token.position, f"{token.describe()} ({exc.msg})"
            ) from None


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Rule:
    """A parsed membership rule; ``Rule(text)`` parses and may raise RuleSyntaxError."""

    text: str
    _expression: Expression = field(init=False, repr=False, compare=False)
    _properties: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"rule text must be a str, not {type(self.text).__name__}")
        if len(self.text) > MAX_RULE_LENGTH:
            raise RuleSyntaxError(
                f"a rule of at most {MAX_RULE_LENGTH} characters",
                MAX_RULE_LENGTH,
                f"{len(self.text)} characters",
            )
        expression = _Parser(self.text).parse()
        object.__setattr__(self, "_expression", expression)
        object.__setattr__(self, "_properties", frozenset(c.name for c in _walk(expression)))

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        """Whether a user with these attributes (names case-insensitive) satisfies the rule."""
        lowered: dict[str, object] = {}
        for key, value in attributes.items():
            if isinstance(key, str):
                lower = key.lower()
                if lower not in lowered or key == lower:
                    lowered[lower] = value
        return self._expression.evaluate(lowered)

    def properties(self) -> frozenset[str]:
        """The lower-cased property names the rule reads."""
        return self._properties


def parse_rule(text: str) -> Rule:
    """Parse rule text; raises RuleSyntaxError with the position of the first problem."""
    return Rule(text)
