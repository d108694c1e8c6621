"""In-process media paths for the benchmarks: a node endpoint, its IAX2 channels, and mini
frames fed in as the transport would feed them (no sockets, no trio clock)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from pbxedge.channels.iax import EndpointLink, IaxChannel
from pbxedge.channels.media import MediaEnv
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.events import VoiceReceived
from pbxedge.iax2.frames import MiniFrame

FRAMES = 100_000
CALLER = ("127.0.0.1", 40000)
CALLEE = ("127.0.0.1", 40001)


def _setup(caller_codec: Codec, callee_codec: Codec | None) -> tuple[object, ...]:
    from bench.bench_relay import _call, _endpoint, _pump

    node, caller = _endpoint(1), _endpoint(2)
    now = 1.0
    service = SimpleNamespace(endpoint=node, now=lambda: now, kick=lambda: None)
    a, b = _call(caller, node, CALLER, ("127.0.0.1", 9), now, caller_codec)
    inbound = IaxChannel("IAX2/bench-in", EndpointLink(service, b), env=MediaEnv(),
                         nursery=None, codec=caller_codec)  # type: ignore[arg-type]
    outbound = None
    if callee_codec is not None:
        callee = _endpoint(3)
        c, _d = _call(node, callee, ("127.0.0.1", 9), CALLEE, now, callee_codec)
        outbound = IaxChannel("IAX2/bench-out", EndpointLink(service, c), env=MediaEnv(),
                              nursery=None, codec=callee_codec)  # type: ignore[arg-type]
    caller.send_voice(a, caller_codec, b"\x55" * 160, now, 160)
    _pump(caller, node, CALLER, now)
    return node, a, inbound, outbound


def _drive(node: object, a: int, inbound: IaxChannel) -> float:
    frames = [MiniFrame(a, 40 + 20 * i, bytes([i % 256]) * 160).encode() for i in range(3000)]
    started = time.perf_counter()
    for index in range(FRAMES):
        node.receive_datagram(frames[index % 3000], CALLER, 2.0)  # type: ignore[attr-defined]
        while (event := node.next_event()) is not None:  # type: ignore[attr-defined]
            if isinstance(event, VoiceReceived):
                inbound.remote_voice(event.codec, event.payload, event.timestamp)
        node.datagrams_to_send(2.0)  # type: ignore[attr-defined]
    return FRAMES / (time.perf_counter() - started)


def transcode_rate() -> float:
    node, a, inbound, outbound = _setup(Codec.ULAW, Codec.ALAW)
    assert isinstance(inbound, IaxChannel) and isinstance(outbound, IaxChannel)
    inbound.relay_voice_to(outbound)
    return _drive(node, a, inbound)  # type: ignore[arg-type]


def echo_rate() -> float:
    node, a, inbound, _ = _setup(Codec.ULAW, None)
    assert isinstance(inbound, IaxChannel)
    inbound.take_audio(inbound.write)
    return _drive(node, a, inbound)  # type: ignore[arg-type]
