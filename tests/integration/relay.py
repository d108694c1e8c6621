"""A lossy UDP relay between two IAX2 nodes on loopback, for recovery tests.

Node B talks to ``client_port``; node A talks to ``server_port``. Whatever reaches
``client_port`` goes on to A from ``server_port``, and whatever reaches ``server_port``
goes back to B (the last address seen on ``client_port``) from ``client_port``. So A sees B
at ``server_port`` and B sees A at ``client_port``, in both directions of both
registrations and of qualify.

A *drop rule* decides per datagram whether it is lost; the rules below drop during
periodic outages, drop chosen IAX2 frames, or drop voice at random. ``delay`` holds each
datagram of a direction back for a fixed time. The relay runs in a thread so plain
synchronous tests can use it.
"""

from __future__ import annotations

import heapq
import itertools
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from enum import Enum

__all__ = ["Direction", "DropRule", "LossyRelay", "drop_iax", "outages", "voice_loss"]

Address = tuple[str, int]


class Direction(Enum):
    TO_SERVER = "B->A"
    TO_CLIENT = "A->B"


# (direction, datagram, index of this datagram in its direction) -> drop it?
DropRule = Callable[[Direction, bytes, int], bool]


def outages(every: float, lasting: float, clock: Callable[[], float] = time.monotonic) -> DropRule:
    """Drop everything, both ways, for *lasting* seconds out of every *every* seconds.

    Bursts in time rather than in datagram counts: traffic between two nodes is sparse, so
    a count-based burst keeps hitting the copies of one frame and mostly measures the
    retransmission schedule rather than recovery.
    """
    start = clock()

    def rule(direction: Direction, data: bytes, index: int) -> bool:
        return (clock() - start) % every < lasting

    return rule


def drop_iax(direction: Direction, subclass: int) -> DropRule:
    """Drop every full IAX frame of *subclass* going in *direction* (e.g. REGACK to B)."""

    def rule(going: Direction, data: bytes, index: int) -> bool:
        return (
            going is direction
            and len(data) >= 12
            and data[0] & 0x80 != 0
            and data[10] == 6
            and data[11] == subclass
        )

    return rule


def voice_loss(direction: Direction, rate: float, seed: int = 1) -> DropRule:
    """Drop each mini voice frame going in *direction* with probability *rate* (signalling
    is never dropped, so a call always sets up and ends)."""
    draw = random.Random(seed).random

    def rule(going: Direction, data: bytes, index: int) -> bool:
        mini = len(data) > 4 and (data[0] & 0x80) == 0 and (data[0] or data[1])
        return going is direction and bool(mini) and draw() < rate

    return rule


def _keep_all(direction: Direction, data: bytes, index: int) -> bool:
    return False


class LossyRelay:
    def __init__(self, server: Address) -> None:
        self.server = server
        self.rule: DropRule = _keep_all
        self.dropped = {d: 0 for d in Direction}
        self.passed = {d: 0 for d in Direction}
        self.delay = {d: 0.0 for d in Direction}  # seconds each datagram is held back
        self._held: list[tuple[float, int, bytes, socket.socket, Address]] = []
        self._order = itertools.count()
        self._client: Address | None = None
        self._to_client = self._bind()  # B's side
        self._to_server = self._bind()  # A's side
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-relay", daemon=True)

    @staticmethod
    def _bind() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for bursts of trunk datagrams while the thread waits for the GIL.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sock.bind(("127.0.0.1", 0))
        return sock

    @property
    def client_port(self) -> int:
        port: int = self._to_client.getsockname()[1]
        return port

    @property
    def server_port(self) -> int:
        port: int = self._to_server.getsockname()[1]
        return port

    def __enter__(self) -> LossyRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._to_client.close()
        self._to_server.close()

    def _run(self) -> None:
        sockets = [self._to_client, self._to_server]
        while not self._stop.is_set():
            wait = 0.05
            if self._held:
                wait = max(0.0, min(wait, self._held[0][0] - time.monotonic()))
            readable, _, _ = select.select(sockets, [], [], wait)
            now = time.monotonic()
            while self._held and self._held[0][0] <= now:
                _, _, data, out, target = heapq.heappop(self._held)
                out.sendto(data, target)
            for sock in readable:
                data, source = sock.recvfrom(65535)
                if sock is self._to_client:
                    self._client = source
                    self._forward(Direction.TO_SERVER, data, self._to_server, self.server)
                elif self._client is not None:
                    self._forward(Direction.TO_CLIENT, data, self._to_client, self._client)

    def _forward(
        self, direction: Direction, data: bytes, out: socket.socket, target: Address
    ) -> None:
        index = self.dropped[direction] + self.passed[direction]
        if self.rule(direction, data, index):
            self.dropped[direction] += 1
            return
        self.passed[direction] += 1
        if self.delay[direction] > 0:
            due = time.monotonic() + self.delay[direction]
            heapq.heappush(self._held, (due, next(self._order), data, out, target))
            return
        out.sendto(data, target)
