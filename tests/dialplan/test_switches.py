"""``switch => Realtime/...``: pbx_realtime's lookup rules over an in-memory table."""

from __future__ import annotations

from collections.abc import Sequence

from dialplan.loader import parse_dialplan_text
from dialplan.patterns import MatchMode
from dialplan.switches import RealtimeSwitches, SwitchRow, parse_realtime_switch


class Table:
    def __init__(self, rows: dict[str, list[SwitchRow]]) -> None:
        self.rows = rows
        self.queries = 0

    async def exten_rows(self, family: str, context: str, exten: str) -> Sequence[SwitchRow]:
        self.queries += 1
        return [r for r in self.rows.get(context, []) if r.exten == exten]

    async def pattern_rows(self, family: str, context: str) -> Sequence[SwitchRow]:
        self.queries += 1
        return sorted((r for r in self.rows.get(context, []) if r.exten.startswith("_")),
                      key=lambda r: (r.exten, r.priority))

    async def has_prefixed(self, family: str, context: str, prefix: str, longer: bool) -> bool:
        self.queries += 1
        return any(r.exten.startswith(prefix) and (len(r.exten) > len(prefix) or not longer)
                   for r in self.rows.get(context, []) if not r.exten.startswith("_"))


ROWS = {"rtctx": [SwitchRow("100", 1, "Answer", ""), SwitchRow("100", 2, "Echo", ""),
                  SwitchRow("_2XX", 1, "Verbose", "short"), SwitchRow("_20X", 1, "Verbose", "long"),
                  SwitchRow("_2XX", 2, "Hangup", ""), SwitchRow("1234", 1, "NoOp", "")]}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_switch_data_is_read_as_pbx_realtime_reads_it() -> None:
    assert parse_realtime_switch("Realtime/ctx@fam/p", "own") is not None
    parsed = parse_realtime_switch("Realtime/ctx@fam/p", "own")
    assert parsed is not None and (parsed.context, parsed.family, parsed.patterns) == (
        "ctx", "fam", False)
    parsed = parse_realtime_switch("Realtime/tablefamily", "own")
    assert parsed is not None and (parsed.context, parsed.family) == ("own", "tablefamily")
    parsed = parse_realtime_switch("realtime/ctx@", "own")
    assert parsed is not None and (parsed.context, parsed.family) == ("ctx", "extensions")
    assert parse_realtime_switch("IAX2/box/ctx", "own") is None


async def test_rows_found_after_prepare_exact_then_longest_pattern() -> None:
    plan = parse_dialplan_text("[calls]\nexten => 5,1,NoOp()\nswitch => Realtime/rtctx@extensions\n")
    assert plan.diagnostics == []
    table, clock = Table(ROWS), Clock()
    plan.runtime.switches = RealtimeSwitches(table, clock)
    assert plan.find("calls", "100", priority=2) is None  # nothing prepared yet
    await plan.prepare("calls", "100")
    found = plan.find("calls", "100", priority=2)
    assert found is not None and found.priority.app == "Echo" and found.context == "calls"
    for exten, data in (("201", "long"), ("250", "short")):
        await plan.prepare("calls", exten)
        found = plan.find("calls", exten, priority=1)
        assert found is not None and found.priority.data == data
    found = plan.find("calls", "201", priority=2)  # _20X has no priority 2: _2XX's
    assert found is not None and found.priority.app == "Hangup"
    queries = table.queries
    await plan.prepare("calls", "100")
    assert table.queries == queries  # cached for a second
    clock.now = 1.5
    await plan.prepare("calls", "100")
    assert table.queries > queries


async def test_canmatch_and_matchmore_for_digit_collection() -> None:
    plan = parse_dialplan_text("[calls]\nswitch => Realtime/rtctx@extensions/p\n")
    plan.runtime.switches = RealtimeSwitches(Table(ROWS), Clock())
    await plan.prepare("calls", "12", MatchMode.MATCHMORE)
    assert plan.match_more("calls", "12")
    await plan.prepare("calls", "1234", MatchMode.MATCHMORE)
    assert not plan.match_more("calls", "1234")
    await plan.prepare("calls", "201")
    assert plan.find("calls", "201") is None  # option p: no patterns
