"""An IAX2 trunk between two real nodes, watched on the wire; overlap dialling across it.

calling agent ─mini─► node B ══ meta trunk frames ══► node A ``Echo``, and back.

Between B and A sits a UDP relay that forwards everything and keeps a copy of each
datagram with its time, so the test counts what crossed the trunk, decodes it with
tshark, and checks every call heard its own tagged audio back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from pbxedge.iax2.enums import IE, IaxSubclass
from pbxedge.iax2.frames import (
    FullFrame,
    MetaTrunkFrame,
    MiniFrame,
    TrunkEntry,
    parse_datagram,
)
from pbxedge.load.agent import AgentCall, CallAgent
from tests.iax2.pcaputil import write_pcap
from tests.iax2.test_tshark import _tshark
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import WireClient, stop, wait_for_log, write_node
from tests.integration.relay import Direction, LossyRelay

LIMIT = 60.0
TICK = 0.02


def _a_conf(port: int, general: str) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
{general}
[bnode]
type = user
context = echo
trunk = yes
requirecalltoken = no
"""


A_EXTENSIONS = """[echo]
exten => 800,1,Answer()
 same => n,Echo()
exten => _20X,1,Answer()
 same => n,Verbose(1,REACHED ${EXTEN})
 same => n,Echo()
"""


def _b_conf(port: int, trunk_port: int, general: str) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
{general}
[guest]
type = user
context = out
requirecalltoken = no
[a-trunk]
type = peer
host = 127.0.0.1
port = {trunk_port}
username = bnode
trunk = yes
"""


B_EXTENSIONS = """[out]
exten => 800,1,Dial(IAX2/a-trunk/800)
 same => n,Hangup()
exten => 9,1,Dial(IAX2/a-trunk/TBD)
 same => n,Hangup()
