"""extensions.conf parsing: entry kinds, priorities, labels, and file:line diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialplan.loader import check, load_dialplan, parse_dialplan_text
from dialplan.plan import Dialplan
from tests.vectors import VECTORS

DATA = Path(__file__).resolve().parents[1] / "data" / "dialplan"


def priorities(plan: Dialplan, context: str, exten: str) -> list[tuple[int, str, str, str | None]]:
    ctx = plan.context(context)
    assert ctx is not None
    for ext in ctx.extensions():
        if ext.display_name == exten:
            return [(p.number, p.app, p.data, p.label) for p in ext.ordered_priorities()]
    raise AssertionError(f"{exten} not in {context}")


def test_priority_forms_and_labels() -> None:
    plan = parse_dialplan_text("""
[c]
exten => 100,1,NoOp(one)
 same => n(two),NoOp(two)
 same => s,NoOp(never mind)
""")
    # 'same' re-uses the priority: a duplicate
    assert [str(d) for d in plan.diagnostics] == [
        "extensions.conf:5: error: Unable to register extension '100' priority 2 in 'c', already in use"]
    plan = parse_dialplan_text("""
[c]
exten => 100,1,NoOp(one)
 same => n(two),NoOp(two)
exten => 100,two+2,NoOp(four)
exten => 100,10,NoOp(ten)
 same => next,NoOp(eleven)
