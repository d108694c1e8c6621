"""Qualify over real POKE calls: status transitions as ``iax2 show peers`` shows them."""

from __future__ import annotations

import socket
from pathlib import Path

import trio
import trio.testing

from pbxedge.iax2.enums import FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, parse_datagram
from tests.iaxservice.reg_stack import free_udp_port, load_config, running_node, wait_for


class Ponger:
    """Answers POKEs like Asterisk (stateless PONG from call 1), after ``delay`` seconds,
    or not at all while ``silent``."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock
        self.delay = 0.0
        self.silent = False
        self.pokes = 0

    async def serve(self) -> None:
        while True:
            data, addr = await self.sock.recvfrom(4096)
            frame = parse_datagram(data)
            if not isinstance(frame, FullFrame) or frame.iax_subclass is not IaxSubclass.POKE:
                continue
            self.pokes += 1
            if self.silent:
                continue
            await trio.sleep(self.delay)
            pong = FullFrame(1, frame.source_call, frame.timestamp, 0, 1, FrameType.IAX,
                             IaxSubclass.PONG)
            await self.sock.sendto(pong.encode(), addr)


def _status_line(peers: str) -> str:
    return peers.splitlines()[1]


async def test_status_follows_the_pongs(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    ponger = Ponger(sock)
    config = load_config(tmp_path, "a", (
        f"[general]\nbindport = {free_udp_port()}\nbindaddr = 127.0.0.1\n"
        f"[far]\ntype = peer\nhost = 127.0.0.1\nport = {sock.getsockname()[1]}\nqualify = yes\n"
        "[quiet]\ntype = peer\nhost = 127.0.0.1\nport = 9\n"))
    with sock:
        async with trio.open_nursery() as nursery, running_node(config) as node:
            nursery.start_soon(ponger.serve)
            qualify = node.reg.qualify
            await wait_for(lambda: qualify.status("far").text == "OK (1 ms)")
            peers = await node.cli("iax2 show peers")
            assert "OK (1 ms)" in _status_line(peers)
            assert peers.endswith("2 iax2 peers [1 online, 0 offline, 1 unmonitored]\n")
            assert "Unmonitored" in peers.splitlines()[2]
            assert node.reg.runtime("far").lastms == 1

            ponger.delay = 3.0
            await wait_for(lambda: qualify.status("far").text.startswith("LAGGED"))
            lastms = node.reg.runtime("far").lastms
            assert 2900 <= lastms <= 3100
            assert f"LAGGED ({lastms} ms)" in _status_line(await node.cli("iax2 show peers"))

            ponger.silent = True
            await wait_for(lambda: qualify.status("far").text == "UNREACHABLE")
            peers = await node.cli("iax2 show peers")
            assert "UNREACHABLE" in _status_line(peers)
            assert peers.endswith("2 iax2 peers [0 online, 1 offline, 1 unmonitored]\n")
            assert node.reg.runtime("far").lastms == -1
            # UNREACHABLE is poked every qualifyfreqnotok (10 s), not every 60 s.
            pokes = ponger.pokes
            await trio.sleep(35)
            assert ponger.pokes - pokes >= 3

            ponger.silent = False
            ponger.delay = 0.0
            await wait_for(lambda: qualify.status("far").text == "OK (1 ms)")
            assert "Status       : OK (1 ms)" in await node.cli("iax2 show peer far")
            nursery.cancel_scope.cancel()
