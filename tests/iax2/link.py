"""An in-memory lossy network between sans-IO endpoints (aioquic ``transfer()`` style).

Datagrams are delivered, dropped, duplicated or delayed (which reorders them), all decided by
a seeded ``random.Random`` so every run of a test sees the same network. Time is simulated:
the loop jumps straight to the next delivery or endpoint deadline, so a 30 s scenario runs in
milliseconds.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.events import Event

Address = tuple[str, int]
App = Callable[[Endpoint, Event, float], None]


def transfer(sender: Endpoint, receiver: Endpoint, sender_addr: Address, now: float) -> int:
    """Deliver everything ``sender`` wants to send to ``receiver``, losslessly; return the count."""
    datagrams = sender.datagrams_to_send(now)
    for data, _ in datagrams:
        receiver.receive_datagram(data, sender_addr, now)
    return len(datagrams)


@dataclass
class LinkStats:
    sent: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0


@dataclass
class _Node:
    endpoint: Endpoint
    app: App | None
    events: list[Event] = field(default_factory=list)


class LossyNetwork:
    """Endpoints attached at fake addresses, joined by a faulty wire."""

    def __init__(
        self,
        *,
        seed: int,
        drop: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        latency: float = 0.005,
    ) -> None:
        self._rng = random.Random(seed)
        self._drop = drop
        self._duplicate = duplicate
        self._reorder = reorder
        self._latency = latency
        self._nodes: dict[Address, _Node] = {}
        self._flight: list[tuple[float, int, bytes, Address, Address]] = []
        self._seq = 0
        self.stats = LinkStats()
        # Every datagram put on the wire, as (time, source, destination, bytes).
        self.trace: list[tuple[float, Address, Address, bytes]] = []

    def attach(self, addr: Address, endpoint: Endpoint, app: App | None = None) -> None:
        self._nodes[addr] = _Node(endpoint, app)

    def events(self, addr: Address) -> list[Event]:
        """Every event the endpoint at ``addr`` produced so far."""
        return self._nodes[addr].events

    def _dispatch(self, now: float) -> None:
        # Apps may issue commands that produce more events; loop until all are quiet.
        busy = True
        while busy:
            busy = False
            for node in self._nodes.values():
                while (event := node.endpoint.next_event()) is not None:
                    busy = True
                    node.events.append(event)
                    if node.app is not None:
                        node.app(node.endpoint, event, now)

    def _flush(self, now: float) -> None:
        for source, node in self._nodes.items():
            for data, dest in node.endpoint.datagrams_to_send(now):
                self.stats.sent += 1
                self.trace.append((now, source, dest, data))
                if self._rng.random() < self._drop:
                    self.stats.dropped += 1
                    continue
                copies = 1
                if self._rng.random() < self._duplicate:
                    copies = 2
                    self.stats.duplicated += 1
                for _ in range(copies):
                    delay = self._latency
                    if self._rng.random() < self._reorder:
                        delay += self._rng.uniform(0.0, 4 * self._latency)
                        self.stats.delayed += 1
                    self._seq += 1
                    heapq.heappush(self._flight, (now + delay, self._seq, data, source, dest))

    def _next_time(self) -> float | None:
        times = [t for node in self._nodes.values() if (t := node.endpoint.get_timer()) is not None]
        if self._flight:
            times.append(self._flight[0][0])
        return min(times, default=None)

    def run(self, until: float, now: float = 0.0) -> float:
        """Run the simulation until nothing is left to do or ``until``; return the time reached."""
        while True:
            self._dispatch(now)
            self._flush(now)
            upcoming = self._next_time()
            if upcoming is None or upcoming > until:
                return now
            now = max(now, upcoming)
            while self._flight and self._flight[0][0] <= now:
                _, _, data, source, dest = heapq.heappop(self._flight)
                node = self._nodes.get(dest)
                if node is not None:
                    node.endpoint.receive_datagram(data, source, now)
            for node in self._nodes.values():
                deadline = node.endpoint.get_timer()
                if deadline is not None and deadline <= now:
                    node.endpoint.handle_timer(now)
