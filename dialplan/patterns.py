"""Extension names and patterns: matching modes and Asterisk's specificity order.

Asterisk walks a context's extensions in ``ext_cmp`` order and takes the first one that
matches, so both the match rules and the sort order must be reproduced exactly for calls
to land where an Asterisk admin expects.  A pattern starts with ``_``; ``X`` ``Z`` ``N``
are digit sets, ``[...]`` a set with ``a-b`` ranges, ``.`` one-or-more, ``!`` zero-or-more
(an "early match"), ``-`` is decoration everywhere, and ``/`` ends the pattern (the
caller-ID part is matched separately).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ExtensionPattern",
    "MatchMode",
    "ext_cmp_key",
    "extension_match",
    "strip_dashes",
]


class MatchMode(Enum):
    """Asterisk's E_MATCH / E_CANMATCH / E_MATCHMORE."""

    MATCH = "match"
    CANMATCH = "canmatch"
    MATCHMORE = "matchmore"


# Match results of the core routine: no match, match, and the "early match" of '!'.
NO_MATCH = 0
MATCHED = 1
EARLY_MATCH = 2

# Terminal element kinds of a compiled pattern.
_END = "end"
_DOT = "dot"
_BANG = "bang"
_BROKEN = "broken"  # an unclosed '[': Asterisk fails the match when it gets there

_DIGITS = frozenset("0123456789")
_NAMED_SETS = {
    "x": _DIGITS,
    "z": frozenset("123456789"),
    "n": frozenset("23456789"),
}

# Sort weights from main/pbx.c ext_cmp_pattern_pos: (set size << 8) | lowest char.
_WEIGHT_DOT = 0x18000
_WEIGHT_BANG = 0x28000
_WEIGHT_END = 0x30000
_WEIGHT_BROKEN = 0x40000
_NO_BITS = bytes(32)


def strip_dashes(text: str) -> str:
    """Literal comparison ignores '-' (it is eye candy in ``555-1212``)."""
    return text.replace("-", "") if "-" in text else text


def _set_items(body: str) -> list[tuple[str, str]]:
    """The ``(first, last)`` items of a ``[...]`` body; ``a-c`` is a range only with a
    character on both sides of the dash."""
    items: list[tuple[str, str]] = []
    index = 0
    while index < len(body):
        first = body[index]
        if index + 2 < len(body) and body[index + 1] == "-":
            items.append((first, body[index + 2]))
            index += 3
        else:
            items.append((first, first))
            index += 1
    return items


def _set_members(items: list[tuple[str, str]]) -> frozenset[str]:
    return frozenset(
        chr(code) for first, last in items for code in range(ord(first), ord(last) + 1)
    )


