"""A three-node call: caller ─µ-law─► node B ─A-law or G.722─► node A ``Echo``, and back.

B bridges a µ-law leg with a leg in another codec, so every frame is transcoded twice on
its way to the echo and back; the hangup crosses with its cause; ``Dial`` to a busy, an
unanswered and an unreachable destination gives BUSY, NOANSWER and CHANUNAVAIL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import trio

from pbxedge.load.agent import AgentCall, CallAgent
from pbxedge.media.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW, ulaw_decode, ulaw_encode
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node

LIMIT = 20.0


def _a_conf(port: int) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = alaw
allow = g722
allow = ulaw
[bnode]
type = user
context = echo
requirecalltoken = no
"""


A_EXTENSIONS = """[echo]
exten => 800,1,Answer()
 same => n,Echo()
exten => 801,1,Busy(5)
exten => 802,1,Ringing()
 same => n,Wait(30)
exten => 803,1,Answer()
 same => n,Wait(0.8)
 same => n,Hangup(17)
exten => h,1,Verbose(1,A HANGUP ${CHANNEL} cause=${HANGUPCAUSE})
"""


def _b_conf(port: int, a_port: int) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
allow = alaw
allow = g722
[guest]
type = user
context = out
requirecalltoken = no
[a-alaw]
type = peer
host = 127.0.0.1
port = {a_port}
username = bnode
disallow = all
allow = alaw
[a-ulaw]
type = peer
host = 127.0.0.1
port = {a_port}
username = bnode
disallow = all
allow = ulaw
[a-g722]
type = peer
host = 127.0.0.1
port = {a_port}
username = bnode
disallow = all
allow = g722
[nowhere]
type = peer
host = dynamic
"""


B_EXTENSIONS = """[out]
exten => _1XXX,1,Dial(IAX2/a-alaw/${EXTEN:1},2)
 same => n,Verbose(1,B DIALSTATUS ${DIALSTATUS} ${EXTEN})
 same => n,Hangup()
exten => _2XXX,1,Dial(IAX2/a-g722/${EXTEN:1},2)
 same => n,Verbose(1,B DIALSTATUS ${DIALSTATUS} ${EXTEN})
 same => n,Hangup()
exten => _3XXX,1,Dial(IAX2/a-ulaw/${EXTEN:1},2)
 same => n,Hangup()
exten => 900,1,Dial(IAX2/nowhere/800)
 same => n,Verbose(1,B DIALSTATUS ${DIALSTATUS} ${EXTEN})
 same => n,Hangup()
"""


@dataclass
class Three:
    a: RunningNode
    b: RunningNode


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Three]:
    root = tmp_path_factory.mktemp("three")
    a_port, b_port = free_udp_port(), free_udp_port()
    a = start_node(root / "a", write_node(root / "a", _a_conf(a_port), A_EXTENSIONS),
                   a_port, "-vvv")
    try:
        b = start_node(root / "b", write_node(root / "b", _b_conf(b_port, a_port),
                                              B_EXTENSIONS), b_port, "-vvv")
    except BaseException:
        stop(a)
        raise
    try:
        yield Three(a, b)
    finally:
        stop(b)
        stop(a)


def _chirp(seconds: float) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000.0
    return np.round(np.sin(2 * np.pi * (300 + 1500 * t / seconds) * t) * 14000).astype(np.int16)


async def _echo_round_trip(agent: CallAgent, node: RunningNode, exten: str,
                           frames: int) -> tuple[AgentCall, list[bytes], bytes]:
    call = agent.call(("127.0.0.1", node.port), exten)
    with trio.fail_after(LIMIT):
        await call.answered.wait()
    chirp = _chirp(frames * 0.02)
    sent = [ulaw_encode(chirp[i * 160:(i + 1) * 160]) for i in range(frames)]
    for payload in sent:
        agent.send_voice(call, payload, 160)
        agent.flush()
        await trio.sleep(0.02)
    with trio.fail_after(LIMIT):
        while len(call.voice) < frames - 2:
            await trio.sleep(0.02)
    await trio.sleep(0.3)
    heard = b"".join(v.payload for v in sorted(call.voice, key=lambda v: v.timestamp))
    return call, sent, heard


async def test_ulaw_to_alaw_echo_comes_back_exactly_as_the_tables_say(
        three: Three, agent: CallAgent) -> None:
    call, sent, heard = await _echo_round_trip(agent, three.b, "1800", 50)
    # µ-law → A-law on the way there (codec_a_mu), A-law → µ-law on the way back.
    expected = b"".join(p.translate(ULAW_TO_ALAW).translate(ALAW_TO_ULAW) for p in sent)
    assert heard == expected
    agent.hangup(call, 16)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    line = wait_for_log(three.a, "A HANGUP")
    assert line.endswith("cause=16")


async def test_same_codec_bridge_relays_on_the_fast_path_untouched(
        three: Three, agent: CallAgent) -> None:
    call, sent, heard = await _echo_round_trip(agent, three.b, "3800", 100)
    agent.hangup(call)
    assert heard == b"".join(sent)
    stamps = [v.timestamp for v in sorted(call.voice, key=lambda v: v.timestamp)]
    assert all(b - a == 20 for a, b in itertools.pairwise(stamps))


async def test_ulaw_to_g722_echo_carries_the_chirp(three: Three, agent: CallAgent) -> None:
    call, sent, heard = await _echo_round_trip(agent, three.b, "2800", 100)
    agent.hangup(call)
    reference = ulaw_decode(b"".join(sent)).astype(np.float64)
    got = ulaw_decode(heard).astype(np.float64)
    best = 0.0
    for lag in range(0, 1200, 2):  # resamplers and G.722 delay the audio a little
        n = min(len(reference), len(got) - lag) - 400
        if n < 4000:
            break
        a, b = reference[:n], got[lag:lag + n]
        best = max(best, float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b))))
    assert best > 0.9, f"correlation {best:.2f}"


async def test_far_end_hangup_reaches_the_caller_with_its_cause(three: Three,
                                                              agent: CallAgent) -> None:
    call = agent.call(("127.0.0.1", three.b.port), "1803")
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    assert call.cause == 17 and not call.rejected


@pytest.mark.parametrize(("exten", "status"), [
    ("1801", "BUSY"), ("1802", "NOANSWER"), ("900", "CHANUNAVAIL"),
])
async def test_dial_status_of_busy_unanswered_and_unreachable(
        three: Three, agent: CallAgent, exten: str, status: str) -> None:
    call = agent.call(("127.0.0.1", three.b.port), exten)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    line = wait_for_log(three.b, f"B DIALSTATUS {status} {exten}")
    assert line

