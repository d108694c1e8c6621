"""The manager interface under many connections: what 1 000 idle sessions cost a node.

A real node process with manager.conf enabled. Figures:

* the node's RSS growth per connection, with 1 000 sessions logged in and idle
  (``Events: off``), then the same sessions asking for events while nothing happens;
* the node's CPU time for one call whose dialplan fires a burst of 1 000 UserEvents
  (plus their VarSets), with no session, with the 1 000 idle sessions, and with
  :data:`READERS` sessions that read every event.

Goal: idle sessions cost nothing noticeable: a few KiB each and no CPU per event.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from pbxedge.load.agent import CallAgent

IDLE = 1_000
READERS = 10
BURST = 1_000
LIMIT = 60.0
KIB = 1024

EXTENSIONS = f"""[globals]
PAD={"x" * 200}
[bench]
exten => burst,1,Answer()
 same => n,Set(I=0)
 same => n(top),UserEvent(Burst,Seq: ${{I}},Payload: ${{PAD}})
 same => n,Set(I=$[${{I}} + 1])
 same => n,GotoIf($[${{I}} < {BURST}]?top)
 same => n,Hangup()
"""


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Session:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def login(cls, port: int, events: str) -> _Session:
        session = cls(await trio.open_tcp_stream("127.0.0.1", port))
        await session.stream.send_all(b"Action: Login\r\nUsername: bench\r\nSecret: bench\r\n"
                                      b"Events: " + events.encode() + b"\r\n\r\n")
        await session.read_until(b"Authentication accepted")
        return session

    async def read_until(self, marker: bytes) -> None:
        while marker not in self.buffer:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError("the node closed a bench session")
            # Keep only the tail where a marker could still start.
            self.buffer = (self.buffer + data)[-4096:]
        self.buffer = b""

    async def send(self, text: str) -> None:
        await self.stream.send_all(text.replace("\n", "\r\n").encode() + b"\r\n")


async def _burst(agent: CallAgent, port: int, pid: int, readers: list[_Session]) -> float:
    """Node CPU seconds for one burst call, until every reader has the last event."""
    before = _cpu(pid)
    call = agent.call(("127.0.0.1", port), "burst")
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            for reader in readers:
                nursery.start_soon(reader.read_until, f"Seq: {BURST - 1}\r\n".encode())
        await call.ended.wait()
    await trio.sleep(0.2)  # let the node finish its last writes
    return _cpu(pid) - before


async def _measure(folder: Path, iax: int, ami: int, pid: int) -> list[str]:
    async with trio.open_nursery() as nursery:
        agent = CallAgent()
        await nursery.start(agent.run)
        await _burst(agent, iax, pid, [])  # warm-up: the first call imports and allocates
        alone = await _burst(agent, iax, pid, [])
        rss_before = _rss(pid)
        idle = [await _Session.login(ami, "off") for _ in range(IDLE)]
        await trio.sleep(0.5)
        rss_idle = _rss(pid) - rss_before
        with_idle = await _burst(agent, iax, pid, [])
        for session in idle:
            await session.send("Action: Events\nEventMask: on\n")
        await trio.sleep(0.5)
        rss_listening = _rss(pid) - rss_before
        for session in idle:
            await session.send("Action: Events\nEventMask: off\n")
        readers = [await _Session.login(ami, "on") for _ in range(READERS)]
        with_readers = await _burst(agent, iax, pid, readers)
        for session in [*idle, *readers]:
            await session.stream.aclose()
        nursery.cancel_scope.cancel()
    return [
        f"{IDLE:,} idle sessions (Events: off): node RSS +{rss_idle / KIB:,.0f} KiB "
        f"({rss_idle / IDLE / KIB:.1f} KiB each); with Events: on and nothing happening "
        f"+{rss_listening / KIB:,.0f} KiB",
        f"burst of {BURST:,} UserEvents (and {BURST:,} VarSets) in one call, node CPU: "
        f"{alone * 1000:.0f} ms alone, {with_idle * 1000:.0f} ms with {IDLE:,} idle sessions, "
        f"{with_readers * 1000:.0f} ms with {READERS} sessions reading every event",
    ]


def run() -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="pbx-bench-"))
    iax, ami = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM)
    (folder / "iax.conf").write_text(
        f"[general]\nbindport={iax}\nbindaddr=127.0.0.1\ndisallow=all\nallow=ulaw\n"
        "[guest]\ntype=user\ncontext=bench\nrequirecalltoken=no\n")
    (folder / "extensions.conf").write_text(EXTENSIONS)
    (folder / "manager.conf").write_text(
        f"[general]\nenabled=yes\nport={ami}\nbindaddr=127.0.0.1\ndisplayconnects=no\n"
        "[bench]\nsecret=bench\nread=all\nwrite=all\n")
    stderr = (folder / "node.log").open("w")
    node = subprocess.Popen([sys.executable, "-m", "pbxedge", "-c", str(folder / "iax.conf"),
                             "--state", str(folder / "var")],
                            stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + LIMIT
        while "pbxedge Ready." not in (folder / "node.log").read_text():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "node.log").read_text())
            time.sleep(0.05)
        return trio.run(_measure, folder, iax, ami, node.pid)
    finally:
        node.terminate()
        node.wait(timeout=LIMIT)
        stderr.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    print("\n".join(run()))
