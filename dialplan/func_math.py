"""``MATH(expression[,type])``, computed the way Asterisk's func_math does.

The expression is two numbers around one operator.  The operator is not chosen by
precedence: the first of ``* / % ^ AND XOR OR > < = + -`` found anywhere in the text wins,
in that order, so ``1+2*3`` is "1+2" (read as 1) times 3 and ``5*-2`` is 5 times -2.  One
leading ``-`` belongs to the first number.  Numbers are read like C's ``sscanf("%30lf")``:
blanks before them skipped, anything after them ignored (``170 AND 63`` works).

Arithmetic is in doubles; ``% << >> AND XOR OR`` truncate both numbers to 32-bit ints.
Dividing by zero *or by a negative number* gives 0, as in Asterisk.  The result is printed
with ``%f`` unless *type* asks for ``i``/``int``, ``h``/``hex`` or ``c``/``char``, which
cast as C does on x86-64 Linux: a value that does not fit an int becomes -2147483648.
Comparisons give ``TRUE`` or ``FALSE`` whatever the type.  MATH has no write side.

Where C would trap (``-2147483648 % -1``) the result is 0 rather than a crash.
"""

from __future__ import annotations

import logging
import math
import operator
import re
from collections.abc import Callable

from dialplan.args import separate_args
from dialplan.call import Call
from dialplan.registry import DialplanFunction, Registry

__all__ = ["register_math_function"]

log = logging.getLogger("dialplan")

# In the order func_math looks for them.
_OPERATOR_SCAN = ("*", "/", "%", "^", "AND", "XOR", "OR", ">", "<", "=", "+", "-")
_C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale
_NUMBER_WIDTH = 30  # the 30 of %30lf
# What glibc's scanf accepts; an exponent without digits ("1e") is left unread.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(
    r"[+-]?0[xX](?P<mantissa>[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]*)(?:[pP][+-]?[0-9]+)?")
# glibc commits to "infinity" once it has read "infi": "infin" is no number, "infx" is.
_SPECIAL = re.compile(r"[+-]?(?:infinity|inf(?!i)|nan)", re.IGNORECASE)
_RESULT_TYPES = {"f": "f", "float": "f", "i": "i", "int": "i", "h": "h", "hex": "h",
                 "c": "c", "char": "c"}
_SYNTAX = "Syntax: MATH(<number1><op><number 2>[,<type_of_result>]) - missing argument!"
_INT_MIN = -(2**31)


def _scan_double(text: str) -> float | None:
    """``sscanf(text, "%30lf")``: the number *text* starts with, or None."""
    window = text.lstrip(_C_SPACE)[:_NUMBER_WIDTH]
    unsigned = window[1:] if window.startswith(("+", "-")) else window
    if unsigned.startswith(("0x", "0X")):
        found = _HEX.match(window)
        if found is None:
            return None  # "0x" without a hex digit is not read as 0...
        if found.group("mantissa") == ".":
            return -0.0 if window.startswith("-") else 0.0  # ...but "0x." is
        try:
            return float.fromhex(found.group(0))
        except OverflowError:
            return -math.inf if window.startswith("-") else math.inf
    found = _DECIMAL.match(window) or _SPECIAL.match(window)
    return float(found.group(0)) if found else None


def _split(expression: str) -> tuple[str, str, str] | None:
    """(number1, operator, number2), or None when func_math finds no operator."""
    for token in _OPERATOR_SCAN:
        at = expression.find(token)
        if at < 0:
            continue
        left, right = expression[:at], expression[at + len(token):]
        if token in (">", "<") and right[:1] in ("=", token):
            return left, token + right[0], right[1:]
        if token == "=":
            # A lone "=" is no operator, and the search stops there.
            return (left, "==", right[1:]) if right[:1] == "=" else None
        return left, token, right
    return None


def _c_int(value: float) -> int:
    """``(int)value`` on x86-64: truncated; NaN or out of range gives INT_MIN."""
    if -2147483649.0 < value < 2147483648.0:
        return int(value)
    return _INT_MIN


def _c_unsigned(value: float) -> int:
    """``(unsigned int)value`` on x86-64: through a 64-bit int, keeping the low 32 bits."""
    if -(2.0**63) <= value < 2.0**63:
        return int(value) & 0xFFFFFFFF
    return 0


def _int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def _is_odd_integer(value: float) -> bool:
    return math.isfinite(value) and abs(math.fmod(value, 2.0)) == 1.0


def _c_pow(base: float, exponent: float) -> float:
    """C's ``pow``: infinities and NaN where :func:`math.pow` raises."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return -math.inf if base < 0 and _is_odd_integer(exponent) else math.inf
    except ValueError:
        if base == 0:  # zero to a negative power
            negative = math.copysign(1.0, base) < 0 and _is_odd_integer(exponent)
            return -math.inf if negative else math.inf
        return -math.nan  # a negative base to a fractional power: glibc's NaN has the sign bit


def _c_mod(a: int, b: int) -> int:
    """C's ``%``: the remainder takes the sign of the dividend."""
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def _on_ints(function: Callable[[int, int], int]) -> Callable[[float, float], float]:
    return lambda a, b: float(function(_c_int(a), _c_int(b)))


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda a, b: 0.0 if b <= 0 else a / b,
    "^": _c_pow,
    "%": _on_ints(lambda a, b: _c_mod(a, b) if b else 0),
    "<<": _on_ints(lambda a, b: _int32(a << (b & 31))),  # x86 masks the shift count
    ">>": _on_ints(lambda a, b: a >> (b & 31)),
    "AND": _on_ints(operator.and_),
    "XOR": _on_ints(operator.xor),
    "OR": _on_ints(operator.or_),
}
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq,
}


def _format(value: float, result_type: str) -> str:
    if result_type == "i":
        return str(_c_int(value))
    if result_type == "h":
        return f"{_c_unsigned(value):x}"
    if result_type == "c":
        code = _c_int(value) & 0xFF
        # %c of 0 ends the C string; other bytes are kept as the wire would carry them.
        return bytes([code]).decode("utf-8", "surrogateescape") if code else ""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"  # glibc prints the sign
    return f"{value:f}"


def _math(call: Call, args: str) -> str:
    if not args:
        log.warning(_SYNTAX)
        return ""
    parts = separate_args(args, max_args=2)
    expression = parts[0]
    negative = expression.startswith("-")
    if negative:
        expression = expression[1:]
    split = _split(expression)
    result_type = "f"
    if len(parts) > 1:
        result_type = _RESULT_TYPES.get(parts[1].lower(), "")
        if not result_type:
            log.warning("Unknown type of result requested '%s'.", parts[1])
            return ""
    if split is None:
        log.warning("Supply all the parameters - just this once, please")
        return ""
    left, op, right = split
    first, second = _scan_double(left), _scan_double(right)
    if first is None or second is None:
        log.warning("'%s' is not a valid number", left if first is None else right)
        return ""
    if negative:
        first = 0.0 - first
    if op in _COMPARISONS:
        return "TRUE" if _COMPARISONS[op](first, second) else "FALSE"
    return _format(_ARITHMETIC[op](first, second), result_type)


def register_math_function(registry: Registry[Call]) -> None:
    registry.add_function(DialplanFunction(
        "MATH", _math, None, "Performs Mathematical Functions.", "MATH(expression[,type])"))
