from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.config.grammar import (
    Assignment,
    AssignOp,
    CategoryHeader,
    Directive,
    LineSyntaxError,
    parse_line,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[foo]", CategoryHeader("foo", ())),
        ("[foo](!)", CategoryHeader("foo", ("!",))),
        ("[foo](+)", CategoryHeader("foo", ("+",))),
        ("[ foo ](tpl1, tpl2,!)", CategoryHeader("foo", ("tpl1", "tpl2", "!"))),
        ("[foo] trailing words", CategoryHeader("foo", ())),
        ("#include extra.conf", Directive("include", "extra.conf")),
        ('#include "with space.conf"', Directive("include", "with space.conf")),
        ("#INCLUDE <angled.conf>", Directive("include", "angled.conf")),
        ("#tryinclude iax.d/*.conf", Directive("tryinclude", "iax.d/*.conf")),
        ("#exec /bin/echo hi", Directive("exec", "/bin/echo hi")),
        ("#pragma", Directive("pragma", "")),
        ("a=b", Assignment("a", AssignOp.SET, "b")),
        ("register => u:s@h", Assignment("register", AssignOp.OBJECT, "u:s@h")),
        ("allow += ,gsm", Assignment("allow", AssignOp.APPEND, " ,gsm")),
        ("setvar=A=B", Assignment("setvar", AssignOp.SET, "A=B")),
        ("exten => 1,1,Set(X=1)", Assignment("exten", AssignOp.OBJECT, "1,1,Set(X=1)")),
        ('callerid = "A B" <1>', Assignment("callerid", AssignOp.SET, '"A B" <1>')),
        ("\\[odd=1", Assignment("[odd", AssignOp.SET, "1")),
        ("empty =", Assignment("empty", AssignOp.SET, "")),
    ],
)
def test_golden_lines(text: str, expected: object) -> None:
    assert parse_line(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[foo", "no closing ']'"),
        ("[foo](!", "no closing ')'"),
        ("just words", "no '=' (equal sign)"),
        ("#", "#directive"),
    ],
)
def test_malformed_lines(text: str, message: str) -> None:
    with pytest.raises(LineSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_line(text)


@given(st.text(max_size=60))
def test_any_line_parses_or_raises_line_syntax_error(text: str) -> None:
    with contextlib.suppress(LineSyntaxError):
        parse_line(text.strip())


@given(
    st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
    st.sampled_from(["=", "=>", "+="]),
    st.from_regex(r"[^\n]{0,20}", fullmatch=True),
)
def test_assignment_round_trip(name: str, op: str, value: str) -> None:
    parsed = parse_line(f"{name} {op} {value}".strip())
    expected = f" {value}".rstrip() if op == "+=" else value.strip()
    assert parsed == Assignment(name, AssignOp(op), expected)
