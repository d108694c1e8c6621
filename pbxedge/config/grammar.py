"""Stage 2 of reading an Asterisk ``.conf`` file: one logical line -> one typed line.

``LINE = CATEGORY | DIRECTIVE | ASSIGNMENT`` (Asterisk ``process_text_line``):

* ``[name]`` or ``[name](opt,opt,...)`` where an option is ``!`` (template), ``+``
  (append to an earlier section) or the name of a base to inherit from;
* ``#include``/``#tryinclude``/``#exec`` (any case) with a bare, ``"quoted"`` or
  ``<angled>`` argument;
* ``name = value``, ``name => value`` (object flag) and ``name += value`` (append), split
  at the first ``=`` as Asterisk does, so values may contain ``=`` (``setvar=A=B``).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from enum import StrEnum

import pyparsing as pp

__all__ = [
    "AssignOp",
    "Assignment",
    "CategoryHeader",
    "Directive",
    "LineSyntaxError",
    "ParsedLine",
    "parse_line",
]


class AssignOp(StrEnum):
    SET = "="
    OBJECT = "=>"
    APPEND = "+="


@dataclass(frozen=True, slots=True)
class CategoryHeader:
    name: str
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Directive:
    name: str  # lower-case, without the '#'
    argument: str


@dataclass(frozen=True, slots=True)
class Assignment:
    """``name op value``; for ``+=`` the value keeps its leading blanks."""

    name: str
    op: AssignOp
    value: str


ParsedLine = CategoryHeader | Directive | Assignment


class LineSyntaxError(ValueError):
    """A logical line that is none of the three line kinds; the message says why."""


def _category_header(match: re.Match[str]) -> CategoryHeader:
    options = match["options"]
    # Base names repeat on every section made from a template: one string each.
    names = tuple(sys.intern(o.strip()) for o in options.split(",")) if options is not None else ()
    return CategoryHeader(match["name"].strip(), names)


def _directive(tokens: pp.ParseResults) -> Directive:
    match: re.Match[str] = tokens[0]
    argument = (match["argument"] or "").strip()
    # The argument may be bare, "quoted" or <angled>.
    if len(argument) >= 2 and argument[0] + argument[-1] in ('""', "<>"):
        argument = argument[1:-1].strip()
    return Directive(match["name"].lower(), argument)


def _build_grammar() -> pp.ParserElement:
    directive = pp.Regex(r"#(?P<name>[A-Za-z_]+)(?:\s+(?P<argument>.*))?", re.DOTALL, as_match=True)
    return directive.set_parse_action(_directive)


DIRECTIVE = _build_grammar()

# Assignments are nearly every line of a big file, and headers one line in every section.
# A compiled regex costs a tenth of a pyparsing call, which keeps a 100 000-friend iax.conf
# within its load budget.
# Text after ']' that is not an option list is ignored, as Asterisk does.
_CATEGORY = re.compile(r"\[(?P<name>[^\]]*)\](?:\((?P<options>[^)]*)\))?.*", re.DOTALL)
# Lazy name + first operator = Asterisk's split at the first '=' ('+=' and '=>' included).
_ASSIGNMENT = re.compile(r"(?P<name>[^=]*?)\s*(?P<op>\+=|=>|=)(?P<value>.*)", re.DOTALL)


def parse_line(text: str) -> ParsedLine:
    """Parse one logical line (already stripped of comments and whitespace)."""
    if text.startswith("["):
        return _parse_header(text)
    if text.startswith("#"):
        return _parse_directive(text)
    match = _ASSIGNMENT.match(text)
    if match is None:
        raise LineSyntaxError("no '=' (equal sign) in line")
    # A leading backslash only escapes the first character of the name. Names repeat on
    # every section of a big file, so they are interned: one string per distinct name.
    name = sys.intern(match["name"].removeprefix("\\").strip())
    op = AssignOp(match["op"])
    value = match["value"]
    # '+=' glues the text onto the earlier value exactly as written after the operator
    # (config.c appends before trimming), so "allow += ,gsm" adds " ,gsm".
    return Assignment(name, op, value.rstrip() if op is AssignOp.APPEND else value.strip())


def _parse_header(text: str) -> CategoryHeader:
    closing = text.find("]")
    if closing < 0:
        raise LineSyntaxError("parse error: no closing ']'")
    if text.startswith("(", closing + 1) and ")" not in text[closing:]:
        raise LineSyntaxError("parse error: no closing ')'")
    match = _CATEGORY.match(text)
    assert match is not None  # '[' ... ']' always matches
    return _category_header(match)


def _parse_directive(text: str) -> Directive:
    try:
        parsed = DIRECTIVE.parse_string(text, parse_all=True)[0]
    except pp.ParseException as exc:
        raise LineSyntaxError(f"parse error: expected a #directive name (column {exc.col})") from None
    if not isinstance(parsed, Directive):
        raise LineSyntaxError("cannot parse line")
    return parsed
