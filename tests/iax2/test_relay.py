"""The bridge fast path: audio of one call relayed onto another inside the endpoint."""

from __future__ import annotations

import itertools
import struct

from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.crypto import aes_key
from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.events import NewCall, VoiceReceived
from pbxedge.iax2.frames import FullFrame, MiniFrame, parse_datagram
from pbxedge.iax2.ies import IEList
from tests.iax2.test_endpoint import drain, make_endpoint, never_required, new_ies

CALLER = ("192.0.2.10", 4569)
NODE = ("192.0.2.20", 4569)
CALLEE = ("192.0.2.30", 4569)


def _pump(sender: Endpoint, receiver: Endpoint, sender_addr: tuple[str, int],
          now: float) -> list[bytes]:
    sent = [data for data, _ in sender.datagrams_to_send(now)]
    for data in sent:
        receiver.receive_datagram(data, sender_addr, now)
    return sent


def _call(client: Endpoint, server: Endpoint, client_addr: tuple[str, int],
          server_addr: tuple[str, int], now: float, codec: Codec) -> tuple[int, int]:
    """NEW -> CALLTOKEN -> NEW -> ACCEPT -> ACK; returns (client callno, server callno)."""
    a = client.start(server_addr, IaxSubclass.NEW, new_ies(), now)
    _pump(client, server, client_addr, now)
    _pump(server, client, server_addr, now)
    _pump(client, server, client_addr, now)
    [event] = [e for e in drain(server) if isinstance(e, NewCall)]
    server.send_iax(event.callno, IaxSubclass.ACCEPT, IEList().add_u32(IE.FORMAT, codec), now)
    _pump(server, client, server_addr, now)
    _pump(client, server, client_addr, now)
    drain(client)
    drain(server)
    return a, event.callno


class Bridge:
    """caller --(a|b)--> node --(c|d)--> callee, with the node bridging b to c."""

    def __init__(self, codec: Codec = Codec.ULAW) -> None:
        self.caller = make_endpoint(1, never_required)
        self.node = make_endpoint(2, never_required)
        self.callee = make_endpoint(3, never_required)
        self.a, self.b = _call(self.caller, self.node, CALLER, NODE, 0.0, codec)
        self.c, self.d = _call(self.node, self.callee, NODE, CALLEE, 0.1, codec)

    def caller_sends(self, payload: bytes, now: float, codec: Codec = Codec.ULAW) -> list[bytes]:
        """The caller's audio reaches the node; the node forwards what the slow path sees."""
        self.caller.send_voice(self.a, codec, payload, now, 160)
        _pump(self.caller, self.node, CALLER, now)
        for event in drain(self.node):
            if isinstance(event, VoiceReceived):
                self.node.forward_voice(self.b, self.c, event.codec, event.payload,
                                        event.timestamp, 160, now)
        out = [data for data, addr in self.node.datagrams_to_send(now) if addr == CALLEE]
        for data in out:
            self.callee.receive_datagram(data, NODE, now)
        return out


def _voice(ep: Endpoint) -> list[VoiceReceived]:
    return [e for e in drain(ep) if isinstance(e, VoiceReceived)]


def test_same_codec_is_relayed_on_the_fast_path_keeping_timing() -> None:
    bridge = Bridge()
    kinds = []
    for i in range(6):
        [data] = bridge.caller_sends(bytes([i]) * 160, 1.0 + i * 0.02)
        kinds.append(type(parse_datagram(data)).__name__)
    assert kinds == ["FullFrame"] + ["MiniFrame"] * 5
    voice = _voice(bridge.callee)
    assert [v.payload[0] for v in voice] == list(range(6))
    stamps = [v.timestamp for v in voice]
    assert [b - a for a, b in itertools.pairwise(stamps)] == [20] * 5
    # Five minis went through without an event on the node: the fast path took them.
    assert bridge.node.relayed_frames(bridge.b) == 5
    assert bridge.node.call_info(bridge.b).local_rr.packets == 6


