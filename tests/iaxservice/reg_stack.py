"""In-process IAX2 nodes for registration tests: IaxService + RegistrationService on
loopback UDP, driven by trio's autojump clock (real sockets, virtual time)."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from dialplan.engine import Engine
from dialplan.plan import Dialplan
from pbxedge.config.diagnostics import Severity
from pbxedge.config.iax import load_iax_config
from pbxedge.config.iax_models import IaxConfig
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList
from pbxedge.iaxservice.registrations import RegistrationService
from pbxedge.iaxservice.service import IaxService
from pbxedge.keys import KeyStore
from pbxedge.store import Store

# Virtual seconds: generous bounds that only matter when something is broken.
WAIT_LIMIT = 600.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def load_config(folder: Path, name: str, text: str) -> IaxConfig:
    path = folder / f"{name}.conf"
    path.write_text(text)
    config, diagnostics = load_iax_config(path)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    assert not errors, errors
    return config


class WallClock:
    """A wall clock the test moves along with trio's virtual clock."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.origin = start
        self.trio_origin = trio.current_time()

    def __call__(self) -> float:
        return self.origin + (trio.current_time() - self.trio_origin)


@dataclass
class Node:
    iax: IaxService
    reg: RegistrationService
    engine: Engine
    commands: CommandRegistry
    port: int

    async def cli(self, line: str) -> str:
        return await self.commands.execute(CommandContext(self.commands), line)


@asynccontextmanager
async def running_node(
    config: IaxConfig,
    *,
    keys: KeyStore | None = None,
    store: Store | None = None,
    wall_clock: Callable[[], float] | None = None,
    seed: int = 1,
) -> AsyncIterator[Node]:
    iax = IaxService(config, rng=random.Random(seed))
    engine = Engine(Dialplan())
    reg = RegistrationService(
        iax, config=config, keys=keys or KeyStore([]), store=store, engine=engine,
        wall_clock=wall_clock or WallClock(),
    )
    commands = CommandRegistry()
    reg.register_commands(commands)
    async with trio.open_nursery() as nursery:
        await nursery.start(iax.run)
        await nursery.start(reg.run)
        yield Node(iax, reg, engine, commands, iax.local_addresses[0][1])
        await reg.stop()  # as the node's clean stop does: what is not stored yet is written
        nursery.cancel_scope.cancel()


async def wait_for(condition: Callable[[], bool], limit: float = WAIT_LIMIT) -> None:
    """Poll *condition* in virtual time; fails after *limit* virtual seconds."""
    with trio.fail_after(limit):
        while not condition():
            await trio.sleep(0.1)


class RawPeer:
    """A hand-driven IAX2 client on a real socket, to look at the registrar's exact replies."""

    def __init__(self, sock: trio.socket.SocketType, server: tuple[str, int], scall: int) -> None:
        self.sock = sock
        self.server = server
        self.scall = scall

    @classmethod
    @asynccontextmanager
    async def open(cls, server: tuple[str, int], scall: int = 777) -> AsyncIterator[RawPeer]:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        with sock:
            yield cls(sock, server, scall)

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    async def send(self, frame: FullFrame) -> None:
        await self.sock.sendto(frame.encode(), self.server)

    async def receive(self) -> FullFrame:
        """The next frame that is not an ACK (virtual-time bound)."""
        with trio.fail_after(WAIT_LIMIT):
            while True:
                data, _ = await self.sock.recvfrom(4096)
                frame = parse_datagram(data)
                assert isinstance(frame, FullFrame)
                if frame.iax_subclass is not IaxSubclass.ACK:
                    return frame

    async def request(self, subclass: IaxSubclass, ies: IEList) -> FullFrame:
        """Open a call with *subclass* through the call-token exchange; the first answer."""
        first = IEList(ies).add_empty(IE.CALLTOKEN)
        await self.send(FullFrame(self.scall, 0, 3, 0, 0, FrameType.IAX, subclass, first.encode()))
        token_reply = await self.receive()
        assert token_reply.iax_subclass is IaxSubclass.CALLTOKEN
        token = token_reply.ies().get(IE.CALLTOKEN)
        assert token
        again = IEList(ies).add(IE.CALLTOKEN, token)
        await self.send(FullFrame(self.scall, 0, 5, 0, 0, FrameType.IAX, subclass, again.encode()))
        return await self.receive()

    async def answer(self, challenge: FullFrame, subclass: IaxSubclass, ies: IEList) -> FullFrame:
        """Answer a REGAUTH on its call (oseq/iseq 1) and return the verdict."""
        reply = FullFrame(
            self.scall, challenge.source_call, 8, 1, 1, FrameType.IAX, subclass, ies.encode()
        )
        await self.send(reply)
        return await self.receive()
