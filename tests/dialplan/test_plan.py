"""Lookups across contexts: order, includes, caller ID, DPSTATUS, the run-time table."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from dialplan.context import Context, EarlyMatchStop, Priority
from dialplan.loader import parse_dialplan_text
from dialplan.patterns import EARLY_MATCH, MatchMode
from dialplan.plan import Dialplan, DpStatus


def plan_of(text: str) -> Dialplan:
    plan = parse_dialplan_text(text)
    assert [str(d) for d in plan.diagnostics] == []
    return plan


def matched(plan: Dialplan, context: str, exten: str, callerid: str | None = None) -> str | None:
    found = plan.find(context, exten, callerid)
    return f"{found.context}:{found.extension.display_name}" if found else None


def test_own_extensions_before_includes() -> None:
    plan = plan_of("""
[a]
include => b
exten => _X.,1,NoOp()
[b]
exten => 100,1,NoOp()
""")
    # Asterisk searches the context itself first, even a generic pattern beats the include.
    assert matched(plan, "a", "100") == "a:_X."


def test_includes_are_depth_first_and_in_order() -> None:
    plan = plan_of("""
[top]
include => first
include => second
[first]
include => deep
[deep]
exten => 5,1,NoOp()
[second]
exten => 5,1,NoOp()
""")
    assert matched(plan, "top", "5") == "deep:5"


def test_include_loops_are_harmless() -> None:
    plan = plan_of("""
[a]
include => b
[b]
include => a
exten => 7,1,NoOp()
""")
    assert matched(plan, "a", "7") == "b:7"
    assert matched(plan, "a", "8") is None


def test_missing_included_context_is_skipped() -> None:
    plan = plan_of("[a]\ninclude => ghost\nexten => 1,1,NoOp()\n")
    assert matched(plan, "a", "1") == "a:1"
    assert matched(plan, "a", "2") is None


def test_caller_id_variant_comes_first() -> None:
    plan = plan_of("""
[c]
exten => 100,1,NoOp(anyone)
exten => 100/555,1,NoOp(boss)
exten => 100/_6XX,1,NoOp(sales)
""")
    assert matched(plan, "c", "100", "555") == "c:100/555"
    assert matched(plan, "c", "100", "612") == "c:100/_6XX"
    assert matched(plan, "c", "100", "777") == "c:100"
    assert matched(plan, "c", "100", None) == "c:100"


def test_caller_id_punctuation_is_removed_at_load() -> None:
    plan = plan_of("[c]\nexten => 1/(555) 12-34,1,NoOp()\n")
    assert matched(plan, "c", "1", "5551234") == "c:1/5551234"


def test_missing_priority_continues_to_the_next_match() -> None:
    plan = plan_of("""
[c]
exten => 100,1,NoOp(literal)
exten => _1XX,1,NoOp(pattern)
 same => n,NoOp(pattern 2)
""")
    found = plan.find("c", "100", priority=2)
    assert found is not None and found.extension.name == "_1XX"


def test_labels_are_found() -> None:
    plan = plan_of("[c]\nexten => 1,1,NoOp()\n same => n(here),NoOp()\n")
    assert plan.find_label("c", "1", "here") == 2
    assert plan.find_label("c", "1", "nowhere") is None


def test_time_conditional_include() -> None:
    plan = plan_of("""
[c]
include => day,09:00-17:00,mon-fri,*,*
include => night
[day]
exten => s,1,NoOp(day)
[night]
exten => s,1,NoOp(night)
""")
    plan.clock = lambda: dt.datetime(2026, 11, 25, 17, 0, 59)  # Wednesday; the end minute counts
    assert matched(plan, "c", "s") == "day:s"
    plan.clock = lambda: dt.datetime(2026, 11, 25, 17, 1)
    assert matched(plan, "c", "s") == "night:s"
    plan.clock = lambda: dt.datetime(2026, 11, 28, 10, 0)  # Saturday
    assert matched(plan, "c", "s") == "night:s"


def test_dp_status_flags() -> None:
    plan = plan_of("""
