from __future__ import annotations

from pbxedge.config.diagnostics import EXCERPT_CHARS, Diagnostic, Origin, Severity, excerpt


def test_short_text_is_kept_as_it_is() -> None:
    assert excerpt("bindport") == "bindport"
    assert excerpt("x" * EXCERPT_CHARS) == "x" * EXCERPT_CHARS


def test_long_text_is_cut_with_an_ellipsis() -> None:
    assert excerpt("x" * 5000) == "x" * EXCERPT_CHARS + "…"
    assert excerpt("abcdef", 3) == "abc…"


def test_control_characters_are_escaped_so_they_cannot_forge_lines_or_move_the_cursor() -> None:
    assert excerpt("a\x1b[2Jb\r\n\t\x7f\x85\u2028") == "a\\x1b[2Jb\\x0d\\x0a\\x09\\x7f\\x85\\u2028"
    # Printable non-ASCII text stays readable.
    assert excerpt("Zoë 中文") == "Zoë 中文"


def test_a_diagnostic_prints_as_file_line_severity_message() -> None:
    assert str(Diagnostic(Severity.ERROR, "bad", Origin("iax.conf", 3))) == "iax.conf:3: error: bad"
