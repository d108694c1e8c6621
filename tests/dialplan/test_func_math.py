"""``MATH()``: results as Asterisk's func_math gives them (x86-64 Linux, glibc)."""

from __future__ import annotations

import logging

import pytest

from dialplan.builtins import default_registry
from dialplan.call import Call, Services
from dialplan.engine import Engine
from dialplan.loader import parse_dialplan_text
from tests.dialplan.fakes import FakeChannel


def substitute(text: str) -> str:
    call = Call(FakeChannel(), parse_dialplan_text("[c]\n"), Services(default_registry()), "c", "s")
    return call.substitute(text)


@pytest.mark.parametrize(
    ("args", "result"),
    [
        # The examples of Asterisk's documentation and unit test.
        ("3*4,i", "12"),
        ("123%16,int", "11"),
        ("170 AND 63,i", "42"),
        ("170AND63,i", "42"),
        # Every operator; the default type is float, printed with %f.
        ("7+5", "12.000000"),
        ("7-5", "2.000000"),
        ("3*4", "12.000000"),
        ("7/2", "3.500000"),
        ("7%3", "1.000000"),
        ("2^10", "1024.000000"),
        ("2^0.5", "1.414214"),
        ("1<<4,i", "16"),
        ("256>>4,i", "16"),
        ("12 OR 3,i", "15"),
        ("12XOR10,i", "6"),
        ("3<4", "TRUE"),
        ("4<3", "FALSE"),
        ("4>3", "TRUE"),
        ("3>=3", "TRUE"),
        ("3<=2", "FALSE"),
        ("5==5.0", "TRUE"),
        ("2>1,h", "TRUE"),  # comparisons ignore the type
        # The first operator of the scan order wins, wherever it stands: no precedence.
        ("1+2*3", "3.000000"),  # "1+2" * 3, and "1+2" reads as 1
        ("2*3+1", "6.000000"),
        ("10-2*3", "30.000000"),
        ("8/2^2", "4.000000"),
        ("7-3-1", "4.000000"),  # 7 - "3-1"
        ("1e+1,i", "2"),  # "+" splits the exponent: 1e + 1
        ("9 OR 8 AND 1,i", "1"),  # AND before OR: "9 OR 8" (9) AND 1
        # Minus: one leading "-" belongs to the first number; "-" is tried last.
        ("-5-2", "-7.000000"),
        ("5*-2", "-10.000000"),
        ("5--2", "7.000000"),
        ("-5--2", "-3.000000"),
        ("-3*4,i", "-12"),
        ("-7/2,i", "-3"),  # truncated toward zero
        ("0*-1", "-0.000000"),
        # Numbers are read like sscanf("%30lf").
        (" 3 * 4 ,i", "12"),
        ("12abc+1,i", "13"),
        ("0x10+0,i", "16"),
        ("1e3+0", "1000.000000"),
        ("+2*3,i", "6"),
        ("inf*1", "inf"),
        ("1234567890123456789012345678901234*1", "123456789012345677877719597056.000000"),
        # Integer operators work on C ints, with C's remainder and x86's shift count.
        ("-7%2,i", "-1"),
        ("7%-2,i", "1"),
        ("7.9%2.9,i", "1"),
        ("1<<33,i", "2"),
        ("1<<31,i", "-2147483648"),
        ("-8>>1,i", "-4"),
        ("-2147483648%-1,i", "0"),  # C traps here; the result is 0
        # Asterisk's division: by zero, and by any negative number, gives 0.
        ("1/0", "0.000000"),
        ("10/-2", "0.000000"),
        ("5%0,i", "0"),
        # Result types and their C casts.
        ("7/2,f", "3.500000"),
        ("7/2,FLOAT", "3.500000"),
        ("7/2,INT", "3"),
        ("3e9+0,i", "-2147483648"),
        ("255+0,h", "ff"),
        ("255+0,HEX", "ff"),
        ("-1+0,h", "ffffffff"),
        ("3e9+0,h", "b2d05e00"),
        ("1e19+0,h", "0"),
        ("65+0,c", "A"),
        ("321+0,char", "A"),
        ("0+0,c", ""),
        ("200+0,c", "\udcc8"),  # one byte, 0xC8, as it would go on the wire
        ("10^400", "inf"),
        ("0^-1", "inf"),
        ("-8^0.5", "-nan"),
    ],
)
def test_results(args: str, result: str) -> None:
    assert substitute(f"${{MATH({args})}}") == result


@pytest.mark.parametrize(
    ("args", "warning"),
    [
        ("", "Syntax: MATH(<number1><op><number 2>[,<type_of_result>]) - missing argument!"),
        ("12", "Supply all the parameters - just this once, please"),
        ("1=2", "Supply all the parameters - just this once, please"),  # "=" alone is no operator
        ("3!=4", "Supply all the parameters - just this once, please"),
        ("3*4,u", "Unknown type of result requested 'u'."),
        ("3*4, i", "Unknown type of result requested ' i'."),  # no blanks are trimmed
        ("3*4,", "Unknown type of result requested ''."),
        ("abc*2", "'abc' is not a valid number"),
        ("3*x", "'x' is not a valid number"),
        ("0x*1", "'0x' is not a valid number"),
        ("infin*1", "'infin' is not a valid number"),
    ],
)
def test_errors_give_nothing_and_say_why(args: str, warning: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dialplan")
    assert substitute(f"<${{MATH({args})}}>") == "<>"
    assert [r.getMessage() for r in caplog.records] == [warning]


def test_math_cannot_be_written(caplog: pytest.LogCaptureFixture) -> None:
    call = Call(FakeChannel(), parse_dialplan_text("[c]\n"), Services(default_registry()), "c", "s")
    call.set_variable("MATH(1+1)", "3")
    assert "MATH not registered or not writable" in caplog.text
    assert call.channel.variables == {}


async def test_the_call_takes_the_branch_math_computes(autojump_clock: object) -> None:
    plan = parse_dialplan_text("""
[c]
exten => s,1,GotoIf($[${MATH(3*4,i)} = 12]?yes:no)
 same => n(no),Hangup(21)
 same => n(yes),Set(HALF=${MATH(${MATH(3*4,i)}/8)})
 same => n,GotoIf($["${MATH(${HALF}>1)}" = "TRUE"]?big)
 same => n,Hangup(21)
 same => n(big),Hangup(16)
""")
    outcome = await Engine(plan).start(FakeChannel(), "c", "s")
    assert [(step.app, step.data) for step in outcome.trace] == [
        ("GotoIf", "1?yes:no"), ("Set", "HALF=1.500000"), ("GotoIf", "1?big"), ("Hangup", "16")]
