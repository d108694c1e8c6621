"""Node CPU per call with and without IAX2 trunking.

A node process bridges 200 calls between two trunk neighbours ("west" and "east", this
process's sockets), relaying each call's voice both ways on the bridge fast path, served by
the real trio transport on loopback. This process plays both neighbours at real time: every
20 ms each call sends one µ-law frame each way, either as 200 mini frames per side
(untrunked) or as meta trunk frames (trunked: the node's calls toward both neighbours have
``trunk=yes``, per-entry timestamps), with Asterisk's default ``trunkmtu`` of 1240 (7
entries per datagram) and with ``trunkmtu=0`` (each neighbour's voice of a tick in one
datagram, as a trunk between two nodes carries it). The node's CPU time comes from
``/proc/<pid>/stat``; the figure is CPU per call, and so calls per core, for each way of
carrying the voice (goal: trunked ≥ 3× the untrunked calls per core).
"""

from __future__ import annotations

import multiprocessing
import socket
import struct
import time
from multiprocessing.connection import Connection

import trio

from bench.bench_relay import _cpu_seconds, _endpoint, bridges
from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.frames import MetaTrunkFrame, TrunkEntry
from pbxedge.iax2.trunk import TrunkSettings
from pbxedge.transport import UdpTransport

CALLS = 200
SECONDS = 4.0
TICK = 0.02
MTUS = (1240, 0)  # Asterisk's default trunkmtu, and no early flush
_MINI = struct.Struct("!HH")
Address = tuple[str, int]


def _node_endpoint(mtu: int) -> Endpoint:
    node = _endpoint(1)
    node.trunks.settings = TrunkSettings(mtu=mtu, timestamps=True)
    return node


def _node(pipe: Connection, west: Address, east: Address, trunked: bool, mtu: int) -> None:
    async def serve() -> None:
        node = _node_endpoint(mtu)
        pairs = list(zip(*bridges(node, west, east, trio.current_time(), CALLS, trunked=trunked),
                         strict=True))
        send, _ = trio.open_memory_channel[object](0)
        transport = UdpTransport(node, [("127.0.0.1", 0)], send, max_batch=512)
        async with trio.open_nursery() as nursery:
            (bound,) = await nursery.start(transport.run)
            pipe.send((bound, pairs))
            await trio.to_thread.run_sync(pipe.recv)
            nursery.cancel_scope.cancel()

    trio.run(serve)


def _datagrams(calls: list[int], ts: int, trunked: bool, mtu: int) -> list[bytes]:
    """One tick of voice from one neighbour: a mini frame per call, or meta trunk frames
    filled up to the MTU."""
    payload = b"\x55" * 160
    if not trunked:
        return [_MINI.pack(call, ts & 0xFFFF) + payload for call in calls]
    per_frame = (mtu - 8) // (6 + len(payload)) if mtu else len(calls)
    return [MetaTrunkFrame(ts, tuple(TrunkEntry(call, payload, ts)
                                     for call in calls[i:i + per_frame]), True).encode()
            for i in range(0, len(calls), per_frame)]


def _entries(data: bytes) -> int:
    """Voice frames a received datagram carries (0 for the node's own signalling)."""
    if data[0] & 0x80:
        return 0
    if data[:2] != b"\0\0":
        return 1
    count, pos, end = 0, 8, len(data)
    while pos + 6 <= end:  # len, callno, ts16, then len bytes
        pos += 6 + int.from_bytes(data[pos:pos + 2], "big")
        count += 1
    return count


def _measure(trunked: bool, mtu: int) -> tuple[float, float, int]:
    """(node CPU seconds, wall seconds, voice frames delivered) for SECONDS of 200 calls."""
    west, east = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for sock in (west, east):
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sock.setblocking(False)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_node, args=(child, west.getsockname(), east.getsockname(), trunked, mtu))
    process.start()
    delivered = 0
    try:
        node_addr, pairs = parent.recv()
        west_calls = [a for a, _ in pairs]
        east_calls = [d for _, d in pairs]
        cpu_before = _cpu_seconds(process.pid)
        started = time.perf_counter()
        ticks = int(SECONDS / TICK)
        for tick in range(ticks):
            ts = 40 + tick * 20
            for sock, calls in ((west, west_calls), (east, east_calls)):
                for data in _datagrams(calls, ts, trunked, mtu):
                    sock.sendto(data, node_addr)
            delivered += _drain(west) + _drain(east)
            time.sleep(max(0.0, started + (tick + 1) * TICK - time.perf_counter()))
        time.sleep(0.1)
        delivered += _drain(west) + _drain(east)
        wall = time.perf_counter() - started
        cpu = _cpu_seconds(process.pid) - cpu_before
    finally:
        parent.send("stop")
        process.join(10)
        west.close()
        east.close()
    return cpu, wall, delivered


def _drain(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            count += _entries(sock.recv(65536))
        except BlockingIOError:
            return count


def _line(label: str, cpu: float, wall: float, delivered: int) -> tuple[str, float]:
    """A result line, and the node CPU share of one core per call."""
    expected = 2 * CALLS * int(SECONDS / TICK)
    share = cpu / wall / CALLS
    return (f"{label}: {share * 1e6:,.0f} µs node CPU per call-second = {1 / share:,.0f} calls "
            f"per core ({CALLS} bridged calls both ways, node CPU {cpu:.2f} s in {wall:.2f} s, "
            f"{delivered / expected:.1%} of the voice delivered)"), share


def run() -> list[str]:
    line, untrunked = _line("untrunked", *_measure(False, 0))
    lines = [line]
    for mtu in MTUS:
        line, trunked = _line(f"trunked, trunkmtu {mtu}", *_measure(True, mtu))
        lines += [line, f"  trunked calls per core at trunkmtu {mtu}: "
                        f"{untrunked / trunked:.1f}× the untrunked (goal ≥ 3×)"]
    return lines
