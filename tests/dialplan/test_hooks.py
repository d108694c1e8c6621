"""Python hooks: pythonmodules and entry points."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from dialplan.builtins import default_registry
from dialplan.call import Call
from dialplan.engine import Engine
from dialplan.hooks import (
    APP_ENTRY_POINTS,
    FUNCTION_ENTRY_POINTS,
    load_entry_points,
    load_python_modules,
)
from dialplan.loader import parse_dialplan_text
from tests.dialplan.fakes import FakeChannel

DATA = str(Path(__file__).resolve().parents[1] / "data" / "dialplan")


async def test_module_named_in_general_adds_an_app_and_a_function(autojump_clock: object) -> None:
    plan = parse_dialplan_text("[general]\npythonmodules = my_dialplan_hooks\n"
                               "[c]\nexten => s,1,Greet(${REVERSE(dlrow)})\n")
    registry = default_registry()
    assert load_python_modules(registry, plan.options.pythonmodules, [DATA]) == []
    channel = FakeChannel()
    await Engine(plan, registry=registry).start(channel, "c", "s")
    assert channel.variables["GREETING"] == "Hello world"
    assert registry.app("greet") is not None and registry.function("reverse") is not None


def test_broken_or_missing_modules_are_reported() -> None:
    registry = default_registry()
    problems = load_python_modules(registry, ["broken_hooks", "no_such_module_here", "json"], [DATA])
    assert len(problems) == 3
    assert "the admin made a typo" in problems[0]
    assert "no_such_module_here" in problems[1]
    assert "defines no dialplan application" in problems[2]


async def fake_app(call: Call, data: str) -> None:
    call.set_variable("PLUGGED", data)


def fake_function(call: Call, args: str) -> str:
    return args.upper()


def test_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    points = {
        APP_ENTRY_POINTS: [importlib.metadata.EntryPoint("Plugged", f"{__name__}:fake_app", APP_ENTRY_POINTS),
                           importlib.metadata.EntryPoint("Bad", "no.such.module:x", APP_ENTRY_POINTS)],
        FUNCTION_ENTRY_POINTS: [importlib.metadata.EntryPoint("UPPER", f"{__name__}:fake_function",
                                                              FUNCTION_ENTRY_POINTS)],
    }
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: points[group])
    registry = default_registry()
    problems = load_entry_points(registry)
    assert len(problems) == 1 and "Bad" in problems[0]
    assert registry.app("plugged") is not None
    function = registry.function("upper")
    assert function is not None and function.read(None, "abc") == "ABC"  # type: ignore[arg-type]


async def test_the_readme_example_works(tmp_path: Path, autojump_clock: object) -> None:
    import re

    from dialplan.loader import load_dialplan
    from tests.dialplan.fakes import FakeDialer

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Writing an application or function in Python")[1]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    (tmp_path / "extensions.conf").write_text(blocks[0][1])
    (tmp_path / "office_hooks.py").write_text(blocks[1][1])
    plan = load_dialplan(tmp_path / "extensions.conf")
    dialer = FakeDialer()
    engine = Engine(plan, dialer=dialer)
    assert load_python_modules(engine.registry, plan.options.pythonmodules, [str(tmp_path)]) == []
    outcome = await engine.start(FakeChannel(caller_num="101"), "from-internal", "*70")
    assert [step.app for step in outcome.trace] == ["LookupDesk", "Verbose", "GotoIf", "Dial", "Hangup"]
    assert outcome.trace[1].data == "1,desk is 102, shouted: 102"
    assert dialer.dialled == [(["IAX2/102"], 20.0, "")]
