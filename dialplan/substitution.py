"""``${VAR}``, ``${VAR:offset:length}``, ``${FUNC(args)}`` and ``$[expr]`` substitution.

Follows ``pbx_substitute_variables_helper_full``: the end of ``${`` is found by counting
every ``{``/``}``, the end of ``$[`` by counting ``[``/``]``; the inside is substituted
first when it nests, then looked up (or evaluated).  Substituted values are never
substituted again, so a caller ID of ``${EVIL}`` stays text.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from dialplan.expression import evaluate_expression

__all__ = ["Scope", "substitute", "substring"]

log = logging.getLogger(__name__)

# Deeper nesting than this is taken as hostile input and left unexpanded.
MAX_NESTING = 40
_OFFSETS = re.compile(r"\s*([+-]?\d+)(?::\s*([+-]?\d+))?")


class Scope(Protocol):
    """Where names are looked up while substituting."""

    def lookup_variable(self, name: str) -> str | None: ...
    def read_function(self, name: str, args: str) -> str | None: ...


def substring(value: str, offset: int, length: int | None) -> str:
    """Asterisk's ``substring``: negative offsets count from the end; a negative length
    drops characters from the end."""
    size = len(value)
    if offset < 0:
        offset = max(size + offset, 0)
    if offset >= size:
        return ""
    rest = value[offset:]
    if length is None:
        return rest
    if length >= 0:
        return rest[:length]
    return rest[:length] if len(rest) > -length else ""


def _matching_end(text: str, start: int, opener: str, closer: str) -> int:
    """Index of the closer that balances the opener just before *start*, or -1."""
    depth = 1
    index = start
    while index < len(text):
        char = text[index]
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def _split_offsets(name: str) -> tuple[str, int, int | None]:
    """``parse_variable_name``: the first ``:`` outside parentheses starts offset:length."""
    depth = 0
    for index, char in enumerate(name):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == ":" and depth == 0:
            found = _OFFSETS.match(name, index + 1)
            if not found:
                return name[:index], 0, None
            length = found.group(2)
            return name[:index], int(found.group(1)), int(length) if length is not None else None
    return name, 0, None


def _resolve(name: str, scope: Scope) -> str:
    base, offset, length = _split_offsets(name)
    if "(" in base:
        function, _, rest = base.partition("(")
        end = rest.rfind(")")
        if end < 0:
            log.warning("Can't find trailing parenthesis for function '%s(%s'?", function, rest)
        value = scope.read_function(function, rest[:end] if end >= 0 else rest)
    else:
        value = scope.lookup_variable(base)
    value = value or ""
    if offset == 0 and length is None:
        return value
    return substring(value, offset, length)


def substitute(text: str, scope: Scope, depth: int = 0) -> str:
    """Expand every ``${...}`` and ``$[...]`` in *text*."""
    if "$" not in text:
        return text
    if depth > MAX_NESTING:
        log.warning("variables nested more than %d deep; left unexpanded", MAX_NESTING)
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        dollar = text.find("$", index)
        if dollar < 0 or dollar + 1 >= len(text):
            out.append(text[index:])
            break
        marker = text[dollar + 1]
        if marker not in "{[":
            out.append(text[index : dollar + 1])
            index = dollar + 1
            continue
        out.append(text[index:dollar])
        closer = "}" if marker == "{" else "]"
        end = _matching_end(text, dollar + 2, marker, closer)
        if end < 0:
            log.warning("Error in extension logic (missing '%s')", closer)
            end = len(text)
        inner = text[dollar + 2 : end]
        if "${" in inner or "$[" in inner:
            inner = substitute(inner, scope, depth + 1)
        out.append(_resolve(inner, scope) if marker == "{" else evaluate_expression(inner))
        index = end + 1
    return "".join(out)
