"""Two complete call stacks (IaxService + CallService + dialplan) in one trio run, on
loopback UDP, configured like the Asterisk instances of the captures (callee = "A")."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from dialplan.engine import Engine
from dialplan.loader import parse_dialplan_text
from pbxedge.config.diagnostics import Severity
from pbxedge.config.iax_build import build_iax_config
from pbxedge.config.loader import parse_config_text
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.iaxservice.calls import CallService
from pbxedge.iaxservice.peers import StaticPeerDirectory
from pbxedge.iaxservice.service import IaxService
from pbxedge.keys import KeyStore
from pbxedge.store import Store

SECRETS = {"md5peer": "md5secret", "plainpeer": "plainsecret", "encpeer": "encsecret"}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def callee_iax_conf(port: int, general: str = "", extra: str = "") -> str:
    """Accounts of Asterisk instance A (instance-a-iax.conf), on *port*."""
    return f"""
[general]
bindport = {port}
bindaddr = 127.0.0.1
authdebug = yes
context = from-iax
disallow = all
allow = ulaw
allow = alaw
allow = gsm
{general}

[md5peer]
type = friend
host = dynamic
auth = md5
secret = md5secret
context = from-iax
callerid = "MD5 Peer" <1001>

[plainpeer]
type = friend
host = dynamic
auth = plaintext
secret = plainsecret
context = from-iax

[rsapeer]
type = friend
host = dynamic
auth = rsa
inkeys = iaxpeer
outkey = iaxtest
context = from-iax

[encpeer]
type = friend
host = dynamic
auth = md5
secret = encsecret
forceencryption = yes
context = from-iax

[guest]
type = user
context = from-iax
{extra}
"""


CALLEE_EXTENSIONS = """
[from-iax]
exten => 600,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
exten => 601,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
exten => 602,1,Answer()
 same => n,Wait(3)
 same => n,Hangup(16)
exten => 612,1,Answer()
 same => n,Wait(700)
 same => n,Hangup(21)
exten => 604,1,Busy(10)
exten => 605,1,Congestion(10)
exten => 606,1,Ringing()
 same => n,Wait(60)
 same => n,Hangup(19)
exten => 607,1,Answer()
 same => n,Hangup(21)
exten => 608,1,Answer()
 same => n,Read(DIGITS,,2,,1,10)
 same => n,Verbose(1,DIGITS ${DIGITS})
 same => n,Hangup()
exten => h,1,Verbose(1,HANGUP ${CHANNEL} cause=${HANGUPCAUSE})

[other]
exten => 700,1,Answer()
 same => n,Hangup(16)
"""


def caller_iax_conf(port: int, callee: int, general: str = "", extra: str = "") -> str:
    """Peers toward the callee, one per way of authenticating."""
    return f"""
[general]
bindport = {port}
bindaddr = 127.0.0.1
authdebug = yes
context = local
disallow = all
allow = ulaw
allow = alaw
{general}

[a-md5]
type = peer
host = 127.0.0.1
port = {callee}
username = md5peer
secret = md5secret

[a-plain]
type = peer
host = 127.0.0.1
port = {callee}
username = plainpeer
secret = plainsecret
auth = plaintext

[a-rsa]
type = peer
host = 127.0.0.1
port = {callee}
username = rsapeer
outkey = iaxpeer

[a-enc]
type = peer
host = 127.0.0.1
port = {callee}
username = encpeer
secret = encsecret
forceencryption = yes

[a-guest]
type = peer
host = 127.0.0.1
port = {callee}

[a-wrong]
type = peer
host = 127.0.0.1
port = {callee}
username = md5peer
secret = not-the-secret

[a-nobody]
type = peer
host = 127.0.0.1
port = {callee}
username = nobody
secret = whatever
{extra}
"""


CALLER_EXTENSIONS = """
[local]
exten => _X.,1,Dial(IAX2/${EXTEN})
 same => n,Verbose(1,DIALSTATUS ${DIALSTATUS} cause=${HANGUPCAUSE})
 same => n,Hangup()
exten => h,1,Verbose(1,HANGUP ${CHANNEL} cause=${HANGUPCAUSE})
"""


@dataclass
class Stack:
    iax: IaxService
    calls: CallService
    engine: Engine
    registry: CommandRegistry
    port: int

    async def cli(self, line: str) -> str:
        return await self.registry.execute(CommandContext(self.registry), line)

    async def wait_until_answered(self) -> None:
        """Until one of this stack's channels is up (polled; the tests run on a mock clock)."""
        while not any(ch.state.value == "up" for ch, _ in self.calls.channels()):
            await trio.sleep(0.01)


def build_stack(iax_conf: str, extensions: str, keys: KeyStore,
                store: Store | None = None) -> Stack:
    config, problems = build_iax_config(parse_config_text(iax_conf, "iax.conf"))
    errors = [p for p in problems if p.severity is Severity.ERROR]
    assert not errors, errors
    engine = Engine(parse_dialplan_text(extensions))
    iax = IaxService(config)
    calls = CallService(iax, config=config, keys=keys, store=store, engine=engine,
                        peers=StaticPeerDirectory(config))
    registry = CommandRegistry()
    calls.register_commands(registry)
    return Stack(iax, calls, engine, registry, config.general.bindaddrs[0].port)


@asynccontextmanager
async def running(*stacks: Stack) -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        for stack in stacks:
            await nursery.start(stack.iax.run)
            await nursery.start(stack.calls.run)
        yield nursery
        nursery.cancel_scope.cancel()
