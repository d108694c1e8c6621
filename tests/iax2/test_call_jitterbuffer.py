"""The jitter buffer inside a call: seeded jitter, reordering, loss and a clock jump,
driven by the endpoint's own timer on a hand clock."""

from __future__ import annotations

import random

from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.events import VoiceReceived
from pbxedge.iax2.frames import MiniFrame
from pbxedge.media.jitterbuffer import JitterBufferSettings
from tests.iax2.test_endpoint import CLIENT, drain, linked_pair


def _run(server: Endpoint, arrivals: list[tuple[float, bytes]], until: float) -> list[VoiceReceived]:
    """Deliver datagrams at their arrival times, run the server's timer in between."""
    out: list[VoiceReceived] = []
    pending = sorted(arrivals, key=lambda item: item[0])
    now = 0.0
    while now < until:
        deadline = server.get_timer()
        next_arrival = pending[0][0] if pending else until
        now = min(next_arrival, deadline if deadline is not None else until, until)
        while pending and pending[0][0] <= now:
            server.receive_datagram(pending.pop(0)[1], CLIENT, now)
        if deadline is not None and deadline <= now:
            server.handle_timer(now)
        server.datagrams_to_send(now)
        out += [e for e in drain(server) if isinstance(e, VoiceReceived)]
        if not pending and (server.get_timer() or until) >= until:
            break
    return out


def _stream(a: int, count: int, start_ts: int = 1000) -> list[tuple[int, bytes]]:
    """(timestamp, mini frame) for frames 20 ms apart carrying their index."""
    return [(start_ts + 20 * i, MiniFrame(a, (start_ts + 20 * i) & 0xFFFF,
                                          bytes([i % 256]) * 160).encode())
            for i in range(count)]


def _primed(seed: int = 1) -> tuple[Endpoint, int, int]:
    client, server, a, b = linked_pair()
    # The first full voice frame sets the format; then the buffer is switched on.
    client.send_voice(a, Codec.ULAW, b"\xff" * 160, 0.98, 160)
    for data, _ in client.datagrams_to_send(0.98):
        server.receive_datagram(data, CLIENT, 0.98)
    drain(server)
    server.set_jitterbuffer(b, JitterBufferSettings(), 0.98)
    return server, a, b


def test_jittered_and_reordered_audio_comes_out_in_order() -> None:
    server, a, b = _primed()
    rng = random.Random(7)
    frames = _stream(a, 200)
    arrivals = [(1.0 + (ts - 1000) / 1000 + rng.uniform(0, 0.06), data) for ts, data in frames]
    out = _run(server, arrivals, 6.0)
    real = [e for e in out if not e.interpolated]
    stamps = [e.timestamp for e in real]
    assert stamps == sorted(stamps)
    assert len(real) >= 195  # a few early ones may be spent growing the buffer
    info = server.call_info(b)
    assert info.local_rr.jitter > 0 and info.local_rr.packets == 201


def test_lost_frames_are_concealed_up_to_the_limit() -> None:
    server, a, b = _primed()
    frames = _stream(a, 120)
    kept = [item for i, item in enumerate(frames) if not 50 <= i < 53]  # three lost
    arrivals = [(1.0 + (ts - 1000) / 1000, data) for ts, data in kept]
    out = _run(server, arrivals, 4.0)
    fills = [e for e in out if e.interpolated]
    assert len(fills) >= 3
    assert all(e.codec == Codec.ULAW for e in fills)
    assert server.call_info(b).local_rr.loss_count >= 3


def test_a_timestamp_jump_resyncs_the_buffer() -> None:
    server, a, _b = _primed()
    before = _stream(a, 60)
    after = _stream(a, 60, start_ts=1000 + 60 * 20 + 30_000)  # the peer's clock leaps 30 s
    arrivals = [(1.0 + (ts - 1000) / 1000, data) for ts, data in before]
    arrivals += [(2.3 + i * 0.02, data) for i, (_, data) in enumerate(after)]
    out = _run(server, arrivals, 4.5)
    real = [e for e in out if not e.interpolated]
    late = [e for e in real if e.timestamp > 20_000]
    assert len(late) >= 50  # the new stream plays instead of waiting 30 s for its slot


def test_switching_the_buffer_off_delivers_what_it_holds() -> None:
    server, a, b = _primed()
    for _ts, data in _stream(a, 5):
        server.receive_datagram(data, CLIENT, 1.0)
    held = [e for e in drain(server) if isinstance(e, VoiceReceived)]
    server.set_jitterbuffer(b, None, 1.0)
    released = [e for e in drain(server) if isinstance(e, VoiceReceived)]
    assert len(held) + len(released) == 5
    assert [e.timestamp for e in held + released] == [1000 + 20 * i for i in range(5)]
