"""Attribute-based group membership rules (Entra ID dynamic membership syntax subset)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.identity.rules import (
    MAX_DEPTH,
    MAX_PATTERN_LENGTH,
    MAX_RULE_LENGTH,
    Rule,
    RuleSyntaxError,
    parse_rule,
)


def matches(text: str, **attributes: Any) -> bool:
    return parse_rule(text).matches(attributes)


def syntax_error(text: str) -> RuleSyntaxError:
    """The error parse_rule raises for ``text`` (fails if it parses)."""
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("expected ")
    assert f"at position {info.value.position}" in message
    return info.value


# --------------------------------------------------------------------------- examples


def test_simple_equality() -> None:
    rule = parse_rule('user.department -eq "Sales"')
    assert rule.matches({"department": "Sales"})
    assert not rule.matches({"department": "HR"})
    assert not rule.matches({})


def test_and_with_not_equal() -> None:
    rule = parse_rule('(user.department -eq "HR") -and (user.country -ne "NL")')
    assert rule.matches({"department": "HR", "country": "BE"})
    assert not rule.matches({"department": "HR", "country": "NL"})
    assert not rule.matches({"department": "Sales", "country": "BE"})


def test_not_of_a_parenthesised_expression() -> None:
    rule = parse_rule('-not (user.department -eq "HR" -or user.department -eq "Legal")')
    assert rule.matches({"department": "Sales"})
    assert not rule.matches({"department": "Legal"})


def test_not_applies_to_a_single_comparison_without_parentheses() -> None:
    rule = parse_rule('-not user.a -eq "x" -and user.b -eq "y"')
    assert rule.matches({"a": "z", "b": "y"})
    assert not rule.matches({"a": "x", "b": "y"})  # not (-not (a -and b))
    assert not rule.matches({"a": "z", "b": "z"})


def test_double_not() -> None:
    assert matches('-not -not (a -eq "x")', a="x")
    assert not matches('-not -not (a -eq "x")', a="y")


def test_user_prefix_is_optional() -> None:
    assert matches("department -eq 'HR'", department="HR")
    assert parse_rule("department -eq 'HR'").properties() == frozenset({"department"})


def test_whitespace_is_flexible() -> None:
    assert matches('  (user.a-eq"x")\n-and\tuser.b -eq "y"  ', a="x", b="y")


# --------------------------------------------------------------------------- precedence


def test_and_binds_tighter_than_or() -> None:
    rule = parse_rule('user.a -eq "1" -or user.b -eq "1" -and user.c -eq "1"')
    # a -or (b -and c): true with only a, false with only b
    assert rule.matches({"a": "1"})
    assert not rule.matches({"b": "1"})
    assert rule.matches({"b": "1", "c": "1"})


def test_and_binds_tighter_than_or_on_the_left_too() -> None:
    rule = parse_rule('user.a -eq "1" -and user.b -eq "1" -or user.c -eq "1"')
    # (a -and b) -or c
    assert rule.matches({"c": "1"})
    assert not rule.matches({"a": "1"})


def test_parentheses_override_precedence() -> None:
    rule = parse_rule('(user.a -eq "1" -or user.b -eq "1") -and user.c -eq "1"')
    assert not rule.matches({"a": "1"})
    assert rule.matches({"a": "1", "c": "1"})


def test_not_binds_tighter_than_and() -> None:
    rule = parse_rule('-not user.a -eq "1" -or user.b -eq "1"')
    # (-not a) -or b
    assert rule.matches({"a": "1", "b": "1"})
    assert rule.matches({})
    assert not rule.matches({"a": "1"})


# --------------------------------------------------------------------------- case-insensitivity


def test_operators_are_case_insensitive() -> None:
    rule = parse_rule(
        '(USER.Department -EQ "hr") -AND -NOT (user.country -NotIn ["nl"])'
        ' -Or user.title -STARTSWITH "chief"'
    )
    assert rule.matches({"department": "HR", "country": "NL"})
    assert rule.matches({"title": "Chief Executive"})
    assert not rule.matches({"department": "HR", "country": "BE"})


def test_property_names_are_case_insensitive_in_rule_and_attributes() -> None:
    rule = parse_rule('user.DisplayName -eq "Ada"')
    assert rule.properties() == frozenset({"displayname"})
    assert rule.matches({"displayName": "Ada"})
    assert rule.matches({"DISPLAYNAME": "Ada"})


def test_exact_lower_case_attribute_key_wins_over_other_spellings() -> None:
    assert matches('a -eq "x"', A="y", a="x")
    assert matches('a -eq "x"', a="x", A="y")


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ('d -eq "SALES"', "sales"),
        ('d -ne "SALES"', "marketing"),
        ('d -startsWith "SAL"', "sales"),
        ('d -contains "LE"', "sales"),
        ('d -in ["HR", "SALES"]', "Sales"),
        ('d -match "^s.L"', "SALES"),
        ('d -eq "straße"', "STRASSE"),  # casefold, not lower
    ],
)
def test_values_compare_case_insensitively(rule: str, value: str) -> None:
    assert matches(rule, d=value)


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ('d -startsWith "Sa"', "Sales", True),
        ('d -startsWith "al"', "Sales", False),
        ('d -notStartsWith "Sa"', "Sales", False),
        ('d -notStartsWith "al"', "Sales", True),
        ('d -contains "ale"', "Sales", True),
        ('d -contains "x"', "Sales", False),
        ('d -notContains "ale"', "Sales", False),
        ('d -notContains "x"', "Sales", True),
        ('d -eq "Sal"', "Sales", False),
    ],
)
def test_string_operators(rule: str, value: str, expected: bool) -> None:
    assert matches(rule, d=value) is expected


def test_in_and_not_in_lists() -> None:
    rule = parse_rule('user.country -in ["NL", "BE", \'LU\']')
    assert rule.matches({"country": "be"})
    assert rule.matches({"country": "LU"})
    assert not rule.matches({"country": "DE"})
    assert not rule.matches({"country": "NLD"})  # whole values, not substrings
    not_in = parse_rule('user.country -notIn ["NL","BE"]')
    assert not_in.matches({"country": "DE"})
    assert not not_in.matches({"country": "nl"})


def test_single_element_list() -> None:
    assert matches('c -in ["NL"]', c="NL")


def test_match_searches_with_a_regular_expression() -> None:
    assert matches('user.mail -match "@example\\.org$"', mail="ada@Example.ORG")
    assert not matches('user.mail -match "@example\\.org$"', mail="ada@example.org.evil")
    assert matches('user.city -match "ago"', city="Chicago")  # search, not fullmatch
    assert matches('user.id -match "^\\d{3}$"', id="123")  # \d survives unescaping
    assert matches('user.id -match "^\\d{3}$"', id=123)
    assert not matches('user.id -notMatch "^\\d{3}$"', id="123")
    assert matches('user.id -notMatch "^\\d{3}$"', id="12a")


def test_boolean_literals_compare_with_boolean_and_string_values() -> None:
    rule = parse_rule("user.accountEnabled -eq true")
    assert rule.matches({"accountEnabled": True})
    assert not rule.matches({"accountEnabled": False})
    assert rule.matches({"accountEnabled": "True"})
    assert not rule.matches({})
    assert matches("user.accountEnabled -eq FALSE", accountEnabled=False)
    assert matches("user.accountEnabled -ne false", accountEnabled=True)
    assert matches('user.accountEnabled -eq "true"', accountEnabled=True)


def test_numbers_compare_by_their_text() -> None:
    assert matches('user.employeeId -eq "42"', employeeId=42)
    assert matches('user.employeeId -startsWith "4"', employeeId=42)


# --------------------------------------------------------------------------- null


def test_eq_null_and_ne_null() -> None:
    is_null = parse_rule("user.manager -eq null")
    assert is_null.matches({})
    assert is_null.matches({"manager": None})
    assert not is_null.matches({"manager": "bob"})
    assert not is_null.matches({"manager": ""})  # empty string is not null
    assert parse_rule("user.manager -ne NULL").matches({"manager": "bob"})
    assert not parse_rule("user.manager -ne null").matches({})


def test_missing_property_never_satisfies_a_positive_comparison() -> None:
    for rule in [
        'd -eq "x"',
        'd -startsWith ""',
        'd -contains ""',
        'd -in ["x"]',
        'd -match ".*"',
        "d -eq true",
    ]:
        assert not matches(rule), rule


def test_negated_operators_are_true_for_a_missing_property() -> None:
    for rule in ['d -ne "x"', 'd -notStartsWith ""', 'd -notContains ""', 'd -notIn ["x"]']:
        assert matches(rule), rule
    assert matches('d -notMatch ".*"')


def test_unsupported_value_types_behave_as_null() -> None:
    assert matches("d -eq null", d=["a", "b"])
    assert not matches('d -contains "a"', d={"a": 1})


# --------------------------------------------------------------------------- strings


def test_escaped_quotes_inside_strings() -> None:
    assert matches(r'title -eq "the \"boss\""', title='The "Boss"')
    assert matches(r"title -eq 'O\'Brien'", title="O'Brien")
    assert matches("""title -eq "O'Brien" """, title="O'Brien")
    assert matches(r'path -eq "C:\\"', path="C:\\")


def test_empty_string_literal() -> None:
    assert matches('d -eq ""', d="")
    assert not matches('d -eq ""', d="x")


# --------------------------------------------------------------------------- properties()


def test_properties_lists_every_lower_cased_property_once() -> None:
    rule = parse_rule(
        '(user.Department -eq "HR" -or department -eq "Legal") -and -not (Country -in ["NL"])'
    )
    assert rule.properties() == frozenset({"department", "country"})


# --------------------------------------------------------------------------- Rule object


def test_rule_is_a_frozen_value_compared_by_text() -> None:
    text = 'user.a -eq "1"'
    assert parse_rule(text) == parse_rule(text)
    assert hash(parse_rule(text)) == hash(Rule(text))
    assert parse_rule(text).text == text
    assert parse_rule(text) != parse_rule('user.a -eq "2"')
    with pytest.raises(AttributeError):
        parse_rule(text).text = "x"  # type: ignore[misc]


def test_constructing_a_rule_directly_validates_it() -> None:
    with pytest.raises(RuleSyntaxError):
        Rule("user.a -eq")


def test_rule_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at position"):
        parse_rule("user.a")


# --------------------------------------------------------------------------- syntax errors


def test_missing_operator() -> None:
    error = syntax_error('user.department "Sales"')
    assert error.position == 16
    assert "expected an operator such as -eq at position 16" in str(error)
    assert '"Sales"' in str(error)


def test_unknown_operator() -> None:
    error = syntax_error('user.department -equals "Sales"')
    assert error.position == 16
    assert "expected an operator such as -eq" in str(error)
    assert "-equals" in str(error)


def test_operator_not_in_the_subset_is_refused() -> None:
    assert syntax_error('user.otherMails -any "x"').position == 16


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "a property such as user.department"),
        ("   ", 3, "a property such as user.department"),
        ('-and a -eq "x"', 0, "a property such as user.department"),
        ('"x" -eq a', 0, "a property such as user.department"),
        ('device.deviceOSType -eq "x"', 0, "a property such as user.department"),
        ('user.a.b -eq "x"', 0, "a property such as user.department"),
        ('user. -eq "x"', 5, "a property name after 'user.'"),
        ("a -eq", 5, "a quoted string, true, false or null"),
        ("a -eq Sales", 6, "a quoted string, true, false or null"),
        ("a -startsWith null", 14, "a quoted string"),
        ("a -contains true", 12, "a quoted string"),
        ('a -in "x"', 6, 'a list such as ["a", "b"]'),
        ("a -in []", 7, "a quoted string"),
        ('a -in ["x" "y"]', 11, "',' or ']'"),
        ('a -in ["x",]', 11, "a quoted string"),
        ('a -in ["x"', 10, "',' or ']'"),
        ('(a -eq "x"', 10, "')'"),
        ('a -eq "x")', 9, "-and, -or or the end of the rule"),
        ('a -eq "x" b -eq "y"', 10, "-and, -or or the end of the rule"),
        ('a -eq "x" -and', 14, "a property such as user.department"),
        ('a -eq "x" -or ()', 15, "a property such as user.department"),
        ('a -eq "x" -not b -eq "y"', 10, "-and, -or or the end of the rule"),
        ('a -eq "x', 6, 'a closing " for the string'),
        ("a -eq 'x\\'", 6, "a closing ' for the string"),
        ('a -eq "x" & b', 10, "a property, an operator, a string"),
        ('a -eq "x" - b', 10, "a property, an operator, a string"),
        ('a -match "("', 9, "a valid regular expression"),
        ('a -match "[a-"', 9, "a valid regular expression"),
    ],
)
def test_syntax_errors_name_what_was_expected_and_where(
    text: str, position: int, expected: str
) -> None:
    error = syntax_error(text)
    assert error.position == position
    assert f"expected {expected}" in str(error)


def test_the_first_problem_is_reported_even_if_a_bad_character_follows() -> None:
    error = syntax_error('a "x" %')
    assert error.position == 2
    assert "operator" in str(error)


def test_error_message_stays_on_one_line_and_short() -> None:
    error = syntax_error('a "line one\nline two' + "x" * 500 + '"')
    assert "\n" not in str(error)
    assert len(str(error)) < 200


# --------------------------------------------------------------------------- limits


def test_rule_length_limit() -> None:
    padding = " " * (MAX_RULE_LENGTH - len('a -eq "x"'))
    assert matches('a -eq "x"' + padding, a="x")  # exactly at the limit
    error = syntax_error('a -eq "x"' + padding + " ")
    assert error.position == MAX_RULE_LENGTH
    assert f"at most {MAX_RULE_LENGTH} characters" in str(error)


def test_parenthesis_nesting_limit() -> None:
    def nested(depth: int) -> str:
        return "(" * depth + 'a -eq "x"' + ")" * depth

    assert matches(nested(MAX_DEPTH), a="x")
    error = syntax_error(nested(MAX_DEPTH + 1))
    assert error.position == MAX_DEPTH  # the parenthesis that is one too deep
    assert f"at most {MAX_DEPTH} levels of nesting" in str(error)


def test_not_nesting_counts_towards_the_depth_limit() -> None:
    assert matches("-not " * MAX_DEPTH + 'a -eq "x"', a="x")  # even count
    error = syntax_error("-not " * (MAX_DEPTH + 1) + 'a -eq "x"')
    assert error.position == 5 * MAX_DEPTH


def test_deep_nesting_within_the_length_limit_is_refused_not_a_crash() -> None:
    with pytest.raises(RuleSyntaxError):
        parse_rule("(" * 1990 + 'a -eq "x"')


def test_long_flat_chains_are_fine() -> None:
    text = " -or ".join(f'a -eq "{i}"' for i in range(120))
    assert len(text) < MAX_RULE_LENGTH
    assert matches(text, a="119")
    assert not matches(text, a="120")


def test_regular_expression_length_limit() -> None:
    assert matches('a -match "' + "x" * MAX_PATTERN_LENGTH + '"', a="x" * MAX_PATTERN_LENGTH)
    error = syntax_error('a -match "' + "x" * (MAX_PATTERN_LENGTH + 1) + '"')
    assert error.position == 9
    assert f"at most {MAX_PATTERN_LENGTH} characters" in str(error)


# --------------------------------------------------------------------------- property tests

PROPERTIES = ["a", "b", "c"]
WORDS = ["", "x", "X", "xy", "Xy", "y", "yx", "true", "false"]
OPERATORS = ["-eq", "-ne", "-startsWith", "-notStartsWith", "-contains", "-notContains"]
LIST_OPERATORS = ["-in", "-notIn"]
MATCH_OPERATORS = ["-match", "-notMatch"]
PATTERNS = ["^x", "y$", "x.", "^$", "[xy]{2}"]

values = st.one_of(st.none(), st.booleans(), st.sampled_from(WORDS))
attributes_strategy = st.dictionaries(st.sampled_from(PROPERTIES), values)


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    """The text of one random comparison over PROPERTIES."""
    name = draw(st.sampled_from(PROPERTIES))
    prefix = draw(st.sampled_from(["", "user.", "User."]))
    kind = draw(st.sampled_from(["string", "list", "match", "null", "bool"]))
    if kind == "string":
        operand = f'{draw(st.sampled_from(OPERATORS))} "{draw(st.sampled_from(WORDS))}"'
    elif kind == "list":
        items = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
        listed = ", ".join(f'"{item}"' for item in items)
        operand = f"{draw(st.sampled_from(LIST_OPERATORS))} [{listed}]"
    elif kind == "match":
        operand = f'{draw(st.sampled_from(MATCH_OPERATORS))} "{draw(st.sampled_from(PATTERNS))}"'
    elif kind == "null":
        operand = f"{draw(st.sampled_from(['-eq', '-ne']))} null"
    else:
        operand = (
            f"{draw(st.sampled_from(['-eq', '-ne']))} {draw(st.sampled_from(['true', 'FALSE']))}"
        )
    return f"{prefix}{name} {operand}"


def expressions() -> st.SearchStrategy[str]:
    """Random rule texts: comparisons combined with -and/-or/-not and parentheses."""
    return st.recursive(
        comparisons(),
        lambda inner: st.one_of(
            st.builds(lambda x: f"-not ({x})", inner),
            st.builds(lambda x, y: f"({x}) -and ({y})", inner, inner),
            st.builds(lambda x, y: f"({x}) -or ({y})", inner, inner),
        ),
        max_leaves=6,
    )


def oracle_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    assert isinstance(value, str)
    return value.lower()


def oracle(comparison: str, attributes: dict[str, Any]) -> bool:
    """An independent evaluation of one generated comparison (WORDS are ASCII)."""
    head, operator, operand = comparison.split(" ", 2)
    value = oracle_text(attributes.get(head.lower().removeprefix("user.")))
    operator = operator.lower()
    negated = operator in ("-ne", "-notstartswith", "-notcontains", "-notin", "-notmatch")
    if operand.lower() == "null":
        result = value is None
    elif value is None:
        result = False
    elif operator in ("-in", "-notin"):
        result = value in [item.strip().strip('"').lower() for item in operand[1:-1].split(",")]
    elif operator in ("-match", "-notmatch"):
        result = re.search(operand.strip('"'), value, re.IGNORECASE) is not None
    else:
        literal = operand.strip('"').lower()
        if operator in ("-eq", "-ne"):
            result = value == literal
        elif operator in ("-startswith", "-notstartswith"):
            result = value.startswith(literal)
        else:
            result = literal in value
    return result is not negated


@given(comparisons(), attributes_strategy)
def test_single_comparisons_agree_with_an_independent_oracle(
    comparison: str, attributes: dict[str, Any]
) -> None:
    assert parse_rule(comparison).matches(attributes) is oracle(comparison, attributes)


@given(expressions(), attributes_strategy)
def test_not_gives_the_opposite(rule: str, attributes: dict[str, Any]) -> None:
    assert parse_rule(f"-not ({rule})").matches(attributes) is not parse_rule(rule).matches(
        attributes
    )


@given(expressions(), expressions(), attributes_strategy)
def test_or_and_and_are_commutative(a: str, b: str, attributes: dict[str, Any]) -> None:
    assert parse_rule(f"({a}) -or ({b})").matches(attributes) == parse_rule(
        f"({b}) -or ({a})"
    ).matches(attributes)
    assert parse_rule(f"({a}) -and ({b})").matches(attributes) == parse_rule(
        f"({b}) -and ({a})"
    ).matches(attributes)


@given(expressions(), expressions(), attributes_strategy)
def test_combinators_mean_boolean_and_or(a: str, b: str, attributes: dict[str, Any]) -> None:
    x = parse_rule(a).matches(attributes)
    y = parse_rule(b).matches(attributes)
    assert parse_rule(f"({a}) -and ({b})").matches(attributes) is (x and y)
    assert parse_rule(f"({a}) -or ({b})").matches(attributes) is (x or y)


@given(comparisons(), comparisons(), comparisons(), attributes_strategy)
def test_precedence_without_parentheses(a: str, b: str, c: str, attributes: dict[str, Any]) -> None:
    x, y, z = (parse_rule(t).matches(attributes) for t in (a, b, c))
    assert parse_rule(f"{a} -or {b} -and {c}").matches(attributes) is (x or (y and z))
    assert parse_rule(f"{a} -and {b} -or {c}").matches(attributes) is ((x and y) or z)


@given(expressions())
def test_properties_are_those_named_in_the_text(rule: str) -> None:
    named = {name for name in PROPERTIES if re.search(rf"(?<![\w.]){name} |\.{name} ", rule)}
    assert parse_rule(rule).properties() == named


def quote(value: str, quote_char: str) -> str:
    escaped = value.replace("\\", "\\\\").replace(quote_char, "\\" + quote_char)
    return f"{quote_char}{escaped}{quote_char}"


@given(st.text(max_size=50), st.sampled_from(['"', "'"]))
def test_any_string_round_trips_through_quoting(value: str, quote_char: str) -> None:
    rule = parse_rule(f"user.title -eq {quote(value, quote_char)}")
    assert rule.matches({"title": value})
    assert rule.matches({"title": value.casefold()})
    assert not rule.matches({"title": value + "x"})


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=30))
def test_ascii_values_match_regardless_of_case(value: str) -> None:
    rule = parse_rule("user.title -eq " + quote(value, '"'))
    assert rule.matches({"title": value.upper()})
    assert rule.matches({"title": value.lower()})


@given(st.text(max_size=60))
def test_arbitrary_text_parses_or_raises_rule_syntax_error(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleSyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert "\n" not in str(error)
    else:
        assert isinstance(rule.matches({}), bool)