def test_relayed_mini_frames_carry_the_outgoing_call_number() -> None:
    bridge = Bridge()
    bridge.caller_sends(b"\x01" * 160, 1.0)
    [data] = bridge.caller_sends(b"\x02" * 160, 1.02)
    frame = parse_datagram(data)
    assert isinstance(frame, MiniFrame)
    assert frame.source_call == bridge.c and frame.payload == b"\x02" * 160


def test_codec_change_leaves_the_fast_path_until_the_bridge_forwards_again() -> None:
    bridge = Bridge()
    bridge.caller_sends(b"\x01" * 160, 1.0)
    bridge.caller_sends(b"\x02" * 160, 1.02)
    [full] = bridge.caller_sends(b"\x03" * 160, 1.04, Codec.ALAW)
    frame = parse_datagram(full)
    assert isinstance(frame, FullFrame) and frame.subclass == Codec.ALAW
    [mini] = bridge.caller_sends(b"\x04" * 160, 1.06, Codec.ALAW)
    assert isinstance(parse_datagram(mini), MiniFrame)
    voice = _voice(bridge.callee)
    assert [(v.codec, v.payload[0]) for v in voice] == [
        (Codec.ULAW, 1), (Codec.ULAW, 2), (Codec.ALAW, 3), (Codec.ALAW, 4)]


def test_a_new_16_bit_block_goes_out_as_a_full_frame() -> None:
    bridge = Bridge()
    now = 1.0
    kinds = []
    while now < 70.0:
        [data] = bridge.caller_sends(b"\x05" * 160, now)
        kinds.append(isinstance(parse_datagram(data), FullFrame))
        now += 0.5
    stamps = [v.timestamp for v in _voice(bridge.callee)]
    assert stamps == sorted(stamps)
    # The first frame, then the one whose stamp crossed 65 536 ms on the outgoing call.
    assert kinds.count(True) == 2
    crossing = kinds.index(True, 1)
    assert stamps[crossing] >> 16 == 1 and stamps[crossing - 1] >> 16 == 0


def test_encrypted_leg_is_never_relayed_on_the_fast_path() -> None:
    bridge = Bridge()
    key = aes_key("challenge", "secret")
    bridge.node.set_encryption(bridge.c, key, [key])
    bridge.callee.set_encryption(bridge.d, key, [key])
    for i in range(3):
        bridge.caller_sends(bytes([i]) * 160, 1.0 + i * 0.02)
    assert bridge.node.relayed_frames(bridge.b) == 0
    assert [v.payload[0] for v in _voice(bridge.callee)] == [0, 1, 2]


def test_the_relay_ends_with_either_call() -> None:
    bridge = Bridge()
    bridge.caller_sends(b"\x01" * 160, 1.0)
    bridge.caller_sends(b"\x02" * 160, 1.02)
    bridge.node.hangup(bridge.c, 16, 1.03)
    bridge.node.datagrams_to_send(1.03)
    assert bridge.caller_sends(b"\x03" * 160, 1.04) == []
    assert bridge.node.relayed_frames(bridge.b) == 0


def test_unbridge_returns_audio_to_the_slow_path() -> None:
    bridge = Bridge()
    bridge.caller_sends(b"\x01" * 160, 1.0)
    bridge.node.unbridge(bridge.b)
    bridge.caller.send_voice(bridge.a, Codec.ULAW, b"\x02" * 160, 1.02, 160)
    _pump(bridge.caller, bridge.node, CALLER, 1.02)
    assert [v.payload[0] for v in _voice(bridge.node)] == [2]
    assert [addr for _, addr in bridge.node.datagrams_to_send(1.02)] == []


def test_full_voice_frame_header_is_what_the_callee_acknowledges() -> None:
    bridge = Bridge()
    [data] = bridge.caller_sends(b"\x01" * 160, 1.0)
    frame = parse_datagram(data)
    assert isinstance(frame, FullFrame) and frame.frametype == FrameType.VOICE
    acks = [parse_datagram(d) for d, _ in bridge.callee.datagrams_to_send(1.0)]
    assert any(isinstance(f, FullFrame) and f.iax_subclass is IaxSubclass.ACK for f in acks)
    assert struct.unpack("!H", data[:2])[0] & 0x7FFF == bridge.c
