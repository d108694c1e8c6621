"""Stage 1 of reading an Asterisk ``.conf`` file: comments out, logical lines in.

This reproduces the comment state machine of Asterisk's ``config_text_file_load``:

* ``;`` starts a comment that runs to the end of the line;
* ``\\;`` is a literal ``;`` (the backslash is removed);
* ``;--`` (but not ``;---``) opens a block comment, ``--;`` closes it; they nest and
  may span lines.

Comment handling is line-level state (a block comment can hide whole lines, including
fake ``[category]`` headers), which is why it lives here and not in the pyparsing grammar.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["MAX_NESTED_COMMENTS", "CommentStripper", "LogicalLine", "split_physical_lines"]

# Asterisk's MAX_NESTED_COMMENTS: deeper openers are reported and ignored.
MAX_NESTED_COMMENTS = 128


@dataclass(frozen=True, slots=True)
class LogicalLine:
    """A non-empty line with comments removed and surrounding whitespace stripped."""

    number: int
    text: str


def split_physical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Number the physical lines of *text*, accepting LF and CRLF endings.

    ``str.splitlines`` is not used because it also splits on form feeds, vertical tabs
    and Unicode separators, which Asterisk keeps inside a line.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


@dataclass
class CommentStripper:
    """Feeds physical lines through the comment state machine of one file."""

    depth: int = 0
    # Line numbers of the block comments still open, outermost first.
    open_at: list[int] = field(default_factory=list)
    # Line numbers where an opener beyond MAX_NESTED_COMMENTS was ignored.
    too_deep_at: list[int] = field(default_factory=list)

    def strip(self, lines: Iterable[tuple[int, str]]) -> Iterator[LogicalLine]:
        for number, raw in lines:
            text = self.strip_line(number, raw)
            if text:
                yield LogicalLine(number, text)

    def strip_line(self, number: int, buf: str) -> str:
        """The code part of one physical line ("" when comments swallow all of it)."""
        if self.depth == 0 and ";" not in buf:
            return buf.strip()
        pieces: list[str] = []
        # Start of the text currently being kept; None while inside a block comment.
        keep_from: int | None = 0 if self.depth == 0 else None
        pos = 0
        while (semi := buf.find(";", pos)) >= 0:
            if semi > pos and buf[semi - 1] == "\\":
                buf = buf[: semi - 1] + buf[semi:]
                pos = semi
            elif buf.startswith(";--", semi) and not buf.startswith(";---", semi):
                pos = semi + 3
                if self.depth >= MAX_NESTED_COMMENTS:
                    self.too_deep_at.append(number)
                    continue
                if keep_from is not None:
                    pieces.append(buf[keep_from:semi])
                    keep_from = None
                self.depth += 1
                self.open_at.append(number)
            elif self.depth > 0 and semi >= pos + 2 and buf[semi - 2 : semi] == "--":
                # Asterisk also counts a '--;' outside any block, driving its depth below
                # zero; here such a '--;' is just a ';' comment.
                self.depth -= 1
                self.open_at.pop()
                pos = semi + 1
                if self.depth == 0:
                    keep_from = pos
            elif self.depth == 0:
                assert keep_from is not None
                pieces.append(buf[keep_from:semi])
                keep_from = None
                break
            else:
                pos = semi + 1
        if keep_from is not None:
            pieces.append(buf[keep_from:])
        # Text written before a ';--' that stays open is still part of this line.
        return "".join(pieces).strip()
