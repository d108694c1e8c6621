"""Stopping a real node with calls up: every call gets a HANGUP before the process exits.

The callers are raw IAX2 clients on loopback; the callee side is a plain UDP socket that
answers the node's Dial(). What each of them receives is what a phone would see.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbxedge.iax2.enums import IE, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import WireClient, stop, wait_for_log

EXTENSIONS = """\
[hold]
exten => 100,1,Answer()
 same => n,Wait(30)
exten => 200,1,Ringing()
 same => n,Wait(30)
exten => 300,1,Dial(IAX2/callee/700)
"""


def _iax_conf(port: int, callee_port: int) -> str:
    return f"""\
[general]
bindport = {port}
bindaddr = 127.0.0.1
context = hold
disallow = all
allow = ulaw

[guest]
type = user
context = hold
requirecalltoken = no

[callee]
type = peer
host = 127.0.0.1
port = {callee_port}
requirecalltoken = no
"""


class RawCallee:
    """The far end of the node's Dial(): ACCEPTs and answers the NEW, then only ACKs."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10.0)
        self.port: int = self.sock.getsockname()[1]
        self.node: tuple[str, int] | None = None
        self.peer_callno = 0
        self.oseq = self.iseq = 0

    def _send(self, frametype: int, subclass: int, payload: bytes = b"", ts: int = 10) -> None:
        assert self.node is not None
        frame = FullFrame(77, self.peer_callno, ts, self.oseq, self.iseq, frametype, subclass,
                          payload)
        if not (frametype == FrameType.IAX and subclass == IaxSubclass.ACK):
            self.oseq = (self.oseq + 1) & 0xFF
        self.sock.sendto(frame.encode(), self.node)

    def receive(self) -> FullFrame:
        while True:
            data, self.node = self.sock.recvfrom(65535)
            frame = parse_datagram(data)
            if isinstance(frame, FullFrame):
                break
        self.peer_callno = frame.source_call
        if not (frame.frametype == FrameType.IAX and frame.iax_subclass is IaxSubclass.ACK):
            self.iseq = (frame.oseqno + 1) & 0xFF
            ack = FullFrame(77, frame.source_call, frame.timestamp, self.oseq, self.iseq,
                            FrameType.IAX, int(IaxSubclass.ACK))
            self.sock.sendto(ack.encode(), self.node)
        return frame

    def answer_the_new(self) -> None:
        new = self.receive()
        assert new.frametype == FrameType.IAX and new.iax_subclass is IaxSubclass.NEW
        format_ies = IEList().add_u32(IE.FORMAT, 4)
        self._send(FrameType.IAX, int(IaxSubclass.ACCEPT), format_ies.encode())
        self._send(FrameType.CONTROL, int(ControlSubclass.ANSWER), ts=20)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def callee() -> Iterator[RawCallee]:
    far = RawCallee()
    try:
        yield far
    finally:
        far.close()


@pytest.fixture
def node(tmp_path: Path, callee: RawCallee) -> Iterator[RunningNode]:
    port = free_udp_port()
    config = tmp_path / "iax.conf"
    config.write_text(_iax_conf(port, callee.port))
    (tmp_path / "extensions.conf").write_text(EXTENSIONS)
    running = start_node(tmp_path, config, port)
    wait_for_log(running, "pbxedge Ready.")
    try:
        yield running
    finally:
        stop(running)


def _until_control(client: WireClient, subclass: ControlSubclass) -> None:
    while True:
        frame = client.receive()
        if frame.frametype == FrameType.CONTROL and frame.subclass == subclass:
            return


def _call(node: RunningNode, exten: str, scall: int, wait_for: ControlSubclass) -> WireClient:
    client = WireClient(node.port, scall=scall)
    client.new(exten)
    _until_control(client, wait_for)
    return client


def _hangup_of(client: WireClient) -> FullFrame:
    hangup = client.until(IaxSubclass.HANGUP)  # ACKed by the client as it arrives
    assert hangup.dest_call == client.scall
    return hangup


def test_sigterm_hangs_up_answered_and_ringing_calls(node: RunningNode) -> None:
    answered = [_call(node, "100", 1000 + n, ControlSubclass.ANSWER) for n in range(5)]
    ringing = _call(node, "200", 2000, ControlSubclass.RINGING)
    clients = [*answered, ringing]
    try:
        assert "6 active calls" in node.pbxedge("-rx", "core show channels").stdout
        node.process.send_signal(signal.SIGTERM)
        for client in clients:
            assert _hangup_of(client).ies().get_u8(IE.CAUSECODE) == 16
        assert node.wait_exit() == 0
    finally:
        for client in clients:
            client.close()
    log = node.stderr()
    assert "Hung up 6 calls at shutdown" in log
    assert "not acknowledged" not in log


def test_core_stop_now_hangs_up_both_legs_of_a_bridged_call(
    node: RunningNode, callee: RawCallee
) -> None:
    client = WireClient(node.port, scall=3000)
    try:
        client.new("300")
        callee.answer_the_new()
        _until_control(client, ControlSubclass.ANSWER)
        assert node.pbxedge("-rx", "core stop now").returncode == 0
        assert _hangup_of(client).ies().get_u8(IE.CAUSECODE) == 16
        while (frame := callee.receive()).iax_subclass is not IaxSubclass.HANGUP:
            pass
        assert frame.ies().get_u8(IE.CAUSECODE) == 16
        assert node.wait_exit() == 0
    finally:
        client.close()
    log = node.stderr()
    assert "Hung up 2 calls at shutdown" in log
    assert "not acknowledged" not in log


def _read_hangup_without_ack(client: WireClient) -> None:
    while True:
        frame = parse_datagram(client.sock.recv(65535))
        if isinstance(frame, FullFrame) and frame.iax_subclass is IaxSubclass.HANGUP:
            return  # and no ACK


def test_a_caller_that_never_acks_does_not_hold_the_node(node: RunningNode) -> None:
    silent = _call(node, "100", 4000, ControlSubclass.ANSWER)
    polite = _call(node, "100", 4001, ControlSubclass.ANSWER)
    late = WireClient(node.port, scall=4002)
    try:
        node.process.send_signal(signal.SIGTERM)
        _hangup_of(polite)
        _read_hangup_without_ack(silent)
        # The node now waits for the silent caller's ACK: a call arriving meanwhile is
        # refused, not answered and then dropped.
        late.new("100")
        assert late.until(IaxSubclass.REJECT, IaxSubclass.ACCEPT).iax_subclass \
            is IaxSubclass.REJECT
        assert node.wait_exit() == 0
    finally:
        for client in (silent, polite, late):
            client.close()
    assert "1 of 2 ending calls not acknowledged" in wait_for_log(node, "not acknowledged")
