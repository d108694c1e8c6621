"""The bridge fast path through the real transport, transcoding, and Echo, in frames per
second of the node's own CPU.

A node process holds 200 bridged calls (set up in memory, then served by the real trio
transport on loopback); this process blasts 20 ms µ-law mini frames at it from the callers'
socket and counts what reaches the callees' socket. The node's CPU time comes from
``/proc/<pid>/stat``, so the figure is what one core of the node can relay (goal ≥ 100 000
frames/s, 1000 bridged calls). The transcoding and Echo figures run the channel layer in one
process, without sockets.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import struct
import time
from multiprocessing.connection import Connection

import trio

from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.enums import IE, IaxSubclass
from pbxedge.iax2.events import NewCall, VoiceReceived
from pbxedge.iax2.ies import IEList
from pbxedge.iaxservice.service import RECEIVE_COALESCE
from pbxedge.node import tune_collector
from pbxedge.transport import UdpTransport

CALLS = 200
FRAMES = 200_000
BURST = 200
_NEVER = 1e9  # seconds
_MINI = struct.Struct("!HH")
_TICKS = os.sysconf("SC_CLK_TCK")


def _endpoint(seed: int) -> Endpoint:
    import random

    from pbxedge.iax2.callnumbers import CallNumberPool
    from pbxedge.iax2.calltoken import CallTokenIssuer

    rng = random.Random(seed)
    return Endpoint(pool=CallNumberPool(rng=rng), tokens=CallTokenIssuer(rng.randbytes(32)),
                    token_policy=lambda *_: False, rng=rng)


def _pump(src: Endpoint, dst: Endpoint, src_addr: tuple[str, int], now: float) -> None:
    for data, _ in src.datagrams_to_send(now):
        dst.receive_datagram(data, src_addr, now)


def _call(client: Endpoint, server: Endpoint, client_addr: tuple[str, int],
          server_addr: tuple[str, int], now: float,
          codec: Codec = Codec.ULAW) -> tuple[int, int]:
    """NEW, token, ACCEPT, ACK between two in-memory endpoints: (client's, server's) callno."""
    ies = IEList().add_u16(IE.VERSION, 2).add_str(IE.CALLED_NUMBER, "600")
    ies.add_u32(IE.FORMAT, codec)
    a = client.start(server_addr, IaxSubclass.NEW, ies, now)
    for _ in range(3):
        _pump(client, server, client_addr, now)
        _pump(server, client, server_addr, now)
    b = next(e.callno for e in iter(server.next_event, None) if isinstance(e, NewCall))
    server.send_iax(b, IaxSubclass.ACCEPT, IEList().add_u32(IE.FORMAT, codec), now)
    _pump(server, client, server_addr, now)
    _pump(client, server, client_addr, now)
    while server.next_event() is not None or client.next_event() is not None:
        pass
    return a, b


def bridges(node: Endpoint, callers: tuple[str, int], callees: tuple[str, int],
            now: float, calls: int = CALLS, *, trunked: bool = False) -> tuple[list[int], list[int]]:
    """*calls* calls from the callers' address, each bridged both ways to a call to the
    callees' address (both legs trunked with *trunked*); returns the call numbers the callers
    and the callees send their voice from."""
    caller, callee = _endpoint(2), _endpoint(3)
    placeholder = ("127.0.0.1", 9)  # the node's address as these in-memory peers see it
    from_callers, from_callees = [], []
    for _ in range(calls):
        a, b = _call(caller, node, callers, placeholder, now)
        c, d = _call(node, callee, placeholder, callees, now)
        if trunked:
            node.set_trunk(b, True, now)
            node.set_trunk(c, True, now)
        # The first (full) voice frame each way takes the slow path and installs the relay.
        for peer, peer_call, peer_addr, src, dst in ((caller, a, callers, b, c),
                                                     (callee, d, callees, c, b)):
            peer.send_voice(peer_call, Codec.ULAW, b"\xff" * 160, now, 160)
            _pump(peer, node, peer_addr, now)
            for event in iter(node.next_event, None):
                if isinstance(event, VoiceReceived):
                    node.forward_voice(src, dst, event.codec, event.payload, event.timestamp,
                                       160, now)
            # The full frames (and ACKs) reach the in-memory peers, whose ACKs come back.
            for data, addr in node.datagrams_to_send(now):
                (callee if addr == callees else caller).receive_datagram(data, placeholder, now)
            _pump(callee, node, callees, now)
            _pump(caller, node, callers, now)
        from_callers.append(a)
        from_callees.append(d)
    return from_callers, from_callees


def node_process(pipe: Connection, callers: tuple[str, int], callees: tuple[str, int],
                 calls: int = CALLS, *, as_node: bool = False) -> None:
    """The node process: the bridges, then the real transport serves them; sends its
    address and the call numbers of :func:`bridges` down *pipe*, stops at any message.
    *as_node* sets the transport and the collector up as ``pbxedge`` does, and the calls
    without PING and LAGRQ (which nobody here would answer)."""

    async def serve() -> None:
        node = _endpoint(1)
        if as_node:
            node.set_call_timers(pingtime=_NEVER, lagrqtime=_NEVER)
        sources = bridges(node, callers, callees, trio.current_time(), calls)
        send, _ = trio.open_memory_channel[object](0)
        if as_node:
            tune_collector()
            transport = UdpTransport(node, [("127.0.0.1", 0)], send, coalesce=RECEIVE_COALESCE)
        else:
            transport = UdpTransport(node, [("127.0.0.1", 0)], send, max_batch=512)
        async with trio.open_nursery() as nursery:
            (bound,) = await nursery.start(transport.run)
            transport.sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            pipe.send((bound, sources))
            await trio.to_thread.run_sync(pipe.recv)
            nursery.cancel_scope.cancel()

    trio.run(serve)


def _is_mini(data: bytes) -> int:
    """1 for a relayed mini frame, 0 for the node's own PINGs and LAGRQs."""
    return int(not data[0] & 0x80)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _relay() -> list[str]:
    callers = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callees = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for sock in (callers, callees):
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    callees.settimeout(2.0)
    parent, child = multiprocessing.Pipe()
    context = multiprocessing.get_context("fork")
    process = context.Process(target=node_process, args=(child, callers.getsockname(),
                                                  callees.getsockname()))
    process.start()
    try:
        node_addr, (sources, _) = parent.recv()
        frames = [_MINI.pack(src, 0) + b"\x55" * 160 for src in sources]
        received = sent = 0
        cpu_before = _cpu_seconds(process.pid)
        started = time.perf_counter()
        while sent < FRAMES:
            for index in range(BURST):
                ts = (sent // CALLS * 20 + 40) & 0xFFFF
                frame = frames[(sent + index) % CALLS]
                callers.sendto(frame[:2] + ts.to_bytes(2, "big") + frame[4:], node_addr)
            sent += BURST
            try:
                while received < sent - BURST // 2:
                    received += _is_mini(callees.recv(2048))
            except TimeoutError:
                break
        try:
            callees.settimeout(0.5)
            while received < sent:
                received += _is_mini(callees.recv(2048))
        except TimeoutError:
            pass
        wall = time.perf_counter() - started
        cpu = _cpu_seconds(process.pid) - cpu_before
    finally:
        parent.send("stop")
        process.join(10)
        callers.close()
        callees.close()
    per_cpu = received / cpu if cpu else float("inf")
    return [f"relay fast path: {per_cpu:,.0f} mini frames/s of node CPU "
            f"(goal 100,000; {per_cpu / 100:,.0f} bridged 20 ms calls per core, 50 frames a "
            f"second each way); "
            f"{received:,} of {sent:,} relayed in {wall:.2f} s wall, node CPU {cpu:.2f} s, "
            f"{CALLS} calls"]


def _transcode_and_echo() -> list[str]:
    """µ-law in, A-law out across an IAX2 bridge, and Echo: the channel path, no sockets."""
    from bench.media_paths import echo_rate, transcode_rate

    return [f"bridge transcoding µ-law -> A-law: {transcode_rate():,.0f} frames/s "
            "(goal 50,000; endpoint in, channel, translator, endpoint out)",
            f"Echo: {echo_rate():,.0f} frames/s (endpoint in, channel, endpoint out)"]


def run() -> list[str]:
    return _relay() + _transcode_and_echo()
