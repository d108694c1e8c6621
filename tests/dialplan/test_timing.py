"""Time conditions (include => ctx,<times>,<weekdays>,<mdays>,<months>[,<tz>] and GotoIfTime)."""

from __future__ import annotations

import datetime as dt

import pytest

from dialplan.timing import TimeSpec

WED = dt.datetime(2026, 11, 25, 12, 0)  # a Wednesday in November


@pytest.mark.parametrize(
    ("fields", "when", "matches"),
    [
        (["*", "*", "*", "*"], WED, True),
        ([], WED, True),
        (["9:00-17:00"], WED.replace(hour=17, minute=0), True),
        (["9:00-17:00"], WED.replace(hour=17, minute=1), False),
        (["9:00-17:00"], WED.replace(hour=8, minute=59), False),
        (["22:00-06:00"], WED.replace(hour=23), True),  # ranges wrap past midnight
        (["22:00-06:00"], WED.replace(hour=5, minute=59), True),
        (["22:00-06:00"], WED.replace(hour=12), False),
        (["08:00-09:00&12:00-13:00"], WED.replace(hour=12, minute=30), True),
        (["12:00"], WED, True),
        (["*", "mon-fri"], WED, True),
        (["*", "fri-mon"], WED, False),  # cyclic weekday range
        (["*", "fri-mon"], WED + dt.timedelta(days=4), True),  # Sunday
        (["*", "sat&sun"], WED, False),
        (["*", "WED"], WED, True),
        (["*", "4"], WED, True),  # weekdays as numbers, 1 = Sunday
        (["*", "*", "25"], WED, True),
        (["*", "*", "1-24"], WED, False),
        (["*", "*", "*", "nov"], WED, True),
        (["*", "*", "*", "dec-feb"], WED, False),
        (["*", "*", "*", "11"], WED, True),
    ],
)
def test_matches(fields: list[str], when: dt.datetime, matches: bool) -> None:
    assert TimeSpec.parse(fields).matches(when) is matches


def test_time_zone() -> None:
    spec = TimeSpec.parse(["09:00-17:00", "*", "*", "*", "Asia/Tokyo"])
    utc_midnight = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo
    assert spec.matches(utc_midnight)
    assert not spec.matches(utc_midnight.replace(hour=12))


def test_invalid_elements_warn_and_are_skipped() -> None:
    spec = TimeSpec.parse(["25:00-26:00&9:00-10:00", "funday", "40", "smarch", "Nowhere/City"])
    assert len(spec.warnings) == 5
    assert spec.minutes == frozenset(range(9 * 60, 10 * 60 + 1))
    assert not spec.weekdays and not spec.monthdays and not spec.months
