"""``$[...]`` expressions with the semantics of Asterisk's ``ast_expr2``.

Values come in three kinds, and the kind decides what an operator does:

* a **number** (the result of arithmetic or a comparison);
* a **numeric string** (a token such as ``42`` or ``1.5``): compared as a number;
* a **string** (anything else, including ``"quoted"`` text, which keeps its quotes).

Comparisons are numeric only when neither side is a string.  ``a : re`` is a regex match
anchored at the start, ``a =~ re`` is unanchored; both return the first group when the
regex has one, else the length of the match.  The ternary is ``cond ? a :: b``.  Division
by zero gives ``2147483647`` (INT_MAX), as Asterisk does.  Numbers print like C's
``%.18Lg``.  A syntax error logs a warning and yields ``0``.

Precedence, loosest first: ``? ::``, ``|``, ``&``, comparisons, ``+ -``, ``* / %``,
unary ``! -``, ``: =~ ~~``, parentheses.
"""

from __future__ import annotations

import decimal
import logging
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["ExpressionSyntaxError", "evaluate_expression", "format_number"]

log = logging.getLogger(__name__)

INT_MAX = 2147483647
_CONTEXT = decimal.Context(prec=40)
_OPERATORS = ("||", "&&", "==", "=~", "~~", ">=", "<=", "!=", "::",
              "|", "&", "=", ">", "<", "+", ",", "-", "*", "/", "%", "?", "!", ":", "(", ")")
_NUMBER_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_WORD_TOKEN = re.compile(r"(?:[a-zA-Z0-9.';\\_^#@\x80-\U0010ffff]|\$(?!\{))+")
_STRTOD_PREFIX = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class ExpressionSyntaxError(ValueError):
    """The expression does not follow the grammar."""


class _Kind(Enum):
    NUMBER = 1
    NUMERIC_STRING = 2
    STRING = 3


@dataclass(frozen=True, slots=True)
class _Value:
    kind: _Kind
    text: str = ""
    number: decimal.Decimal = decimal.Decimal(0)

    @staticmethod
    def num(value: decimal.Decimal | int) -> _Value:
        return _Value(_Kind.NUMBER, number=_CONTEXT.create_decimal(value))

    def as_number(self) -> decimal.Decimal | None:
        """``to_number``: strings never convert; numeric strings go through strtold."""
        if self.kind is _Kind.NUMBER:
            return self.number
        if self.kind is _Kind.STRING:
            return None
        prefix = _STRTOD_PREFIX.match(self.text)
        return _CONTEXT.create_decimal(prefix.group(0).strip()) if prefix else decimal.Decimal(0)

    def as_text(self) -> str:
        return format_number(self.number) if self.kind is _Kind.NUMBER else self.text

    def is_zero_or_null(self) -> bool:
        if self.kind is _Kind.NUMBER:
            return self.number == 0
        if not self.text:
            return True
        number = self.as_number()
        return number is not None and number == 0


def format_number(value: decimal.Decimal) -> str:
    """C's ``%.18Lg``: 18 significant digits, trailing zeros dropped, exponent when large."""
    if value == value.to_integral_value() and abs(value) < 10**18:
        return str(int(value))
    shown = decimal.Context(prec=18, rounding=decimal.ROUND_HALF_EVEN).create_decimal(value)
    magnitude = shown.adjusted()
    if -4 <= magnitude < 18:
        return _strip_zeros(f"{shown:f}")
    mantissa = _strip_zeros(f"{shown.scaleb(-magnitude):f}")
    return f"{mantissa}e{'-' if magnitude < 0 else '+'}{abs(magnitude):02d}"


