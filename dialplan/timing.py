"""Time conditions shared by ``include => ctx,<times>,<weekdays>,<mdays>,<months>[,<tz>]``
and ``GotoIfTime``/``ExecIfTime``, with Asterisk's ``ast_build_timing`` rules.

Ranges are cyclic (``fri-mon``), lists use ``&``, ``*`` means always, and the end minute of
a time range is inclusive (``9:00-17:00`` still matches at 17:00:59).  Invalid elements
are skipped with a warning, as Asterisk does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["TimeSpec", "TimeSpecError"]

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"\s*(\d{1,2}):(\d{1,2})")


class TimeSpecError(ValueError):
    """A time specification element that Asterisk would skip with a warning."""


def _lookup(token: str, names: tuple[str, ...] | None, size: int) -> int:
    token = token.strip()
    if names is not None and token[:1] > "9":
        lowered = token.lower()
        if lowered in names:
            return names.index(lowered)
    digits = re.match(r"\s*(\d{1,2})", token)
    if digits and 1 <= int(digits.group(1)) <= size:
        return int(digits.group(1)) - 1
    raise TimeSpecError(f"invalid value '{token}'")


def _ranges(text: str, size: int, parse: Callable[[str], int], warnings: list[str],
            skipping: str = "") -> frozenset[int]:
    """``a-b&c&d-e`` (``*`` or empty = all) over a cycle of *size*; a range may wrap
    (``fri-mon``, ``22:00-06:00``) and includes both ends, as Asterisk's masks do."""
    if not text.strip() or text.strip() == "*":
        return frozenset(range(size))
    chosen: set[int] = set()
    for part in text.split("&"):
        start_text, dash, end_text = part.partition("-")
        try:
            start = parse(start_text)
            end = parse(end_text) if dash else start
        except TimeSpecError as exc:
            warnings.append(f"{exc}{skipping}")
            continue
        chosen.add(end)
        while start != end:
            chosen.add(start)
            start = (start + 1) % size
    return frozenset(chosen)


def _cyclic_range(text: str, names: tuple[str, ...] | None, size: int, warnings: list[str]) -> frozenset[int]:
    return _ranges(text, size, lambda token: _lookup(token, names, size), warnings,
                   ", skipping element")


def _clock(text: str) -> int:
    found = _CLOCK.match(text)
    if not found:
        raise TimeSpecError(f"'{text.strip()}' isn't a valid time")
    hour, minute = int(found.group(1)), int(found.group(2))
    if hour > 23 or minute > 59:
        raise TimeSpecError(f"'{text.strip()}' isn't a valid time")
    return hour * 60 + minute


def _minutes(text: str, warnings: list[str]) -> frozenset[int]:
    return _ranges(text, _MINUTES_PER_DAY, _clock, warnings)


@dataclass(frozen=True)
class TimeSpec:
    """A parsed ``<times>,<weekdays>,<mdays>,<months>[,<tz>]`` condition."""

    text: str
    minutes: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, as in struct tm
    monthdays: frozenset[int]  # 0 = the 1st
    months: frozenset[int]  # 0 = January
    timezone: dt.tzinfo | None = None
    warnings: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, fields: list[str]) -> TimeSpec:
        """Build from the comma-separated fields (missing trailing fields mean ``*``)."""
        padded = [*fields, "*", "*", "*", "*"]
        warnings: list[str] = []
        zone: dt.tzinfo | None = None
        if len(fields) > 4 and fields[4].strip():
            try:
                zone = ZoneInfo(fields[4].strip())
            except (ZoneInfoNotFoundError, ValueError):
                warnings.append(f"unknown time zone '{fields[4].strip()}', using local time")
        return cls(
            text=",".join(fields),
            minutes=_minutes(padded[0], warnings),
            weekdays=_cyclic_range(padded[1], _WEEKDAYS, 7, warnings),
            monthdays=_cyclic_range(padded[2], None, 31, warnings),
            months=_cyclic_range(padded[3], _MONTHS, 12, warnings),
            timezone=zone,
            warnings=tuple(warnings),
        )

    def matches(self, when: dt.datetime) -> bool:
        """True when *when* (aware or naive local time) falls inside the condition."""
        local = when.astimezone(self.timezone) if self.timezone is not None else when
        weekday = (local.weekday() + 1) % 7  # Python's Monday=0 → struct tm's Sunday=0
        return (
            local.month - 1 in self.months
            and local.day - 1 in self.monthdays
            and weekday in self.weekdays
            and local.hour * 60 + local.minute in self.minutes
        )
