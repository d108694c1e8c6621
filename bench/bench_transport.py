"""Transport figures: receive throughput into a trivial endpoint, and echo round trips.

Loopback only, on free ports.  The endpoints do almost nothing, so the figures are the
transport's own cost (syscalls, trio wake-ups, flushes), an upper bound for the node.
"""

from __future__ import annotations

import socket
import time
from collections import deque

import trio

from pbxedge.transport import Address, UdpTransport

_THROUGHPUT_DATAGRAMS = 50_000
_BURST = 100  # what the loopback receive buffer holds comfortably
_ROUND_TRIPS = 2_000
_PAYLOAD = b"\x80" * 172  # the size of a 20 ms ulaw mini frame


class Sink:
    """Counts datagrams; echoes them back when ``echo`` is set."""

    def __init__(self, *, echo: bool) -> None:
        self.echo = echo
        self.count = 0
        self.flushes = 0
        self._outgoing: list[tuple[bytes, Address]] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.count += 1
        if self.echo:
            self._outgoing.append((data, addr))

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        self.flushes += 1
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        return None

    def next_event(self) -> object | None:
        return None


async def _throughput() -> list[str]:
    sink = Sink(echo=False)
    send_events, _ = trio.open_memory_channel[object](0)
    transport = UdpTransport(sink, [("127.0.0.1", 0)], send_events)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.1", 0))
        async with trio.open_nursery() as nursery:
            (local,) = await nursery.start(transport.run)
            started = time.perf_counter()
            for burst_start in range(0, _THROUGHPUT_DATAGRAMS, _BURST):
                for _ in range(_BURST):
                    sender.sendto(_PAYLOAD, local)
                while sink.count < burst_start + _BURST:
                    await trio.sleep(0)
            elapsed = time.perf_counter() - started
            nursery.cancel_scope.cancel()
    return [
        f"receive: {_THROUGHPUT_DATAGRAMS / elapsed:,.0f} datagrams/s "
        f"({len(_PAYLOAD)} bytes, bursts of {_BURST}, "
        f"{_THROUGHPUT_DATAGRAMS / max(1, sink.flushes):.0f} datagrams per wake-up)"
    ]


async def _round_trips() -> list[str]:
    send_events, _ = trio.open_memory_channel[object](0)
    transport = UdpTransport(Sink(echo=True), [("127.0.0.1", 0)], send_events)
    client = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await client.bind(("127.0.0.1", 0))
    samples: deque[float] = deque()
    async with trio.open_nursery() as nursery:
        (local,) = await nursery.start(transport.run)
        for _ in range(_ROUND_TRIPS):
            sent = time.perf_counter()
            await client.sendto(_PAYLOAD, local)
            await client.recvfrom(2048)
            samples.append(time.perf_counter() - sent)
        nursery.cancel_scope.cancel()
    client.close()
    ordered = sorted(samples)
    median = ordered[len(ordered) // 2] * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    return [f"echo round trip: median {median:.0f} µs, p99 {p99:.0f} µs ({_ROUND_TRIPS} trips)"]


def run() -> list[str]:
    return trio.run(_throughput) + trio.run(_round_trips)