def _strip_zeros(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _make_str(text: str) -> _Value:
    """``make_str``: numeric when it starts with a digit or '.' and holds only those."""
    numeric = bool(text) and all(c.isdigit() or c == "." for c in text) and text[0] in "0123456789."
    return _Value(_Kind.NUMERIC_STRING if numeric else _Kind.STRING, text)


def _tokenize(expression: str) -> list[tuple[str, _Value | None]]:
    tokens: list[tuple[str, _Value | None]] = []
    index = 0
    while index < len(expression):
        char = expression[index]
        if char in " \t\r\n":
            index += 1
            continue
        if char == '"':
            end = expression.find('"', index + 1)
            if end < 0:
                raise ExpressionSyntaxError(f"unterminated quote at column {index}")
            tokens.append(("TOKEN", _Value(_Kind.STRING, expression[index : end + 1])))
            index = end + 1
            continue
        number = _NUMBER_TOKEN.match(expression, index)
        word = _WORD_TOKEN.match(expression, index)
        if word and (not number or word.end() > number.end()):
            tokens.append(("TOKEN", _Value(_Kind.STRING, word.group(0))))
            index = word.end()
            continue
        if number:
            tokens.append(("TOKEN", _Value(_Kind.NUMERIC_STRING, number.group(0))))
            index = number.end()
            continue
        symbol = next((op for op in _OPERATORS if expression.startswith(op, index)), None)
        if symbol is None:
            raise ExpressionSyntaxError(f"unexpected character {char!r} at column {index}")
        tokens.append(({"||": "|", "&&": "&", "==": "="}.get(symbol, symbol), None))
        index += len(symbol)
    return tokens


class _Parser:
    """Recursive descent over the token list, one method per precedence level."""

    def __init__(self, tokens: list[tuple[str, _Value | None]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position][0] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, _Value | None]:
        if self.position >= len(self.tokens):
            raise ExpressionSyntaxError("unexpected end of expression")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expect(self, kind: str) -> None:
        if self.take()[0] != kind:
            raise ExpressionSyntaxError(f"expected '{kind}'")

    def parse(self) -> _Value:
        if not self.tokens:
            return _Value(_Kind.STRING, "")
        value = self.ternary()
        if self.position != len(self.tokens):
            raise ExpressionSyntaxError(f"unexpected '{self.tokens[self.position][0]}'")
        return value

    def ternary(self) -> _Value:
        value = self.logical_or()
        while self.peek() == "?":
            self.take()
            when_true = self.logical_or()
            self.expect("::")
            when_false = self.logical_or()
            value = _op_cond(value, when_true, when_false)
        return value

    def logical_or(self) -> _Value:
        value = self.logical_and()
        while self.peek() == "|":
            self.take()
            right = self.logical_and()
            value = right if value.is_zero_or_null() else _settled(value)
        return value

    def logical_and(self) -> _Value:
        value = self.comparison()
        while self.peek() == "&":
            self.take()
            right = self.comparison()
            zero = value.is_zero_or_null() or right.is_zero_or_null()
            value = _Value.num(0) if zero else _settled(value)
        return value

    def comparison(self) -> _Value:
        value = self.additive()
        while self.peek() in ("=", "!=", "<", ">", "<=", ">="):
            symbol = self.take()[0]
            value = _compare(symbol, value, self.additive())
        return value

    def additive(self) -> _Value:
        value = self.multiplicative()
        while self.peek() in ("+", "-"):
            symbol = self.take()[0]
            right = self.multiplicative()
            value = _op_plus(value, right) if symbol == "+" else _op_minus(value, right)
        return value

    def multiplicative(self) -> _Value:
        value = self.unary()
        while self.peek() in ("*", "/", "%"):
            symbol = self.take()[0]
            value = _arithmetic(symbol, value, self.unary())
        return value

    def unary(self) -> _Value:
        if self.peek() == "-":
            self.take()
            number = self.unary().as_number()
            if number is None:
                log.warning("non-numeric argument")
                return _Value.num(0)
            return _Value.num(-number)
        if self.peek() == "!":
            self.take()
            return _op_compl(self.unary())
        return self.regex()

    def regex(self) -> _Value:
        value = self.primary()
        while self.peek() in (":", "=~", "~~"):
            symbol = self.take()[0]
            right = self.primary()
            if symbol == "~~":
                value = _make_str(_unquote(value.as_text()) + _unquote(right.as_text()))
            else:
                value = _op_regex(value, right, anchored=symbol == ":")
        return value

    def primary(self) -> _Value:
        kind, value = self.take()
        if kind == "(":
            inner = self.ternary()
            self.expect(")")
            return inner
        if kind != "TOKEN" or value is None:
            raise ExpressionSyntaxError(f"unexpected '{kind}'")
        return value


def _settled(value: _Value) -> _Value:
    """``is_zero_or_null`` converts a numeric string to a number in place; mirror that."""
    if value.kind is _Kind.NUMERIC_STRING:
        number = value.as_number()
        assert number is not None
        return _Value.num(number)
    return value


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}


