"""Our register => lines against a scripted server: restarts, moved addresses, DNS names."""

from __future__ import annotations

import socket
from pathlib import Path

import trio
import trio.testing

from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.regclient import RegState
from pbxedge.iaxservice.reg_resolver import ip_literal, resolve
from tests.iaxservice.reg_stack import free_udp_port, load_config, running_node, wait_for


class ScriptedServer:
    """Answers REGREQs without any authentication: REGACK (seeing the client at
    ``apparent``), or INVAL for an authenticated-looking REGREQ on a call it "forgot"."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock
        self.apparent: tuple[str, int] | None = None
        self.forget_calls = False
        self.requests: list[tuple[float, str]] = []
        self._next_call = 100

    async def serve(self) -> None:
        while True:
            data, addr = await self.sock.recvfrom(4096)
            frame = parse_datagram(data)
            if not isinstance(frame, FullFrame) or frame.iax_subclass is not IaxSubclass.REGREQ:
                continue
            user = frame.ies().get_str(IE.USERNAME) or ""
            self.requests.append((trio.current_time(), user))
            self._next_call += 1
            if self.forget_calls:
                reply = FullFrame(frame.dest_call, frame.source_call, 0, 0, 0, FrameType.IAX,
                                  IaxSubclass.INVAL)
                if frame.dest_call == 0:  # a fresh request: challenge it first
                    ies = IEList().add_u16(IE.AUTHMETHODS, 1).add_str(IE.USERNAME, user)
                    reply = FullFrame(self._next_call, frame.source_call, 1, 0, 1,
                                      FrameType.IAX, IaxSubclass.REGAUTH, ies.encode())
                await self.sock.sendto(reply.encode(), addr)
                continue
            seen = self.apparent or (addr[0], addr[1])
            ies = (IEList().add_str(IE.USERNAME, user).add_u16(IE.REFRESH, 60)
                   .add_addr(IE.APPARENT_ADDR, *seen))
            ack = FullFrame(self._next_call, frame.source_call, 1, 0, 1, FrameType.IAX,
                            IaxSubclass.REGACK, ies.encode())
            await self.sock.sendto(ack.encode(), addr)


def _client_conf(port: int, server_port: int, users: list[str]) -> str:
    lines = "".join(f"register => {u}:pw@127.0.0.1:{server_port}\n" for u in users)
    return f"[general]\nbindport = {port}\nbindaddr = 127.0.0.1\n{lines}"


async def _scripted(nursery: trio.Nursery) -> ScriptedServer:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    server = ScriptedServer(sock)
    nursery.start_soon(server.serve)
    return server


async def test_forgotten_call_starts_a_new_attempt_at_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        server = await _scripted(nursery)
        port = server.sock.getsockname()[1]
        config = load_config(tmp_path, "b", _client_conf(free_udp_port(), port, ["alice"]))
        async with running_node(config) as node:
            def registered() -> bool:
                return node.reg.registry_rows()[0].state is RegState.REGISTERED

            await wait_for(registered)
            # The server "restarts": it challenges, then answers INVAL to the reply.
            server.forget_calls = True
            node.reg.register_now("alice")
            await wait_for(lambda: len(server.requests) >= 4)
            first, _ = server.requests[1]
            again, _ = server.requests[3]
            # The INVAL made the client start over on a fresh call at once (no backoff).
            assert again - first < 1.0
            server.forget_calls = False
            await wait_for(registered)
        nursery.cancel_scope.cancel()


async def test_new_apparent_address_renews_the_other_lines(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        server = await _scripted(nursery)
        port = server.sock.getsockname()[1]
        config = load_config(tmp_path, "b", _client_conf(free_udp_port(), port, ["u1", "u2"]))
        async with running_node(config) as node:
            rows = node.reg.registry_rows
            await wait_for(lambda: all(r.state is RegState.REGISTERED for r in rows()))
            server.apparent = ("192.0.2.7", 40000)
            before = len(server.requests)
            node.reg.register_now("u1")
            # u1's REGACK reports a new address for us: u2 re-registers without waiting.
            await wait_for(lambda: any(u == "u2" for _, u in server.requests[before:]), 5)
            await wait_for(lambda: all(r.perceived == ("192.0.2.7", 40000) for r in rows()))
        nursery.cancel_scope.cancel()


async def test_resolver_literals_and_local_names() -> None:
    assert ip_literal("127.0.0.1", 4570) == ("127.0.0.1", 4570)
    assert ip_literal("[::1]", 4570) == ("::1", 4570)
    assert ip_literal("pbx.example", 4570) is None
    assert await resolve("127.0.0.1", 4571, srv=False) == [("127.0.0.1", 4571)]
    # /etc/hosts only: no DNS query leaves the machine for "localhost".
    assert ("127.0.0.1", 4572) in await resolve("localhost", 4572, srv=False)
