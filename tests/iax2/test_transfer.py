"""Native transfer in the sans-IO core: A ─ C ─ B, and C re-paths A and B to each other."""

from __future__ import annotations

import pytest

from pbxedge.iax2.callstate import TransferState
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.enums import ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.events import (
    CallDestroyed,
    CallTransferred,
    Event,
    TransferFailed,
    TransferReleased,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame, MiniFrame, parse_datagram
from tests.iax2.test_endpoint import drain, make_endpoint, never_required
from tests.iax2.test_relay import _call

A = ("192.0.2.1", 4569)
C = ("192.0.2.3", 4569)
B = ("192.0.2.2", 4569)

Wire = list[tuple[tuple[str, int], tuple[str, int], bytes]]


class Net:
    """Three endpoints; every datagram is delivered to the endpoint at its address."""

    def __init__(self) -> None:
        self.nodes = {A: make_endpoint(1, never_required), C: make_endpoint(2, never_required),
                      B: make_endpoint(3, never_required)}
        self.events: dict[tuple[str, int], list[Event]] = {A: [], C: [], B: []}
        self.wire: Wire = []
        self.now = 0.0
        self.a, self.c1 = _call(self.a_ep, self.c_ep, A, C, 0.0, Codec.ULAW)
        self.c2, self.b = _call(self.c_ep, self.b_ep, C, B, 0.0, Codec.ULAW)
        for ep, callno in ((self.c_ep, self.c1), (self.b_ep, self.b)):
            ep.send_control(callno, ControlSubclass.ANSWER, 0.0)
        self.run(0.1)

    @property
    def a_ep(self) -> Endpoint:
        return self.nodes[A]

    @property
    def b_ep(self) -> Endpoint:
        return self.nodes[B]

    @property
    def c_ep(self) -> Endpoint:
        return self.nodes[C]

    def run(self, until: float) -> None:
        """Deliver everything, running timers, until *until* (simulated seconds)."""
        while True:
            busy = True
            while busy:
                busy = False
                for addr, ep in self.nodes.items():
                    self.events[addr].extend(drain(ep))
                    for data, dest in ep.datagrams_to_send(self.now):
                        busy = True
                        self.wire.append((addr, dest, data))
                        if dest in self.nodes:
                            self.nodes[dest].receive_datagram(data, addr, self.now)
            due = [t for ep in self.nodes.values() if (t := ep.get_timer()) is not None]
            if not due or min(due) > until:
                self.now = until
                return
            self.now = max(self.now, min(due))
            for ep in self.nodes.values():
                timer = ep.get_timer()
                if timer is not None and timer <= self.now:
                    ep.handle_timer(self.now)

    def of(self, addr: tuple[str, int], kind: type) -> list[Event]:
        return [e for e in self.events[addr] if isinstance(e, kind)]


def _iax(data: bytes) -> IaxSubclass | None:
    frame = parse_datagram(data)
    return frame.iax_subclass if isinstance(frame, FullFrame) else None


def test_txrel_repaths_both_legs_and_the_bridge_drops_out() -> None:
    net = Net()
    assert net.c_ep.start_transfer(net.c1, net.c2, net.now)
    net.run(1.0)
    # TXREQ to both legs, TXCNT/TXACC between the legs, TXREADY back, TXREL to both.
    flow = [(src, dst, _iax(data)) for src, dst, data in net.wire if _iax(data) is not None]
    assert (C, A, IaxSubclass.TXREQ) in flow and (C, B, IaxSubclass.TXREQ) in flow
    assert (A, B, IaxSubclass.TXCNT) in flow and (B, A, IaxSubclass.TXACC) in flow
    assert (A, C, IaxSubclass.TXREADY) in flow and (B, C, IaxSubclass.TXREADY) in flow
    assert (C, A, IaxSubclass.TXREL) in flow and (C, B, IaxSubclass.TXREL) in flow
    assert [e.addr for e in net.of(A, CallTransferred)] == [B]
    assert [e.addr for e in net.of(B, CallTransferred)] == [A]
    assert {e.callno for e in net.of(C, TransferReleased)} == {net.c1, net.c2}
    # C forgot both calls without sending a HANGUP.
    assert net.c_ep.calls() == []
    assert {e.reason for e in net.of(C, CallDestroyed)} == {"released by transfer"}
    assert not [d for _, _, d in net.wire if _iax(d) is IaxSubclass.HANGUP]
    info = net.a_ep.call_info(net.a)
    assert (info.addr, info.peer_callno) == (B, net.b)
    # Voice now goes A -> B directly, first as a full frame.
    net.wire.clear()
    for i in range(3):
        net.a_ep.send_voice(net.a, Codec.ULAW, bytes([i]) * 160, net.now + i * 0.02, 160)
        net.run(net.now + 0.02)
    voice = [(src, dst, type(parse_datagram(d)).__name__) for src, dst, d in net.wire
             if (isinstance(f := parse_datagram(d), FullFrame) and f.frametype == FrameType.VOICE)
             or isinstance(f, MiniFrame)]
    assert voice == [(A, B, "FullFrame"), (A, B, "MiniFrame"), (A, B, "MiniFrame")]
    assert [e.payload[0] for e in net.of(B, VoiceReceived)] == [0, 1, 2]
    # And the call can end between them.
    net.b_ep.hangup(net.b, 16, net.now)
    net.run(net.now + 1)
    assert net.a_ep.calls() == [] and net.b_ep.calls() == []


def test_txmedia_sends_mini_voice_direct_and_keeps_signalling_at_the_bridge() -> None:
    net = Net()
    # The first voice each way is a full frame through C (it knows the codec).
    net.a_ep.send_voice(net.a, Codec.ULAW, b"\x00" * 160, net.now, 160)
    net.run(net.now + 0.01)
    for event in drain(net.c_ep) + net.events[C]:
        if isinstance(event, VoiceReceived):
            net.c_ep.forward_voice(net.c1, net.c2, event.codec, event.payload,
                                   event.timestamp, 160, net.now)
    net.run(net.now + 0.01)
    assert net.c_ep.start_transfer(net.c1, net.c2, net.now, media_only=True)
    net.run(net.now + 1.0)
    assert [e.media_only for e in net.of(A, CallTransferred)] == [True]
    assert net.a_ep.call_info(net.a).addr == C  # signalling still goes to C
    net.wire.clear()
    net.a_ep.send_voice(net.a, Codec.ULAW, b"\x07" * 160, net.now, 160)
    net.run(net.now + 0.02)
    [(src, dst, data)] = net.wire
    assert (src, dst) == (A, B) and isinstance(parse_datagram(data), MiniFrame)
    assert net.of(B, VoiceReceived)[-1].payload == b"\x07" * 160
    assert len(net.c_ep.calls()) == 2


def test_transfer_no_answers_txreq_with_txrej_and_the_bridge_stops_the_other_leg() -> None:
    net = Net()
    net.b_ep.set_transfer_allowed(net.b, False)
    assert net.c_ep.start_transfer(net.c1, net.c2, net.now)
    net.run(1.0)
    assert [e.reason for e in net.of(B, TransferFailed)] == ["transfer=no"]
    # C passed the refusal on to A, which stopped trying.
    assert net.of(A, TransferFailed) and not net.of(A, CallTransferred)
    assert net.a_ep.call_info(net.a).addr == C
    assert len(net.c_ep.calls()) == 2
    assert net.c_ep.start_transfer(net.c1, net.c2, net.now)  # may be tried again


def test_a_leg_that_never_hears_the_other_gives_up_with_txrej() -> None:
    net = Net()
    del net.nodes[B]  # B is unreachable from A (and from C: its TXREQ is never answered)
    assert net.c_ep.start_transfer(net.c1, net.c2, net.now)
    net.run(6.0)
    txcnts = [d for src, dst, d in net.wire if src == A and _iax(d) is IaxSubclass.TXCNT]
    assert len(txcnts) == 4
    assert [e.reason for e in net.of(A, TransferFailed)] == [
        "the other leg never answered TXCNT"]
    assert net.a_ep.call_info(net.a).addr == C


@pytest.mark.parametrize("encrypted", [True, False])
def test_encrypted_calls_are_never_transferred(encrypted: bool) -> None:
    from pbxedge.iax2.crypto import aes_key

    net = Net()
    if encrypted:
        key = aes_key("x", "y")
        net.c_ep.set_encryption(net.c1, key, [key])
    assert net.c_ep.start_transfer(net.c1, net.c2, net.now) is not encrypted
    assert net.c_ep.call_info(net.c1).encrypted is encrypted
    state = TransferState.NONE if encrypted else TransferState.BRIDGE_BEGIN
    assert net.c_ep.call_info(net.c1).transfer is state
