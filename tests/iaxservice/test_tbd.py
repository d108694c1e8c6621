"""Remote dialplan polling: DPREQ/DPREP against the dialplan's match modes, the 30 s TBD
idle hangup, and overlap dialling (``Dial(IAX2/peer/TBD)``) between two stacks."""

from __future__ import annotations

import math

import pytest
import trio

from pbxedge.iax2.enums import IE, DpStatus, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.keys import KeyStore
from tests.iaxservice.rawclient import RawClient
from tests.iaxservice.stacks import (
    Stack,
    build_stack,
    callee_iax_conf,
    caller_iax_conf,
    free_udp_port,
    running,
)
from tests.iaxservice.test_wire import _client, _non_acks, _open, _sub

E, C, N = DpStatus.EXISTS, DpStatus.CANEXIST, DpStatus.NONEXISTENT
IG, M = DpStatus.IGNOREPAT, DpStatus.MATCHMORE

POLLED = """
[from-iax]
ignorepat => 9
exten => 600,1,Answer()
 same => n,Wait(30)
exten => 6000,1,Answer()
exten => _9NXX,1,Answer()
exten => _3!,1,Answer()
exten => _7.,1,Answer()
exten => 800,2,Answer()
exten => _5XX,1,Answer()
exten => 501,1,Answer()
exten => 201,1,Answer()
 same => n,Verbose(1,REACHED ${EXTEN} from ${CALLERID(num)})
 same => n,Wait(30)
exten => _20[2-9],1,Answer()
 same => n,Verbose(1,REACHED ${EXTEN})
 same => n,Wait(30)
exten => h,1,Verbose(1,HANGUP ${CHANNEL} cause=${HANGUPCAUSE})
"""

# (number, DPSTATUS) as Asterisk's dp_lookup gives them for POLLED.
TABLE = [
    ("6", C | M),
    ("60", C | M),
    ("600", E | M),  # 6000 exists too
    ("6000", E),
    ("6001", N),
    ("9", C | M | IG),
    ("92", C | M),
    ("9234", E),
    ("91", N),  # N is 2-9
    ("3", E),  # '!' matches at once and stops the search for more (§15.11)
    ("31", E),
    ("7", C | M),
    ("71", E | M),
    ("800", N),  # no priority 1
    ("5", C | M),
    ("501", E),
    ("55", C | M),
    ("", C | M),
    ("x", N),
]


async def _listen(client: RawClient, seconds: float) -> list[FullFrame]:
    """What arrives in *seconds* (ACKed, so the node's keepalives stay answered)."""
    before = len(client.received)
    with trio.move_on_after(seconds):
        await client.receive(quiet=math.inf)
    return client.received[before:]


def _callee() -> Stack:
    return build_stack(callee_iax_conf(free_udp_port()), POLLED, KeyStore([]))


async def test_dprep_answers_follow_the_dialplan_match_modes(autojump_clock: object) -> None:
    stack = _callee()
    async with running(stack):
        client = await _client(stack, 3000)
        assert [_sub(f) for f in _non_acks(await _open(client, "TBD", None))] == [
            IaxSubclass.ACCEPT]
        got = []
        for ts, (number, _) in enumerate(TABLE, start=10):
            await client.send_iax(IaxSubclass.DPREQ,
                                  IEList().add_str(IE.CALLED_NUMBER, number), ts)
            (dprep,) = _non_acks(await client.receive())
            assert _sub(dprep) is IaxSubclass.DPREP
            ies = dprep.ies()
            assert ies.get_str(IE.CALLED_NUMBER) == number and ies.get_u16(IE.REFRESH) == 600
            got.append((number, DpStatus(ies.get_u16(IE.DPSTATUS) or 0)))
        assert got == TABLE
        client.sock.close()


async def test_tbd_call_idle_for_30_s_is_hung_up_with_cause_18(autojump_clock: object) -> None:
    stack = _callee()
    async with running(stack):
        client = await _client(stack, 3001)
        await _open(client, "TBD", None)
        await _listen(client, 20)
        # A DPREQ is activity: the 30 s start again from here.
        await client.send_iax(IaxSubclass.DPREQ, IEList().add_str(IE.CALLED_NUMBER, "6"), 20)
        frames = await _listen(client, 40)
        [hangup] = [f for f in frames if _sub(f) is IaxSubclass.HANGUP]
        assert 49 <= hangup.timestamp / 1000 <= 51  # the call's own clock: 20 s + 30 s
        ies = hangup.ies()
        assert (ies.get_str(IE.CAUSE), ies.get_u8(IE.CAUSECODE)) == ("Timeout", 18)
        assert "0 active channels" in await stack.cli("core show channels")
        client.sock.close()


OVERLAP_CALLER = """
[local]
exten => 9,1,Dial(IAX2/a-guest/TBD)
 same => n,Verbose(1,DIALSTATUS ${DIALSTATUS} cause=${HANGUPCAUSE})
 same => n,Hangup()
exten => h,1,Verbose(1,HANGUP ${CHANNEL} cause=${HANGUPCAUSE})
"""


async def _overlap(digits: str, gap: float, caplog: pytest.LogCaptureFixture) -> list[str]:
    """A phone calls the caller stack's 9 and dials *digits* one by one, *gap* apart;
    returns the Verbose lines of both stacks."""
    callee = _callee()
    callee_port = callee.port
    caller = build_stack(caller_iax_conf(free_udp_port(), callee_port,
                                         extra="[phone]\ntype=user\ncontext=local\n"),
                         OVERLAP_CALLER, KeyStore([]))
    async with running(callee, caller):
        phone = await _client(caller, 3100)
        await _open(phone, "9", None)
        for ts, digit in enumerate(digits, start=100):
            await trio.sleep(gap)
            await phone.send(FrameType.DTMF_END, ord(digit), b"", ts)
        await _listen(phone, 40)
        phone.sock.close()
    return [r.getMessage() for r in caplog.records]


async def test_overlap_dialling_sends_dpreq_per_digit_then_dial(
        autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    lines = await _overlap("201", 1.0, caplog)
    assert any("DIAL 201" in line for line in lines)
    assert any(line.startswith("REACHED 201") for line in lines)


async def test_overlap_dialling_waits_on_a_number_that_could_go_on(
        autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    # "600" exists but "6000" does too: DIAL only after the digit timeout.
    lines = await _overlap("600", 1.0, caplog)
    dial = [line for line in lines if "DIAL 600" in line]
    assert dial and not any("DIAL 6000" in line for line in lines)


async def test_overlap_dialling_gives_up_on_a_number_that_cannot_exist(
        autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    lines = await _overlap("91", 1.0, caplog)
    assert any("DIALSTATUS CHANUNAVAIL" in line for line in lines)
    assert any("'91' does not exist at the far end" in line for line in lines)
    assert not any("DIAL 91" in line for line in lines)