def _bitmap(members: frozenset[str]) -> bytes:
    """The 256-bit set bitmap, inverted so a plain bytes comparison sorts like ext_cmp.

    Asterisk breaks ties between equal-sized sets with ``memcmp(right, left)``: the set
    holding the lowest characters (most significant bits first) sorts first.  Inverting the
    bytes turns that into ordinary ascending order.
    """
    bits = bytearray(32)
    for char in members:
        code = ord(char)
        if code < 256:
            bits[code // 8] |= 1 << (7 - code % 8)
    return bytes(0xFF - b for b in bits)


def _pattern_sort_key(body: str) -> tuple[tuple[int, bytes], ...]:
    """Position-by-position weights of a pattern body (without the leading ``_``)."""
    key: list[tuple[int, bytes]] = []
    index = 0
    while True:
        while index < len(body) and body[index] == "-":
            index += 1
        if index >= len(body):
            key.append((_WEIGHT_END, _NO_BITS))
            return tuple(key)
        char = body[index]
        index += 1
        lowered = char.lower()
        if lowered in _NAMED_SETS:
            members = _NAMED_SETS[lowered]
            key.append(((len(members) << 8) | ord(min(members)), _bitmap(members)))
        elif char == ".":
            key.append((_WEIGHT_DOT, _NO_BITS))
        elif char == "!":
            key.append((_WEIGHT_BANG, _NO_BITS))
        elif char == "[":
            end = body.find("]", index)
            if end < 0:
                key.append((_WEIGHT_BROKEN, _NO_BITS))
                continue
            items = _set_items(body[index:end])
            members = _set_members(items)
            index = end + 1
            if not members:
                key.append((_WEIGHT_END, _NO_BITS))
            else:
                # Asterisk's tie-breaker is the lowest *first* character of the items.
                lowest = min(ord(first) for first, _ in items)
                key.append(((len(members) << 8) | min(lowest, 0xFF), _bitmap(members)))
        else:
            key.append((0x100 | min(ord(char), 0xFF), _bitmap(frozenset(char))))


def ext_cmp_key(name: str) -> tuple[object, ...]:
    """A sort key equal to Asterisk's ``ext_cmp``: literals first, then patterns by specificity.

    Two names with equal keys are the same extension to Asterisk (``555-1212`` and
    ``5551212``; ``_1XX`` and ``_1xx``).
    """
    if name.startswith("_"):
        return (1, _pattern_sort_key(name[1:]))
    return (0, strip_dashes(name))


@dataclass(frozen=True, slots=True)
class _Element:
    """One pattern position: the characters it accepts."""

    members: frozenset[str]


class ExtensionPattern:
    """A compiled extension name (literal or ``_`` pattern) that can be matched in any mode."""

    __slots__ = ("_elements", "_literal", "_regex", "_terminal", "is_pattern", "name")



    def __init__(self, name: str) -> None:
        self.name = name
        self.is_pattern = name.startswith("_")
        self._literal = strip_dashes(name)
        self._elements: tuple[_Element, ...] = ()
        self._terminal = _END
        self._regex: re.Pattern[str] | None = None
        if self.is_pattern:
            self._compile(name[1:])

    def _compile(self, body: str) -> None:
        elements: list[_Element] = []
        index = 0
        terminal = _END
        while index < len(body):
            char = body[index]
            index += 1
            lowered = char.lower()
            if char == "-":
                continue
            if char == "/":
                break
            if char == ".":
                terminal = _DOT
                break
            if char == "!":
                terminal = _BANG
                break
            if lowered in _NAMED_SETS:
                elements.append(_Element(_NAMED_SETS[lowered]))
            elif char == "[":
                end = body.find("]", index)
                if end < 0:
                    terminal = _BROKEN
                    break
                members = _set_members(_set_items(body[index:end]))
                index = end + 1
                if members:  # Asterisk ignores an empty set
                    elements.append(_Element(members))
            else:
                elements.append(_Element(frozenset(char)))
        self._elements = tuple(elements)
        self._terminal = terminal
        if terminal != _BROKEN:
            parts = ["[" + "".join(re.escape(c) for c in sorted(e.members)) + "]" for e in elements]
            tail = {_END: "", _DOT: ".+", _BANG: ".*"}[terminal]
            self._regex = re.compile("".join(parts) + tail, re.DOTALL)

    def matches(self, data: str) -> bool:
        """E_MATCH: the whole of *data* matches (fast path used by call routing)."""
        if not self.is_pattern:
            return self._literal == strip_dashes(data)
        if self._regex is None:
            return False
        return self._regex.fullmatch(strip_dashes(data)) is not None

    def accepts_prefix(self, prefix: str) -> bool:
        """Could some string starting with *prefix* (dash-less) fully match this pattern?"""
        if self._terminal == _BROKEN:
            return False
        if len(prefix) > len(self._elements) and self._terminal == _END:
            return False
        return all(char in element.members for char, element in zip(prefix, self._elements, strict=False))

    def match(self, data: str, mode: MatchMode) -> int:
        """Asterisk's ``_extension_match_core``: 0 no match, 1 match, 2 early match ('!')."""
        if not self.is_pattern:
            return self._match_literal(strip_dashes(data), mode)
        data = strip_dashes(data)
        elements = self._elements
        position = 0
        for position, element in enumerate(elements):
            if position >= len(data):
                break
            if data[position] not in element.members:
                return NO_MATCH
        else:
            position = len(elements)
            if position < len(data):
                return self._terminal_with_data()
        if position < len(elements) or self._terminal in (_DOT, _BROKEN):
            # Data ran out before the pattern did: a partial match only.
            return NO_MATCH if mode is MatchMode.MATCH else MATCHED
        if self._terminal == _BANG:
            return EARLY_MATCH
        return NO_MATCH if mode is MatchMode.MATCHMORE else MATCHED

    def _terminal_with_data(self) -> int:
        if self._terminal == _DOT:
            return MATCHED
        if self._terminal == _BANG:
            return EARLY_MATCH
        return NO_MATCH  # data longer than the pattern, or the broken '['

    def _match_literal(self, data: str, mode: MatchMode) -> int:
        literal = self._literal
        if len(literal) < len(data):
            return NO_MATCH
        if mode is MatchMode.MATCH:
            return MATCHED if literal == data else NO_MATCH
        if not literal.startswith(data):
            return NO_MATCH
        if mode is MatchMode.MATCHMORE:
            return MATCHED if len(literal) > len(data) else NO_MATCH
        return MATCHED


def extension_match(pattern: str, data: str, mode: MatchMode = MatchMode.MATCH) -> int:
    """Match *data* against *pattern* (uncached convenience for one-off checks)."""
    return ExtensionPattern(pattern).match(data, mode)
