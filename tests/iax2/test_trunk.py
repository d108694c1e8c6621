"""Trunking in the sans-IO core: meta trunk frames sent on a tick grid, received per call."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from pbxedge.iax2.callnumbers import CallNumberPool
from pbxedge.iax2.calltoken import CallTokenIssuer
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.enums import FrameType, IaxSubclass
from pbxedge.iax2.events import VoiceReceived
from pbxedge.iax2.frames import FullFrame, MetaTrunkFrame, MiniFrame, TrunkEntry, parse_datagram
from pbxedge.iax2.trunk import Trunks, TrunkSettings
from tests.iax2.test_endpoint import drain, never_required
from tests.iax2.test_relay import _call, _pump

A = ("192.0.2.1", 4569)
B = ("192.0.2.2", 4569)
C = ("192.0.2.3", 4569)


def _endpoint(seed: int, settings: TrunkSettings | None = None) -> Endpoint:
    rng = random.Random(seed)
    return Endpoint(pool=CallNumberPool(rng=rng), tokens=CallTokenIssuer(rng.randbytes(32)),
                    token_policy=never_required, rng=rng, trunk=settings)


def _trunk_calls(count: int, settings: TrunkSettings,
                 ) -> tuple[Endpoint, Endpoint, list[tuple[int, int]]]:
    a, b = _endpoint(1, settings), _endpoint(2, dataclasses.replace(settings))
    calls = []
    for _ in range(count):
        x, y = _call(a, b, A, B, 0.0, Codec.ULAW)
        a.set_trunk(x, True, 0.0)
        b.set_trunk(y, True, 0.0)
        calls.append((x, y))
    return a, b, calls


def _tick(ep: Endpoint) -> float:
    due = ep.trunks.due
    assert due is not None and ep.get_timer() == due
    ep.handle_timer(due)
    return due


def _tag(index: int, seq: int) -> bytes:
    return (f"{index:04d}:{seq:04d}:".encode() * 20)[:160]


@pytest.mark.parametrize("timestamps", [False, True])
def test_voice_of_every_trunk_call_leaves_in_one_datagram_per_tick(timestamps: bool) -> None:
    settings = TrunkSettings(mtu=0, timestamps=timestamps)
    a, b, calls = _trunk_calls(20, settings)
    datagrams: list[bytes] = []
    now = 1.0
    for seq in range(10):
        for index, (x, _) in enumerate(calls):
            a.send_voice(x, Codec.ULAW, _tag(index, seq), now + index * 0.0005, 160)
        # The first voice frame of each call is a full frame, sent at once; then the tick.
        datagrams += _pump(a, b, A, now)
        _pump(b, a, B, now)  # ACKs of the full frames
        if a.trunks.due is not None:
            tick = _tick(a)
            datagrams += _pump(a, b, A, tick)
        now += 0.02
    kinds = [type(parse_datagram(d)).__name__ for d in datagrams]
    assert kinds.count("FullFrame") == 20  # one first voice frame per call
    assert "MiniFrame" not in kinds
    metas = [parse_datagram(d) for d in datagrams if not d[:2].strip(b"\0")]
    assert len(metas) == 9 and all(isinstance(m, MetaTrunkFrame) for m in metas)
    assert all(m.with_timestamps is timestamps and len(m.entries) == 20 for m in metas
               if isinstance(m, MetaTrunkFrame))
    voice = [e for e in drain(b) if isinstance(e, VoiceReceived)]
    peer_of = {y: i for i, (_, y) in enumerate(calls)}
    got: dict[int, list[bytes]] = {}
    stamps: dict[int, list[int]] = {}
    for event in voice:
        got.setdefault(peer_of[event.callno], []).append(event.payload)
        stamps.setdefault(peer_of[event.callno], []).append(event.timestamp)
    assert got == {i: [_tag(i, s) for s in range(10)] for i in range(20)}
    for series in stamps.values():
        steps = [later - earlier for earlier, later in itertools.pairwise(series)]
        # Without per-entry stamps the first trunked frame is placed at its arrival, up to
        # one tick after the full frame's own timestamp would have it.
        assert 15 <= steps[0] <= 45 and all(15 <= step <= 25 for step in steps[1:]), steps


def test_ticks_stay_on_the_grid() -> None:
    trunks = Trunks(TrunkSettings(freq_ms=20))
    peer = trunks.join(B, 100.0)
    dues = []
    now = 100.0
    for step in range(200):
        now = 100.0 + step * 0.0173  # voice at a rate unrelated to the tick
        peer.add(5, step * 20, b"x" * 160, now)
        if trunks.due is not None and trunks.due <= now + 0.0001:
            dues.append(trunks.due)
            trunks.tick(trunks.due)
    assert dues
    for due in dues:
        ticks = (due - 100.0) / 0.02
        assert abs(ticks - round(ticks)) < 1e-6


def test_trunk_timestamp_is_predicted_and_restarts_after_five_quiet_seconds() -> None:
    trunks = Trunks(TrunkSettings(freq_ms=20, mtu=0))
    peer = trunks.join(B, 0.0)
    stamps = []
    for now in (10.0, 10.021, 10.039, 10.0605, 10.3, 16.0, 16.02):
        peer.add(7, 0, b"v" * 160, now)
        data = peer.flush(now)
        assert data is not None
        frame = parse_datagram(data)
        assert isinstance(frame, MetaTrunkFrame)
        stamps.append(frame.timestamp)
    # 0, then last + 20 while the clock is within 160 ms of that; 300 ms in, the clock wins;
    # after 5 s of silence the trunk clock starts again at 0.
    assert stamps == [0, 20, 40, 60, 300, 0, 20]


def test_mtu_flushes_early_and_maxsize_drops() -> None:
    for timestamps, size in ((True, 340), (False, 336)):
        trunks = Trunks(TrunkSettings(mtu=334, timestamps=timestamps))
        peer = trunks.join(B, 0.0)
        sizes = []
        for call in range(2, 12):
            data = peer.add(call, 0, b"p" * 160, 0.0)
            if data is not None:
                sizes.append(len(data))
        # Two entries: 332 (or 328) + 160 + 4 >= 334, so every second entry leaves at once:
        # 340 bytes with the header, as Asterisk's trunkmtu=334 datagrams (§15.11).
        assert sizes == [size] * 5
    # Without an MTU, a buffer never grows past what one UDP datagram carries.
    unlimited = Trunks(TrunkSettings(mtu=0, maxsize=200_000))
    big = unlimited.join(B, 0.0)
    sent = [data for call in range(2, 602) if (data := big.add(call, 0, b"p" * 160, 0.0))]
    assert [len(data) for data in sent] == [8 + 399 * 164]  # 400 entries would pass 65 507
    assert big.datalen == 201 * 164
    small = Trunks(TrunkSettings(mtu=0, maxsize=500))
    crowded = small.join(B, 0.0)
    for call in range(2, 6):
        assert crowded.add(call, 0, b"p" * 160, 0.0) is None
    crowded.flush(0.0)
    [stats] = small.stats(0.0)
    assert (stats.tx_entries, stats.dropped) == (3, 1)


def test_trunk_entry_before_the_first_full_voice_frame_gets_a_vnak() -> None:
    _a, b, [(x, _y)] = _trunk_calls(1, TrunkSettings())
    meta = MetaTrunkFrame(40, (TrunkEntry(x, b"\xff" * 160, 40),), with_timestamps=True)
    b.receive_datagram(meta.encode(), A, 1.0)
    [reply] = [parse_datagram(d) for d, _ in b.datagrams_to_send(1.0)]
    assert isinstance(reply, FullFrame)
    assert (reply.frametype, reply.subclass) == (FrameType.IAX, IaxSubclass.VNAK)
    assert not [e for e in drain(b) if isinstance(e, VoiceReceived)]


def test_entries_of_unknown_calls_are_skipped_without_losing_the_others() -> None:
    a, b, [(x, _y)] = _trunk_calls(1, TrunkSettings(mtu=0))
    a.send_voice(x, Codec.ULAW, b"\x01" * 160, 1.0, 160)
    _pump(a, b, A, 1.0)
    drain(b)
    meta = MetaTrunkFrame(20, (TrunkEntry(999, b"\x02" * 33), TrunkEntry(x, b"\x03" * 160)),
                          with_timestamps=False)
    b.receive_datagram(meta.encode(), A, 1.02)
    [voice] = [e for e in drain(b) if isinstance(e, VoiceReceived)]
    assert voice.payload == b"\x03" * 160 and b.stats.unknown_call == 1
    # From another address the same call number is nobody's.
    b.receive_datagram(meta.encode(), C, 1.04)
    assert not [e for e in drain(b) if isinstance(e, VoiceReceived)]


def test_relayed_voice_toward_a_trunk_call_joins_the_trunk() -> None:
    """caller -mini-> node -trunk-> far: the fast path fills the trunk buffer."""
    caller, node, far = _endpoint(1), _endpoint(2, TrunkSettings(mtu=0)), _endpoint(3)
    a, b = _call(caller, node, A, B, 0.0, Codec.ULAW)
    c, _d = _call(node, far, B, C, 0.0, Codec.ULAW)
    node.set_trunk(c, True, 0.0)
    out: list[bytes] = []
    for i in range(5):
        now = 1.0 + i * 0.02
        caller.send_voice(a, Codec.ULAW, bytes([i]) * 160, now, 160)
        _pump(caller, node, A, now)
        for event in drain(node):
            if isinstance(event, VoiceReceived):
                node.forward_voice(b, c, event.codec, event.payload, event.timestamp, 160, now)
        out += [data for data, addr in node.datagrams_to_send(now) if addr == C]
        if node.trunks.due is not None:
            tick = _tick(node)
            out += [data for data, addr in node.datagrams_to_send(tick) if addr == C]
    frames = [parse_datagram(data) for data in out]
    assert isinstance(frames[0], FullFrame) and frames[0].frametype == FrameType.VOICE
    metas = [f for f in frames[1:] if isinstance(f, MetaTrunkFrame)]
    assert not [f for f in frames if isinstance(f, MiniFrame)]
    assert [e.payload[0] for m in metas for e in m.entries] == [1, 2, 3, 4]
    assert node.relayed_frames(b) == 4


def test_encrypted_trunk_call_keeps_encrypted_mini_frames() -> None:
    from pbxedge.iax2.crypto import aes_key

    a, _b, [(x, _y)] = _trunk_calls(1, TrunkSettings(mtu=0))
    key = aes_key("challenge", "secret")
    a.set_encryption(x, key, [key])
    a.send_voice(x, Codec.ULAW, b"\x01" * 160, 1.0, 160)
    a.datagrams_to_send(1.0)
    a.send_voice(x, Codec.ULAW, b"\x02" * 160, 1.02, 160)
    [data] = [d for d, _ in a.datagrams_to_send(1.02)]
    assert a.trunks.due is None and data[:2] != b"\0\0"


@pytest.mark.parametrize("mtu", [0, 400])
def test_relayed_trunk_entries_go_on_in_the_far_trunk_without_strangers(mtu: int) -> None:
    """west -trunk-> node -trunk-> east: entries of bridged calls leave in the east trunk
    with east's call numbers and the calls' timestamps; an unknown call's entry between
    them goes nowhere, with or without trunkmtu splitting the far side's datagrams."""
    settings = TrunkSettings(mtu=mtu, timestamps=True)
    west, node, east = (_endpoint(1, settings), _endpoint(2, dataclasses.replace(settings)),
                        _endpoint(3, dataclasses.replace(settings)))
    pairs, east_calls = [], []
    for _ in range(3):
        w, n_w = _call(west, node, A, B, 0.0, Codec.ULAW)
        n_e, e = _call(node, east, B, C, 0.0, Codec.ULAW)
        node.set_trunk(n_w, True, 0.0)
        node.set_trunk(n_e, True, 0.0)
        # The first voice frame is full: it installs the relay.
        west.send_voice(w, Codec.ULAW, b"\xff" * 160, 0.5, 160)
        _pump(west, node, A, 0.5)
        for event in drain(node):
            if isinstance(event, VoiceReceived):
                node.forward_voice(n_w, n_e, event.codec, event.payload, event.timestamp, 160,
                                   0.5)
        _pump(node, east, B, 0.5)
        drain(east)
        pairs.append((w, e))
        east_calls.append(n_e)
    stranger = TrunkEntry(999, b"\x99" * 160, 520)
    entries = [TrunkEntry(w, _tag(i, 1), 520) for i, (w, _) in enumerate(pairs)]
    meta = MetaTrunkFrame(520, (entries[0], entries[1], stranger, entries[2]), True)
    node.receive_datagram(meta.encode(), A, 0.52)
    out = [data for data, addr in node.datagrams_to_send(0.52) if addr == C]
    if node.trunks.due is not None:
        tick = _tick(node)
        out += [data for data, addr in node.datagrams_to_send(tick) if addr == C]
    sent = [entry for data in out for entry in parse_datagram(data).entries]  # type: ignore[union-attr]
    assert [(entry.call, entry.payload) for entry in sent] == [
        (n_e, _tag(i, 1)) for i, n_e in enumerate(east_calls)]
    assert node.stats.unknown_call == 1
    for data in out:
        east.receive_datagram(data, B, 0.53)
    voices = {e.callno: e for e in drain(east) if isinstance(e, VoiceReceived)}
    assert {callno: v.payload for callno, v in voices.items()} == {
        e: _tag(i, 1) for i, (_, e) in enumerate(pairs)}
    assert {v.timestamp for v in voices.values()} == {520}
    assert len(out) == (1 if not mtu else 2)
