"""``${...}`` substitution and the built-in functions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialplan.args import separate_args, split_app_call
from dialplan.builtins import default_registry
from dialplan.call import Call, Services
from dialplan.loader import parse_dialplan_text
from dialplan.substitution import substring
from tests.dialplan.fakes import FakeChannel

PLAN_TEXT = """
[globals]
G1 = global-one
[ctx]
exten => 100,1,NoOp()
 same => n(lbl),NoOp()
exten => _2XX,1,NoOp()
"""


def make_call(**variables: str) -> Call:
    plan = parse_dialplan_text(PLAN_TEXT)
    plan.apply_globals()
    channel = FakeChannel(caller_num="5551234", caller_name="Alice", name="IAX2/alice-7",
                          uniqueid="1700000000.42")
    channel.variables.update(variables)
    channel.hangup_cause = 16
    return Call(channel, plan, Services(default_registry()), "ctx", "100", 3)


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("plain", "plain"),
        ("${X}", "hello"),
        ("a${X}b", "ahellob"),
        ("${X:1}", "ello"),
        ("${X:1:2}", "el"),
        ("${X:-3}", "llo"),
        ("${X:-3:2}", "ll"),
        ("${X:0:-1}", "hell"),
        ("${X:1:-1}", "ell"),
        ("${X:10}", ""),
        ("${X:-10}", "hello"),
        ("${X:2:-5}", ""),
        ("${UNSET}", ""),
        ("${EXTEN}", "100"),
        ("${EXTEN:1}", "00"),
        ("${CONTEXT}", "ctx"),
        ("${PRIORITY}", "3"),
        ("${CHANNEL}", "IAX2/alice-7"),
        ("${UNIQUEID}", "1700000000.42"),
        ("${HANGUPCAUSE}", "16"),
        ("${G1}", "global-one"),
        ("${GLOBAL(G1)}", "global-one"),
        ("${CALLERID(num)}", "5551234"),
        ("${CALLERID(name)}", "Alice"),
        ("${CALLERID(all)}", '"Alice" <5551234>'),
        ("${LEN(${X})}", "5"),
        ("${LEN()}", "0"),
        ("${ISNULL(${UNSET})}", "1"),
        ("${ISNULL(${X})}", "0"),
        ("${EXISTS(${X})}", "1"),
        ("${EXISTS()}", "0"),
        ("${IF($[1 = 1]?yes:no)}", "yes"),
        ("${IF($[1 = 2]?yes:no)}", "no"),
        ("${IF(abc?yes:no)}", "yes"),
        ("${IF(0?yes)}", ""),
        ("${IF(1?:no)}", ""),
        ("${IF( 1 ? a b : c )}", "a b"),
        ("${IF($[${N} > 1]?${CALLERID(num)}:b)}", "5551234"),
        ("${DIALPLAN_EXISTS(ctx,100)}", "1"),
        ("${DIALPLAN_EXISTS(ctx,250)}", "1"),
        ("${DIALPLAN_EXISTS(ctx,300)}", "0"),
        ("${DIALPLAN_EXISTS(ctx,100,2)}", "1"),
        ("${DIALPLAN_EXISTS(ctx,100,9)}", "0"),
        ("${DIALPLAN_EXISTS(ctx,100,lbl)}", "1"),
        ("${DIALPLAN_EXISTS(ctx)}", "1"),
        ("${DIALPLAN_EXISTS(nope)}", "0"),
        ("${CUT(PARTS,-,2)}", "b"),
        ("${CUT(PARTS,-,2-3)}", "b-c"),
        ("${CUT(PARTS,-,-2)}", "a-b"),
        ("${CUT(PARTS,-,3-)}", "c-d"),
        ("${CUT(PARTS,-,1&3)}", "a-c"),
        ("${CUT(PARTS,,4)}", "d"),
        ("${CUT(CSV,\\,,2)}", "y"),
        ("${CUT(PARTS,-,9)}", ""),
        ('${REGEX("^1" ${CALLERID(num)})}', "0"),
        ('${REGEX("55+1" ${CALLERID(num)})}', "1"),
        ('${REGEX("[" x)}', ""),
        ("${FILTER(0-9,${MIXED})}", "5551234"),
        ("${FILTER(a-c,abcdef)}", "abc"),
        ("${FILTER(0-9\\,,1,2x)}", "1,2"),
        ("${STRFTIME(0,UTC,%Y-%m-%d %H:%M:%S)}", "1970-01-01 00:00:00"),
        ("${STRFTIME(86400,UTC,%A)}", "Friday"),
        ("${RAND(7,7)}", "7"),
        ("${NOSUCHFUNC(x)}", ""),
        ("$[1 + ${N}]", "3"),
        ("${X:$[0+1]:$[1+1]}", "el"),
        ("x${X}$[${N} * 2]y", "xhello4y"),
        ("${NAME_${N}}", "nested"),
        ("$5 and $", "$5 and $"),
        ("${X", "hello"),
        ("${EVIL}", "${X}"),
    ],
)
def test_substitution(text: str, result: str) -> None:
    call = make_call(X="hello", N="2", PARTS="a-b-c-d", CSV="x,y,z", MIXED="(555) 123-4",
                     NAME_2="nested", EVIL="${X}")
    assert call.substitute(text) == result


def test_rand_stays_in_range() -> None:
    call = make_call()
    values = {int(call.substitute("${RAND(1,3)}")) for _ in range(200)}
    assert values <= {1, 2, 3}
    assert int(call.substitute("${RAND(5,2)}")) in range(2, 6)


def test_epoch_is_now() -> None:
    import time

    assert abs(int(make_call().substitute("${EPOCH}")) - time.time()) < 5


def test_set_variables_and_functions() -> None:
    call = make_call()
    call.set_variable("FOO", "1")
    call.set_variable("__INHERIT", "2")
    call.set_variable("_ONE", "3")
    assert call.channel.variables == {"FOO": "1", "INHERIT": "2", "ONE": "3"}
    call.set_variable("FOO", "")
    assert "FOO" not in call.channel.variables
    call.set_variable("GLOBAL(G2)", "set")
    assert call.plan.globals["G2"] == "set"
    call.set_variable("CALLERID(num)", "999")
    call.set_variable("CALLERID(name)", "Bob")
    assert call.substitute("${CALLERID(all)}") == '"Bob" <999>'
    call.set_variable("CALLERID(all)", '"Carol" <123>')
    assert (call.channel.caller_name, call.channel.caller_num) == ("Carol", "123")
    call.set_variable("NOSUCH(x)", "ignored")  # logged, no crash


def test_builtins_override_channel_variables() -> None:
    call = make_call(EXTEN="spoofed")
    assert call.substitute("${EXTEN}") == "100"


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("a,b,c", ["a", "b", "c"]),
        ("a,b,", ["a", "b", ""]),
        ("", []),
        ("f(a,b),c", ["f(a,b)", "c"]),
        ("[1,2],3", ["[1,2]", "3"]),
        ('"a,b",c', ["a,b", "c"]),
        ("a\\,b,c", ["a,b", "c"]),
    ],
)
def test_separate_args(text: str, args: list[str]) -> None:
    assert separate_args(text) == args


def test_separate_args_max_and_raw() -> None:
    assert separate_args("1,a,b,c", max_args=2) == ["1", "a,b,c"]
    assert separate_args('"a",b', remove_chars=False) == ['"a"', "b"]


def test_split_app_call() -> None:
    assert split_app_call("Dial(IAX2/a,20)") == ("Dial", "IAX2/a,20")
    assert split_app_call("NoOp(f(x)) tail)") == ("NoOp", "f(x)) tail")
    assert split_app_call("Answer") == ("Answer", "")


def test_substring_helper() -> None:
    assert substring("abcdef", -2, None) == "ef"
    assert substring("abcdef", 1, -1) == "bcde"


SUBSTITUTION_PIECES = [
    *'${}[]():,?-="\\ &0123456789aXN',
    "LEN(", "IF(", "CUT(", "STRFTIME(", "FILTER(", "RAND(", "REGEX(", "DIALPLAN_EXISTS(",
    "GLOBAL(", "CALLERID(", "ISNULL(", "EXISTS(", "LOCAL(", "EXTEN", "99999999999999999999",
]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(SUBSTITUTION_PIECES), max_size=25))
def test_substitution_never_raises(pieces: list[str]) -> None:
    assert isinstance(make_call(X="hello").substitute("".join(pieces)), str)


@given(st.text(max_size=60))
def test_agi_argument_parser_never_raises(line: str) -> None:
    from dialplan.agi_protocol import parse_agi_args

    assert all(isinstance(word, str) for word in parse_agi_args(line))


@pytest.mark.parametrize(
    "text",
    [
        "${STRFTIME(1e300)}", "${STRFTIME(nan)}", "${STRFTIME(-99999999999)}",
        "$[999999999999999999999999999999999999999999999999999999.5 % 7]",
        "${" * 3000 + "X" + "}" * 3000, "$[" * 500 + "1" + "]" * 500, "$[" + "(" * 5000 + "1" + ")" * 5000 + "]",
    ],
)
def test_hostile_input_is_contained(text: str) -> None:
    assert isinstance(make_call(X="1").substitute(text), str)
