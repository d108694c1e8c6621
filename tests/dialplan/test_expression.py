"""``$[...]`` operators and Asterisk's quirks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialplan.expression import evaluate_expression, format_number


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        # arithmetic and precedence
        ("1+2", "3"),
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 - 4 - 3", "3"),
        ("7 / 2", "3.5"),
        ("10 / 3", "3.33333333333333333"),
        ("7 % 3", "1"),
        ("-7 % 3", "-1"),
        ("-3 + 5", "2"),
        ("- - 4", "4"),
        ("2 * -3", "-6"),
        ("1.5 + 1", "2.5"),
        ("0.1 + 0.2", "0.3"),
        ("100000000000000000000 * 10", "1e+21"),
        # division by zero is INT_MAX; modulus by zero hands back the zero
        ("1 / 0", "2147483647"),
        ("5 % 0", "0"),
        # non-numeric operands
        ("abc + 1", "1"),
        ("1 + abc", "1"),
        ("abc + def", "0"),
        ("abc - 1", "-1"),
        ("5 - abc", "5"),
        ("abc * 2", "0"),
        ("abc / 2", "0"),
        ("2 / abc", "2147483647"),
        ("abc % 2", "0"),
        # comparisons: numeric when both sides are numbers, else text
        ("10 < 9", "0"),
        ("10 > 9", "1"),
        ("10 < 9a", "1"),
        ("abc < abd", "1"),
        ("2 <= 2", "1"),
        ("3 >= 4", "0"),
        ("1 = 1.0", "1"),
        ("01 = 1", "1"),
        ("abc = abc", "1"),
        ("abc == abc", "1"),
        ("abc != abd", "1"),
        ("5 != 5", "0"),
        # quoted strings keep their quotes, so they only equal quoted strings
        ('"abc" = abc', "0"),
        ('"abc" = "abc"', "1"),
        ('"" = ""', "1"),
        # logic
        ("0 | 5", "5"),
        ("3 | 4", "3"),
        ("05 | 3", "5"),  # the left value was converted to a number by the test
        ("3 & 4", "3"),
        ("3 & 0", "0"),
        ("abc & 1", "abc"),
        (" & 1", "0"),
        ("1 || 0", "1"),
        ("1 && 0", "0"),
        ("!0", "1"),
        ("!5", "0"),
        ("!abc", "1"),  # atoi("abc") is 0
        ("!12abc", "0"),
        ("!(1 = 2)", "1"),
        # regex matches: ':' is anchored, '=~' is not; group or length
        ("abcde : abc", "3"),
        ("abcde : bcd", "0"),
        ('abcde : "a(bc)"', "bc"),
        ('abcde : "x(bc)"', ""),
        ("abcde =~ bcd", "3"),
        ('abcde =~ "c(d)"', "d"),
        ('"12345" : "[0-9]+"', "5"),
        ("5551212 : 555", "3"),
        # ternary uses '::'
        ("1 ? yes :: no", "yes"),
        ("0 ? yes :: no", "no"),
        ("abc ? yes :: no", "yes"),
        ('"" ? yes :: no', "no"),
        ("1 = 2 ? yes :: no", "no"),
        # concatenation
        ("a ~~ b", "ab"),
        # tokens come back as written
        ("007", "007"),
        ("abc", "abc"),
        ('"quoted"', '"quoted"'),
        ("", ""),
        # syntax errors give 0
        ("1 +", "0"),
        ("(1", "0"),
        ("1 2", "0"),
        ("1 ? 2", "0"),
        ("{", "0"),
    ],
)
def test_expression(expression: str, result: str) -> None:
    assert evaluate_expression(expression) == result


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))
def test_integer_arithmetic_matches_python(a: int, b: int) -> None:
    assert evaluate_expression(f"{a} + {b}") == str(a + b)
    assert evaluate_expression(f"{a} * {b}") == str(a * b)
    assert evaluate_expression(f"{a} < {b}") == str(int(a < b))


@given(st.text(max_size=30))
def test_never_raises(expression: str) -> None:
    assert isinstance(evaluate_expression(expression), str)


def test_number_formatting() -> None:
    from decimal import Decimal

    assert format_number(Decimal("0.00001")) == "1e-05"
    assert format_number(Decimal("-2")) == "-2"
    assert format_number(Decimal("2.50")) == "2.5"
