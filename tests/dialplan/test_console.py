"""Console layouts of dialplan show / core show applications / core show functions."""

from __future__ import annotations

from dialplan.builtins import default_registry
from dialplan.console import show_applications, show_dialplan, show_functions
from dialplan.loader import parse_dialplan_text
from dialplan.plan import Dialplan

TEXT = """[ctx]
include => other
include => day,9:00-17:00,mon-fri,*,*
ignorepat => 9
exten => 100,hint,IAX2/100
exten => 100,1,NoOp()
 same => n(two),Hangup(16)
exten => 5/123,1,Answer()
[other]
exten => _1XX,1,NoOp(pattern)
"""


def plan() -> Dialplan:
    return parse_dialplan_text(TEXT, "extensions.conf")


def test_whole_context_layout() -> None:
    assert show_dialplan(plan(), "ctx") == (
        "[ Context 'ctx' created by 'pbx_config' ]\n"
        "  '100' =>          hint: IAX2/100                                [extensions.conf:5]\n"
        "                    1. NoOp()                                     [extensions.conf:6]\n"
        "     [two]          2. Hangup(16)                                 [extensions.conf:7]\n"
        "  '5' (CID match '123') =>  1. Answer()                                   [extensions.conf:8]\n"
        "  Include =>        'other'                                       [pbx_config]\n"
        "  Include =>        'day,9:00-17:00,mon-fri,*,*'                  [pbx_config]\n"
        "  Ignore pattern => '9'                                           [pbx_config]\n"
        "\n"
        "-= 2 extensions (4 priorities) in 1 context. =-\n"
    )


def test_extension_search_follows_includes() -> None:
    text = show_dialplan(plan(), "100@ctx")
    assert "[ Context 'ctx' created by 'pbx_config' ]" in text
    assert "[ Included context 'other' created by 'pbx_config' ]" in text
    assert "'_1XX' =>" in text
    assert text.endswith("-= 2 extensions (4 priorities) in 2 contexts. =-\n")


def test_all_contexts_and_runtime_entries() -> None:
    current = plan()
    current.add_extension("iaxregs", "101", 1, "NoOp", "IAX2/101")
    text = show_dialplan(current, None)
    assert "[ Context 'iaxregs' created by 'IAX2' ]\n  '101' =>          1. NoOp(IAX2/101)" in text
    assert "[IAX2]" in text
    assert text.endswith("-= 4 extensions (6 priorities) in 3 contexts. =-\n")


def test_missing_things() -> None:
    assert show_dialplan(plan(), "nope") == "There is no existence of 'nope' context\n"
    assert show_dialplan(plan(), "777@ctx") == "There is no existence of '777' extension in 'ctx' context\n"


def test_applications_and_functions() -> None:
    registry = default_registry()
    apps = show_applications(registry).splitlines()
    assert apps[0] == "    -= Registered Asterisk Applications =-"
    assert "                Answer: Answer a channel if ringing." in apps
    assert apps[-1] == f"    -= {len(registry.apps())} Applications Registered =-"
    functions = show_functions(registry).splitlines()
    assert functions[:2] == ["Installed Custom Functions:", "-" * 80]
    assert functions[-1] == f"{len(registry.functions())} custom functions installed."
    assert any(line.startswith("LEN                   LEN(string)") for line in functions)