[c]
ignorepat => 9
exten => 100,1,NoOp()
exten => 1000,1,NoOp()
exten => _9X.,1,NoOp()
exten => _7!,1,NoOp()
exten => 200,2,NoOp()
""")
    assert plan.dp_status("c", "100") == DpStatus.EXISTS | DpStatus.MATCHMORE
    assert plan.dp_status("c", "1000") == DpStatus.EXISTS
    assert plan.dp_status("c", "1") == DpStatus.CANEXIST | DpStatus.MATCHMORE
    assert plan.dp_status("c", "9") == DpStatus.CANEXIST | DpStatus.MATCHMORE | DpStatus.IGNOREPAT
    assert plan.dp_status("c", "95") == DpStatus.CANEXIST | DpStatus.MATCHMORE
    assert plan.dp_status("c", "955") == DpStatus.EXISTS | DpStatus.MATCHMORE
    assert plan.dp_status("c", "3") == DpStatus.NONEXISTENT
    # '!' is an early match: it exists, and the search for "more" stops there.
    assert plan.dp_status("c", "7") == DpStatus.EXISTS
    assert plan.dp_status("c", "789") == DpStatus.EXISTS
    # an extension without priority 1 does not exist
    assert plan.dp_status("c", "200") == DpStatus.NONEXISTENT
    assert plan.dp_status("nope", "1") == DpStatus.NONEXISTENT
    assert (int(DpStatus.EXISTS), int(DpStatus.CANEXIST), int(DpStatus.NONEXISTENT),
            int(DpStatus.IGNOREPAT), int(DpStatus.MATCHMORE)) == (1, 2, 4, 0x4000, 0x8000)


def test_runtime_extensions_create_and_remove_contexts() -> None:
    plan = Dialplan()
    plan.add_extension("regs", "101", 1, "NoOp", "IAX2/101")
    assert plan.exists("regs", "101")
    assert plan.context_names() == ["regs"]
    assert plan.remove_extension("regs", "101")
    assert not plan.exists("regs", "101")
    assert plan.context_names() == []
    assert not plan.remove_extension("regs", "101")


def test_runtime_entries_merge_with_the_file_and_survive_reload() -> None:
    text = "[regs]\nexten => 900,1,NoOp(static)\n[from]\ninclude => regs\n"
    plan = plan_of(text)
    plan.add_extension("regs", "101", 1, "NoOp", "IAX2/101")
    assert matched(plan, "from", "101") == "regs:101"
    assert matched(plan, "from", "900") == "regs:900"
    reloaded = parse_dialplan_text(text, runtime=plan.runtime)
    assert matched(reloaded, "from", "101") == "regs:101"
    reloaded.add_extension("regs", "102", 1, "NoOp")
    assert matched(reloaded, "from", "102") == "regs:102"
    reloaded.remove_extension("regs", "101")
    assert matched(reloaded, "from", "101") is None


def test_remove_only_touches_its_registrar() -> None:
    plan = Dialplan()
    plan.add_extension("c", "1", 1, "NoOp", registrar="IAX2")
    assert plan.remove_extension("c", "1", registrar="someone-else")
    assert plan.exists("c", "1")
    plan.remove_extension("c", "1", 1, registrar="IAX2")
    assert not plan.exists("c", "1")


def test_add_replaces_a_runtime_priority() -> None:
    plan = Dialplan()
    plan.add_extension("c", "1", 1, "NoOp", "old")
    plan.add_extension("c", "1", 1, "NoOp", "new")
    found = plan.find("c", "1")
    assert found is not None and found.priority.data == "new"


names = st.one_of(
    st.text(alphabet="0123456789-", min_size=1, max_size=5),
    st.builds(lambda body, tail: "_" + "".join(body) + tail,
              st.lists(st.sampled_from(["X", "Z", "N", "1", "5", "[1-3]", "-"]), max_size=5),
              st.sampled_from(["", ".", "!"])),
)


@settings(max_examples=150)
@given(st.lists(names, min_size=1, max_size=25), st.lists(st.text(alphabet="0123456789", max_size=6), max_size=10))
def test_indexed_lookup_equals_a_plain_walk(extension_names: list[str], dialled: list[str]) -> None:
    context = Context("c")
    for name in extension_names:
        extension = context.extension(name)
        if 1 not in extension.priorities:
            extension.add(Priority(1, "NoOp", ""))
    for data in dialled:
        for mode in MatchMode:
            expected: list[str] = []
            for ext in context.extensions():
                result = ext.pattern.match(data, mode)
                if result == EARLY_MATCH and mode is MatchMode.MATCHMORE:
                    expected.append("STOP")
                    break
                if result:
                    expected.append(ext.name)
            got: list[str] = []
            try:
                got.extend(ext.name for ext in context.candidates(data, mode, None))
            except EarlyMatchStop:
                got.append("STOP")
            assert got == expected, (data, mode)
