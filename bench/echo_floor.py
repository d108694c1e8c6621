"""The transport floor: what a node that does nothing costs per datagram at a given rate.

``python -m bench.echo_floor PORT SECONDS`` serves pbxedge's UDP transport, with the node's
receive coalescing, and an endpoint that sends every datagram straight back (trio, the
receive loop, the flush: everything a node pays before its own work). ``floor(rate)``
drives it at *rate* datagrams per second and returns the server's CPU (from ``/proc``) per
datagram echoed: evenly paced like a load generator's requests, or with ``burst`` in
bursts that far apart, like voice frames sent once per frame time. At the rates of the
``load`` section a node wakes up for a few datagrams at a time, and each wake-up costs far
more than the datagrams in a busy loop (see ``bench_transport``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import trio

from bench.bench_transport import Sink
from pbxedge.iaxservice.service import RECEIVE_COALESCE
from pbxedge.transport import UdpTransport

_TICKS = 100
_PAYLOAD = b"\x80" * 60  # a REGREQ-sized datagram


async def _serve(port: int, seconds: float) -> None:
    send_events, _ = trio.open_memory_channel[object](0)
    transport = UdpTransport(Sink(echo=True), [("127.0.0.1", port)], send_events,
                             coalesce=RECEIVE_COALESCE)
    with trio.move_on_after(seconds):
        await transport.run()


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def floor(rate: float, seconds: float = 4.0, burst: float = 0.0002) -> float:
    """CPU µs per datagram echoed by the do-nothing node, driven at *rate* per second in
    bursts *burst* seconds apart."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "bench.echo_floor", str(port),
                               str(seconds + 10)])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            target = ("127.0.0.1", port)
            deadline = time.monotonic() + 10
            while True:  # until the server answers
                client.sendto(_PAYLOAD, target)
                time.sleep(0.05)
                try:
                    client.recv(2048)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the echo server did not start") from None
            cpu_before = _cpu(server.pid)
            started = time.monotonic()
            sent = 0
            while (elapsed := time.monotonic() - started) < seconds:
                while sent < elapsed * rate:
                    client.sendto(_PAYLOAD, target)
                    sent += 1
                try:
                    while True:
                        client.recv(2048)
                except BlockingIOError:
                    pass
                time.sleep(burst)
            time.sleep(0.05)
            return (_cpu(server.pid) - cpu_before) / sent * 1e6
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    trio.run(_serve, int(sys.argv[1]), float(sys.argv[2]))