"""


@dataclass
class Wire:
    """Every datagram the relay passed: (monotonic time, direction, payload)."""

    seen: list[tuple[float, Direction, bytes]] = field(default_factory=list)

    def rule(self, direction: Direction, data: bytes, index: int) -> bool:
        self.seen.append((time.monotonic(), direction, data))
        return False  # a clean link: nothing is dropped


@dataclass
class Trunked:
    a: RunningNode
    b: RunningNode
    relay: LossyRelay
    wire: Wire


def _start(root: Path, general: str) -> Iterator[Trunked]:
    a_port, b_port = free_udp_port(), free_udp_port()
    wire = Wire()
    with LossyRelay(("127.0.0.1", a_port)) as relay:
        relay.rule = wire.rule
        a = start_node(root / "a", write_node(root / "a", _a_conf(a_port, general),
                                              A_EXTENSIONS), a_port, "-vvv")
        try:
            b = start_node(root / "b", write_node(
                root / "b", _b_conf(b_port, relay.client_port, general), B_EXTENSIONS),
                b_port, "-vvv")
        except BaseException:
            stop(a)
            raise
        try:
            for node in (a, b):
                wait_for_log(node, "pbxedge Ready.")
            yield Trunked(a, b, relay, wire)
        finally:
            stop(b)
            stop(a)


def _tag(index: int, seq: int) -> bytes:
    return (f"<{index:03d}/{seq:03d}>".encode() * 20)[:160]


async def _calls(agent: CallAgent, node: RunningNode, count: int) -> list[AgentCall]:
    calls: list[AgentCall] = []
    with trio.fail_after(LIMIT):
        for batch in range(0, count, 25):
            placed = [agent.call(("127.0.0.1", node.port), "800")
                      for _ in range(min(25, count - batch))]
            for call in placed:
                await call.answered.wait()
            calls += placed
    # Answer() waits up to 500 ms for the caller's first audio before Echo runs.
    await trio.sleep(0.8)
    return calls


async def _talk(agent: CallAgent, calls: list[AgentCall], frames: int) -> tuple[float, float]:
    """Every call sends *frames* tagged 20 ms frames; returns when the audio started and
    when the last echo came back."""
    started = time.monotonic()
    t0 = trio.current_time()
    # Like phones, the calls send at phases spread over the 20 ms, not all at once.
    slots = 10
    for seq in range(frames):
        for slot in range(slots):
            for index in range(slot, len(calls), slots):
                agent.send_voice(calls[index], _tag(index, seq), 160)
            agent.flush()
            await trio.sleep_until(t0 + seq * TICK + (slot + 1) * TICK / slots)
    with trio.move_on_after(LIMIT):
        while any(len(call.voice) < frames for call in calls):
            await trio.sleep(0.05)
    finished = time.monotonic()
    await trio.sleep(0.2)
    return started, finished


def _assert_own_audio(calls: list[AgentCall], frames: int) -> None:
    for index, call in enumerate(calls):
        heard = [v.payload for v in call.voice]
        assert heard == [_tag(index, seq) for seq in range(frames)], (
            f"call {index}: heard {len(heard)} frames, first {heard[:1]!r}")


def _meta(wire: Wire, direction: Direction, start: float, end: float) -> list[MetaTrunkFrame]:
    frames = []
    for moment, going, data in wire.seen:
        if going is direction and start <= moment <= end:
            frame = parse_datagram(data)
            if isinstance(frame, MetaTrunkFrame):
                frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def trunk200(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trunked]:
    # trunkmtu=0: 200 calls' µ-law (33 kB) in one datagram per tick, as the UDP limit allows.
    yield from _start(tmp_path_factory.mktemp("trunk200"),
                      "trunkmtu = 0\ntrunktimestamps = yes\ntrunkmaxsize = 128000\n")


@pytest.mark.interop
async def test_two_hundred_calls_share_one_datagram_per_tick(
        trunk200: Trunked, agent: CallAgent, tmp_path: Path) -> None:
    frames = 25
    calls = await _calls(agent, trunk200.b, 200)
    started, finished = await _talk(agent, calls, frames)
    _assert_own_audio(calls, frames)
    seen = [(m, d, data) for m, d, data in trunk200.wire.seen if started <= m <= finished]
    kinds = {type(parse_datagram(data)) for _, _, data in seen}
    assert MiniFrame not in kinds  # every frame after the first went into the trunk
    ticks = (finished - started) / TICK
    for direction in Direction:
        metas = _meta(trunk200.wire, direction, started, finished)
        entries = sum(len(m.entries) for m in metas)
        # Each call's first frame is a full frame; the rest are trunk entries.
        assert entries == 200 * (frames - 1), direction
        # One datagram per tick: never more datagrams than ticks went by, each carrying
        # about one frame of every call.
        assert len(metas) <= ticks + 1, (direction, len(metas), ticks)
        assert entries / len(metas) >= 150
        assert all(m.with_timestamps for m in metas)
    status = trunk200.b.pbxedge("-rx", "iax2 show trunks").stdout
    assert "a-trunk" in status and f"127.0.0.1:{trunk200.relay.client_port}" in status
    for call in calls:
        agent.hangup(call)
    # tshark decodes the trunk datagrams without a malformed flag.
    sample = [data for _, _, data in seen if isinstance(parse_datagram(data), MetaTrunkFrame)]
    pcap = write_pcap(tmp_path / "trunk.pcap",
                      [(("127.0.0.1", 4570), ("127.0.0.1", 4569), data) for data in sample[:20]])
    rows = _tshark(pcap)
    assert len(rows) == len(sample[:20])
    for number, data in enumerate(sample[:20], start=1):
        row, frame = rows[number], parse_datagram(data)
        assert isinstance(frame, MetaTrunkFrame)
        assert row["iax2.packet_type"] == "3" and row["_ws.malformed"] == ""
        assert row["iax2.trunk.call.scallno"] == ",".join(str(e.call) for e in frame.entries)
        assert row["iax2.trunk.call.ts"] == ",".join(str(e.timestamp) for e in frame.entries)


@pytest.fixture(scope="module")
def trunk_mtu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trunked]:
    # No per-entry timestamps, and an MTU that 20 calls' audio does not fit in.
    yield from _start(tmp_path_factory.mktemp("trunkmtu"),
                      "trunkmtu = 1240\ntrunktimestamps = no\n")


async def test_trunkmtu_splits_and_the_layout_without_timestamps_works(
        trunk_mtu: Trunked, agent: CallAgent) -> None:
    frames = 20
    calls = await _calls(agent, trunk_mtu.b, 20)
    started, finished = await _talk(agent, calls, frames)
    _assert_own_audio(calls, frames)
    for direction in Direction:
        metas = _meta(trunk_mtu.wire, direction, started, finished)
        assert metas and not any(m.with_timestamps for m in metas)
        assert sum(len(m.entries) for m in metas) == 20 * (frames - 1)
        sizes = [len(m.encode()) for m in metas]
        # 20 × 164 bytes do not fit in 1240: each tick leaves as several datagrams, none
        # past the MTU by more than Asterisk's rule allows (7 bytes without timestamps).
        assert max(sizes) <= 1240 + 7 and len(metas) > (finished - started) / TICK
    for call in calls:
        agent.hangup(call)


def test_trunk_entry_before_the_first_full_voice_frame_draws_a_vnak(
        trunk_mtu: Trunked) -> None:
    """A raw peer sends a trunk entry on its call before any full voice frame."""
    client = WireClient(trunk_mtu.b.port, scall=4321)
    try:
        client.new("800")
        client.until(IaxSubclass.ACCEPT)
        meta = MetaTrunkFrame(100, (TrunkEntry(client.scall, b"\xff" * 160),), False)
        client.sock.sendto(meta.encode(), client.server)
        vnak = client.until(IaxSubclass.VNAK)
        assert vnak.dest_call == client.scall
        client.hangup(16)
    finally:
        client.close()


async def test_overlap_dialling_routes_digit_by_digit(
        trunk_mtu: Trunked, agent: CallAgent) -> None:
    """The agent dials 9 on B, then 2, 0, 1 one at a time: B asks A about each number so
    far (DPREQ) and sends the call on (DIAL) once A's dialplan knows it."""
    call = agent.call(("127.0.0.1", trunk_mtu.b.port), "9")
    started = time.monotonic()
    with trio.fail_after(LIMIT):
        await call.accepted.wait()
        for digit in "201":
            await trio.sleep(0.3)
            agent.send_dtmf(call, digit)
        await call.answered.wait()
    assert wait_for_log(trunk_mtu.a, "REACHED").endswith("REACHED 201")
    asked = []
    for moment, direction, data in list(trunk_mtu.wire.seen):
        frame = parse_datagram(data)
        if (moment >= started and direction is Direction.TO_SERVER
                and isinstance(frame, FullFrame)
                and frame.iax_subclass in (IaxSubclass.DPREQ, IaxSubclass.DIAL)
                and not frame.retransmitted):
            asked.append((frame.iax_subclass.name,
                          frame.ies().get_str(IE.CALLED_NUMBER)))
    assert asked == [("DPREQ", "2"), ("DPREQ", "20"), ("DPREQ", "201"), ("DIAL", "201")]
    agent.hangup(call)
