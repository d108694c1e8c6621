"""DTMF and TEXT across the bridge a ``Dial`` sets up, both ways, on two call stacks.

B dials A (``IAX2/a-guest/620``); A's plan dials back into B (``IAX2/b-guest/630``), which
answers and waits. A bridges its two IAX2 legs; B bridges its outgoing leg with the test's
channel. So on B::

    FakeChannel ══ leg_out ──► A: inbound ══ outbound ──► B: leg_in (plan 630, unbridged)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from pbxedge.channels.iax import IaxChannel
from pbxedge.iaxservice.inbound import InboundCall
from pbxedge.iaxservice.outbound import OutboundLeg
from pbxedge.keys import KeyStore
from pbxedge.log import VERBOSE
from tests.dialplan.fakes import FakeChannel
from tests.iaxservice.stacks import (
    CALLER_EXTENSIONS,
    Stack,
    build_stack,
    callee_iax_conf,
    caller_iax_conf,
    free_udp_port,
    running,
)

A_EXTENSIONS = """
[from-iax]
exten => 620,1,Dial(IAX2/b-guest/630)
 same => n,Hangup()
"""

B_EXTENSIONS = CALLER_EXTENSIONS + """
[bridged]
exten => 630,1,Answer()
 same => n,Wait(600)
 same => n,Hangup()
"""


def _stacks() -> tuple[Stack, Stack]:
    a_port, b_port = free_udp_port(), free_udp_port()
    a = build_stack(callee_iax_conf(
        a_port, extra=f"[b-guest]\ntype = peer\nhost = 127.0.0.1\nport = {b_port}\n"),
        A_EXTENSIONS, KeyStore([]))
    b = build_stack(caller_iax_conf(b_port, a_port,
                                    extra="[guest]\ntype = user\ncontext = bridged\n"),
                    B_EXTENSIONS, KeyStore([]))
    return a, b


async def _legs(stack: Stack, count: int) -> dict[type, IaxChannel]:
    """The stack's channels by who owns their call, once *count* of them are up."""
    while True:
        up = [(ch, n) for ch, n in stack.calls.channels() if ch.state.value == "up"]
        if len(up) == count:
            return {type(stack.iax.owner(n)): ch for ch, n in up}
        await trio.sleep(0.01)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await trio.sleep(0.01)


async def test_dtmf_and_text_cross_the_bridge_both_ways(
    autojump_clock: object, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(VERBOSE)
    a, b = _stacks()
    # A safety net on the mock clock, so that a lost frame fails instead of hanging.
    with trio.fail_after(120):
        await _exchange(a, b, caplog)
    dropped = [r for r in caplog.records if "TEXT" in r.getMessage()]
    assert [r.levelno for r in dropped] == [VERBOSE]


async def _exchange(a: Stack, b: Stack, caplog: pytest.LogCaptureFixture) -> None:
    async with running(a, b) as nursery:
        origin = FakeChannel(name="Local/test-1")
        nursery.start_soon(b.calls.dialer.dial, origin, ["IAX2/a-guest/620"], 30, "")
        b_legs = await _legs(b, 2)
        await _legs(a, 2)
        leg_out, leg_in = b_legs[OutboundLeg], b_legs[InboundCall]

        # Caller side to called side: through A's bridge, from its incoming leg.
        await leg_out.send_dtmf("5")
        assert await leg_in.wait_for_digit(10) == "5"
        await leg_out.send_text("hello")
        # leg_in is not bridged (its plan is in Wait): the text is logged and dropped.
        await _until(lambda: any("TEXT 'hello' dropped" in r.getMessage()
                                 for r in caplog.records))

        # Called side to caller side: A's outgoing leg, then B's own bridge to the origin.
        await leg_in.send_dtmf("7")
        await leg_in.send_text("world")
        await _until(lambda: ("dtmf", "7") in origin.events and origin.texts == ["world"])

        origin.caller_hangs_up()