exten => 200,n,NoOp(twelve: lastpri is per context)
exten => 100,hint,IAX2/100
""")
    assert plan.diagnostics == []
    assert priorities(plan, "c", "100") == [
        (1, "NoOp", "one", None), (2, "NoOp", "two", "two"), (4, "NoOp", "four", None),
        (10, "NoOp", "ten", None), (11, "NoOp", "eleven", None)]
    assert priorities(plan, "c", "200") == [(12, "NoOp", "twelve: lastpri is per context", None)]
    ctx = plan.context("c")
    assert ctx is not None
    hint = next(e for e in ctx.extensions() if e.name == "100").hint
    assert hint is not None and hint.app == "IAX2/100"


def test_application_data_runs_to_the_last_paren() -> None:
    plan = parse_dialplan_text("[c]\nexten => 1,1,Set(A=$[(1+2)*3]) ; comment\n"
                               "exten => 2,1,Answer\nexten => 3,1,NoOp(a,b) trailing\n"
                               "exten => 4,hint,IAX2/${GLOBAL(X)}\n")
    assert priorities(plan, "c", "1") == [(1, "Set", "A=$[(1+2)*3]", None)]
    assert priorities(plan, "c", "2") == [(1, "Answer", "", None)]
    assert priorities(plan, "c", "3") == [(1, "NoOp", "a,b", None)]
    ctx = plan.context("c")
    assert ctx is not None
    hint = next(e for e in ctx.extensions() if e.name == "4").hint
    assert hint is not None and hint.app == "IAX2/${GLOBAL(X)}"


def test_commas_inside_brackets_belong_to_the_extension() -> None:
    plan = parse_dialplan_text("[c]\nexten => _[1,2]X,1,NoOp()\n")
    assert plan.exists("c", "15") and plan.exists("c", "25") and not plan.exists("c", "35")


def test_extension_names_use_globals_at_load() -> None:
    plan = parse_dialplan_text("[globals]\nPREFIX=7\n[c]\nexten => ${PREFIX}00,1,NoOp()\n")
    assert plan.exists("c", "700")


def test_repeated_contexts_and_globals_merge() -> None:
    plan = parse_dialplan_text("[globals]\nA=1\n[c]\nexten => 1,1,NoOp()\n[globals]\nB=2\n"
                               "[c]\nexten => 2,1,NoOp()\n")
    assert plan.exists("c", "1") and plan.exists("c", "2")
    assert plan.file_globals == {"A": "1", "B": "2"}


def test_general_options() -> None:
    plan = parse_dialplan_text("[general]\nautofallthrough=no\nclearglobalvars=yes\n"
                               "extenpatternmatchnew=yes\nuserscontext=users\n")
    assert not plan.options.autofallthrough and plan.options.clearglobalvars
    assert plan.options.userscontext == "users"
    assert [d.severity.value for d in plan.diagnostics] == ["warning"]


def test_include_ignorepat_and_switch() -> None:
    plan = parse_dialplan_text("[c]\ninclude => day,9:00-17:00,mon-fri,*,*\ninclude => other\n"
                               "ignorepat => 9\nswitch => IAX2/box/ctx\n")
    ctx = plan.context("c")
    assert ctx is not None
    assert [i.name for i in ctx.includes] == ["day", "other"]
    assert ctx.includes[0].timing is not None and ctx.includes[1].timing is None
    assert ctx.ignorepats == ["9"]
    assert [str(d) for d in plan.diagnostics] == [
        "extensions.conf:5: warning: 'switch => IAX2/box/ctx' is not supported on this node "
        "(no remote dialplan switches); ignored"]


def test_broken_file_reports_every_problem_with_file_and_line() -> None:
    path = DATA / "broken.conf"
    lines = [str(d).replace(str(DATA) + "/", "") for d in check(path)]
    assert lines == [
        "broken.conf:3: warning: 'autofallthrough' expects yes or no, got 'maybe'",
        "broken.conf:4: warning: unknown option 'frobnicate' in [general]",
        "broken.conf:7: error: No previous pattern in the first entry of context 'ctx' to match 'same' (n,NoOp(no exten yet))",
        "broken.conf:8: error: Can't use 'n' priority on the first entry",
        "broken.conf:10: error: Unable to register extension '100' priority 1 in 'ctx', already in use",
        "broken.conf:11: error: exten => 101,1: missing application",
        "broken.conf:12: error: Invalid priority/label 'nolabel'",
        "broken.conf:13: warning: No closing parenthesis found? 'NoOp(unclosed'",
        "broken.conf:14: warning: Unknown directive 'frob' in context 'ctx', ignored",
        "broken.conf:15: warning: 'switch => IAX2/user:secret@server/ctx' is not supported on this node "
        "(no remote dialplan switches); ignored",
        "broken.conf:16: error: exten => line has no extension",
    ]


def test_messages_quote_only_short_escaped_excerpts_of_the_file() -> None:
    long = "x" * 5000
    text = f"[general]\nstatic=\x1b[2J{long}\n[ctx]\nexten => 1,1,NoOp({long}\nexten => 2,{long},NoOp\n"
    shown = [str(d) for d in parse_dialplan_text(text).diagnostics]
    assert shown == [
        "extensions.conf:2: warning: 'static' expects yes or no, got '\\x1b[2J" + "x" * 56 + "…'",
        "extensions.conf:4: warning: No closing parenthesis found? 'NoOp(" + "x" * 55 + "…'",
        "extensions.conf:5: error: Invalid priority/label '" + "x" * 60 + "…'",
    ]


def test_includes_templates_and_python_modules() -> None:
    plan = load_dialplan(DATA / "main.conf")
    assert plan.diagnostics == []
    assert plan.exists("inc", "5")
    assert plan.exists("a", "1") and plan.exists("a", "i")
    assert plan.context("tmpl") is None
    assert plan.options.pythonmodules == ["my_dialplan_hooks", "other_hooks"]


def test_check_of_a_missing_file() -> None:
    diagnostics = check(DATA / "does-not-exist.conf")
    assert len(diagnostics) == 1 and "cannot read" in str(diagnostics[0])


def test_discouraged_patterns_warn() -> None:
    plan = parse_dialplan_text("[c]\nexten => _.,1,NoOp()\n")
    assert "strongly discouraged" in str(plan.diagnostics[0])
    # The advice keeps the wildcard that was used, as pbx_config's does.
    assert "Please use '_X.' instead" in str(plan.diagnostics[0])
    plan = parse_dialplan_text("[c]\nexten => _!,1,NoOp()\n")
    assert "Please use '_X!' instead" in str(plan.diagnostics[0])


def test_the_real_asterisk_dialplan_parses() -> None:
    plan = load_dialplan(VECTORS / "instance-a-extensions.conf")
    assert plan.diagnostics == []
    assert plan.exists("default", "9100")
    assert priorities(plan, "from-iax", "603")[1][1] == "Record"


@pytest.mark.parametrize("junk", ["  ; trailing comment", " )", "(", ",,,", "=> =>", "\\", "\x00"])
def test_trailing_junk_never_crashes(junk: str) -> None:
    plan = parse_dialplan_text(f"[c]\nexten => 1,1,NoOp(x){junk}\nexten => 2{junk}\ninclude => {junk}\n")
    assert isinstance(plan.diagnostics, list)


@settings(max_examples=200)
@given(st.text(alphabet="[]()=>,;_/+-.!xXnN0123456789abc \n\\$", max_size=80))
def test_any_text_loads_without_raising(text: str) -> None:
    plan = parse_dialplan_text("[c]\n" + text)
    for name in plan.context_names():
        context = plan.context(name)
        assert context is not None
        for ext in context.extensions():
            plan.find(name, ext.name)


def test_same_after_an_exten_without_name_does_not_join_the_extension_before() -> None:
    plan = parse_dialplan_text("[c]\nexten => 1,1,NoOp(a)\nexten => ,1,NoOp(b)\n same => 2,NoOp(c)\n")
    assert [d.message for d in plan.diagnostics] == [
        "exten => line has no extension",
        "No previous pattern in the first entry of context 'c' to match 'same' (2,NoOp(c))",
    ]
    assert plan.find("c", "1", None, priority=2) is None