def _compare(symbol: str, left: _Value, right: _Value) -> _Value:
    """Text comparison when either side is a string, else numeric."""
    if left.kind is _Kind.STRING or right.kind is _Kind.STRING:
        outcome = _COMPARISONS[symbol](left.as_text(), right.as_text())
    else:
        outcome = _COMPARISONS[symbol](left.as_number(), right.as_number())
    return _Value.num(1 if outcome else 0)


def _op_plus(left: _Value, right: _Value) -> _Value:
    a, b = left.as_number(), right.as_number()
    if a is None:
        log.warning("non-numeric argument")
        return _Value.num(0) if b is None else _settled(right)
    if b is None:
        return _settled(left)
    return _Value.num(a + b)


def _op_minus(left: _Value, right: _Value) -> _Value:
    a, b = left.as_number(), right.as_number()
    if a is None:
        log.warning("non-numeric argument")
        return _Value.num(0) if b is None else _Value.num(-b)
    if b is None:
        log.warning("non-numeric argument")
        return _settled(left)
    return _Value.num(a - b)


def _arithmetic(symbol: str, left: _Value, right: _Value) -> _Value:
    a, b = left.as_number(), right.as_number()
    if symbol == "/" and a is not None and b is None:
        log.warning("non-numeric argument")
        return _Value.num(INT_MAX)
    if a is None or b is None:
        log.warning("non-numeric argument")
        return _Value.num(0)
    if symbol == "*":
        return _Value.num(a * b)
    if b == 0:
        log.warning("division by zero")
        # '/' answers INT_MAX; '%' hands back its right operand (the zero).
        return _Value.num(INT_MAX) if symbol == "/" else _Value.num(b)
    if symbol == "/":
        return _Value.num(_CONTEXT.divide(a, b))
    return _Value.num(_CONTEXT.remainder(a, b))  # fmodl: the sign follows the dividend


def _op_compl(value: _Value) -> _Value:
    if value.kind is _Kind.NUMBER:
        truth = value.number != 0
    elif not value.text or value.text == "0":
        truth = False
    else:
        digits = re.match(r"\s*[+-]?\d+", value.text)  # atoi: a leading integer or 0
        truth = bool(digits and int(digits.group(0)))
    return _Value.num(0 if truth else 1)


def _op_cond(condition: _Value, when_true: _Value, when_false: _Value) -> _Value:
    if condition.kind is _Kind.STRING:
        text = condition.text
        return when_true if text and text != '""' and text != "0" else when_false
    number = condition.as_number()
    return when_true if number else when_false


def _unquote(text: str) -> str:
    """``strip_quotes``: a value wrapped in double quotes loses every double quote."""
    if len(text) >= 1 and text[0] == '"' and text[-1] == '"':
        return text.replace('"', "")
    return text


def _op_regex(subject: _Value, pattern: _Value, *, anchored: bool) -> _Value:
    text, source = _unquote(subject.as_text()), _unquote(pattern.as_text())
    try:
        compiled = re.compile(source)
    except re.error as exc:
        log.warning("regcomp() error : %s", exc)
        return _make_str("")
    found = compiled.search(text)
    if found is not None and (not anchored or found.start() == 0):
        if compiled.groups and found.start(1) >= 0:
            return _make_str(found.group(1))
        return _Value.num(found.end() - found.start())
    return _Value.num(0) if compiled.groups == 0 else _make_str("")


def evaluate_expression(expression: str) -> str:
    """Evaluate the text inside ``$[...]`` (already variable-substituted)."""
    try:
        return _Parser(_tokenize(expression)).parse().as_text()
    except ExpressionSyntaxError as exc:
        log.warning("syntax error in expression '%.80s': %s", expression, exc)
        return "0"
    except (decimal.DecimalException, RecursionError) as exc:
        # Numbers beyond what the arithmetic can hold; Asterisk warns "overflow" too.
        log.warning("overflow in expression '%.80s': %s", expression, type(exc).__name__)
        return "0"
