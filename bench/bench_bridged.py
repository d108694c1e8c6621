"""1000 bridged calls at the pace of real phones: the node's CPU, loss and added delay.

The ``relay`` section blasts frames at the bridge fast path to find what one core can relay.
This one holds the issue's load instead: 1000 µ-law calls bridged both ways by a node pinned
to one core, each side sending a 20 ms frame every 20 ms (100 000 frames a second through the
node), the calls' frames spread over the 20 ms as independent phones' are. Every frame
carries a sequence number in its payload, which the fast path relays untouched, so each one
is matched on the far side: loss each way, and the delay it gained crossing the node (the
loopback and this process's own wake-ups included, so an upper bound).

The sending side costs this process little: each millisecond's 50 frames per side leave in
one ``sendmsg`` with UDP segmentation offload (``UDP_SEGMENT``), which the kernel splits into
datagrams, so the receiving side (one ``recv_into`` per frame) is most of its work.
"""

from __future__ import annotations

import array
import multiprocessing
import os
import select
import socket
import struct
import time

from bench.bench_relay import _cpu_seconds, node_process
from bench.saturation_driver import machine_steal

CALLS = 1000
SECONDS = 10.0
WARM_UP = 1.0  # frames of the first second are sent but not counted
FRAME_MS = 20
_SOL_UDP = 17
_UDP_SEGMENT = 103  # linux/udp.h; not exported by Python 3.11's socket module
_HEADER = struct.Struct("!HHI")  # mini frame (source call, timestamp), then our sequence number
_PAYLOAD = 160
_SIZE = 4 + _PAYLOAD


def _sides(calls: int) -> list[socket.socket]:
    sides = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
        sock.setsockopt(_SOL_UDP, _UDP_SEGMENT, _SIZE)
        sock.setblocking(False)
        sides.append(sock)
    return sides


def _drive(sides: list[socket.socket], node: tuple[str, int],
           sources: tuple[list[int], list[int]]) -> tuple[list[int], list[int], list[float]]:
    """Send both sides' frames for SECONDS at 20 ms pace; frames sent and received per side,
    and the delay of each counted frame."""
    per_ms = len(sources[0]) // FRAME_MS
    ticks = int(SECONDS * 1000)
    total = ticks * per_ms * 2
    sent_at = array.array("d", bytes(8 * total))
    counted_from = int(WARM_UP * 1000) * per_ms * 2
    sent, received, delays = [0, 0], [0, 0], []
    filler = b"\x55" * (_PAYLOAD - 4)
    poller = select.epoll()
    for sock in sides:
        poller.register(sock.fileno(), select.EPOLLIN)
    by_fd = {sock.fileno(): (index, sock) for index, sock in enumerate(sides)}
    buffer = bytearray(2048)
    view = memoryview(buffer)
    seq = 0
    started = time.perf_counter()
    for tick in range(ticks):
        due = started + tick / 1000
        while (now := time.perf_counter()) < due:
            for fd, _ in poller.poll(due - now):
                index, sock = by_fd[fd]
                while True:
                    try:
                        size = sock.recv_into(buffer)
                    except BlockingIOError:
                        break
                    if size != _SIZE or buffer[0] & 0x80:
                        continue  # the node's PINGs and LAGRQs
                    number = _HEADER.unpack_from(view)[2]
                    received[1 - index] += 1
                    if number >= counted_from:
                        delays.append(time.perf_counter() - sent_at[number])
        timestamp = (tick + FRAME_MS) & 0xFFFF
        phase = tick % FRAME_MS
        for index, sock in enumerate(sides):
            calls = sources[index][phase * per_ms:(phase + 1) * per_ms]
            frames = []
            for call in calls:
                frames.append(_HEADER.pack(call, timestamp, seq) + filler)
                seq += 1
            stamp = time.perf_counter()
            for number in range(seq - len(calls), seq):
                sent_at[number] = stamp
            sock.sendto(b"".join(frames), node)
            sent[index] += len(calls)
    # What is still on its way.
    settle = time.perf_counter() + 0.5
    while (now := time.perf_counter()) < settle:
        for fd, _ in poller.poll(settle - now):
            index, sock = by_fd[fd]
            try:
                while True:
                    size = sock.recv_into(buffer)
                    if size == _SIZE and not buffer[0] & 0x80:
                        received[1 - index] += 1
            except BlockingIOError:
                pass
    return sent, received, delays


def run() -> list[str]:
    sides = _sides(CALLS)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=node_process, args=(child, sides[0].getsockname(), sides[1].getsockname(), CALLS),
        kwargs={"as_node": True})
    process.start()
    pid = process.pid
    assert pid is not None
    cores = sorted(os.sched_getaffinity(0))
    mine = os.sched_getaffinity(0)
    try:
        node_addr, sources = parent.recv()
        where = "sharing the machine's cores"
        if len(cores) >= 2:
            os.sched_setaffinity(pid, {cores[0]})
            os.sched_setaffinity(0, {cores[1]})
            where = f"pinned to core {cores[0]}, this process on core {cores[1]}"
        cpu_before, wall_before = _cpu_seconds(pid), time.perf_counter()
        mine_before, steal_before = time.process_time(), machine_steal()
        sent, received, delays = _drive(sides, node_addr, sources)
        steal, total = (b - a for a, b in zip(steal_before, machine_steal(), strict=True))
        wall = time.perf_counter() - wall_before
        node_share = (_cpu_seconds(pid) - cpu_before) / wall
        driver_share = (time.process_time() - mine_before) / wall
    finally:
        os.sched_setaffinity(0, mine)
        parent.send("stop")
        process.join(10)
        for sock in sides:
            sock.close()
    delays.sort()
    lost = [(s - r) / s * 100 if s else 0.0 for s, r in zip(sent, received, strict=True)]

    def ms(fraction: float) -> float:
        return delays[min(len(delays) - 1, int(fraction * len(delays)))] * 1000

    return [
        f"{CALLS} bridged 20 ms µ-law calls at real pace, node {where}: node "
        f"{node_share * 100:.0f} % of its core ({node_share * 100 / CALLS:.3f} % per call; "
        f"goal ≤ 0.1 %)",
        f"  loss {lost[0]:.3f} % one way, {lost[1]:.3f} % the other ({sent[0] + sent[1]:,} "
        f"frames in {SECONDS:.0f} s; goal 0 %)",
        f"  added delay through the node: median {ms(0.5):.2f} ms, p99 {ms(0.99):.2f} ms, "
        f"p99.9 {ms(0.999):.2f} ms, max {delays[-1] * 1000:.2f} ms (goal p99 ≤ 5 ms); this "
        f"process used {driver_share * 100:.0f} % of its core; steal "
        f"{steal / total * 100 if total else 0:.0f} %",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
