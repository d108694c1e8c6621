from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pbxedge.config.lexer import CommentStripper, LogicalLine, split_physical_lines


def strip(text: str) -> list[tuple[int, str]]:
    stripper = CommentStripper()
    return [(line.number, line.text) for line in stripper.strip(split_physical_lines(text))]


def test_semicolon_comment_and_whitespace_are_removed() -> None:
    assert strip("  a = 1 ; note\n; whole line\n\n   \n[b]  \n") == [(1, "a = 1"), (5, "[b]")]


def test_escaped_semicolon_is_kept_without_backslash() -> None:
    assert strip("a = x\\;y ; real comment") == [(1, "a = x;y")]


def test_escaped_semicolon_at_line_start_is_a_comment() -> None:
    # config.c only honours the escape when the backslash is inside the scanned text.
    assert strip("\\;x") == [(1, ";x")]


def test_block_comment_hides_lines_and_fake_category() -> None:
    text = "[real]\n;-- start\n[fake]\nb=2\nend --;\nc=3\n"
    assert strip(text) == [(1, "[real]"), (6, "c=3")]


def test_text_after_block_close_is_kept_with_its_line_number() -> None:
    assert strip(";-- a\nb --; d = 4\n") == [(2, "d = 4")]


def test_inline_block_comment_joins_both_sides() -> None:
    assert strip("a = 1 ;-- hidden --; 2") == [(1, "a = 1  2")]


def test_nested_block_comments() -> None:
    text = ";-- outer\n;-- inner\n[x]\n--;\n[still hidden]\n--;\n[y]\n"
    assert strip(text) == [(7, "[y]")]


def test_triple_dash_is_a_plain_comment() -> None:
    assert strip("a=1 ;--- not a block\nb=2\n") == [(1, "a=1"), (2, "b=2")]


def test_text_before_an_open_block_comment_is_kept() -> None:
    assert strip("a=1 ;-- open\nhidden=2\n--; b=3\n") == [(1, "a=1"), (3, "b=3")]


def test_close_marker_outside_block_is_plain_comment() -> None:
    assert strip("a=1--;x") == [(1, "a=1--")]


def test_unterminated_block_comment_is_reported() -> None:
    stripper = CommentStripper()
    lines = list(stripper.strip(split_physical_lines("a=1\n;-- never closed\nb=2\n")))
    assert lines == [LogicalLine(1, "a=1")]
    assert stripper.open_at == [2]


def test_crlf_line_endings() -> None:
    assert strip("[a]\r\nb = 1\r\n") == [(1, "[a]"), (2, "b = 1")]


def test_form_feed_does_not_split_lines() -> None:
    assert list(split_physical_lines("a\x0cb\nc")) == [(1, "a\x0cb"), (2, "c")]


@given(st.text(alphabet="ab;-\\\n =[]", max_size=80))
def test_never_crashes_and_keeps_line_numbers_in_range(text: str) -> None:
    lines = strip(text)
    count = text.count("\n") + 1
    assert all(1 <= number <= count and text_ for number, text_ in lines)
    assert [n for n, _ in lines] == sorted({n for n, _ in lines})
