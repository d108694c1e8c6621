"""Two real pbxedge processes for call tests: configs, keys, a raw IAX2 client, log polling.

Node A answers (accounts like Asterisk instance A); node B places calls to A when a raw
client calls B: the client dials ``<digit><exten>`` in B's context ``out`` and the digit
picks the account B uses toward A (see :data:`B_ROUTES`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.newcall import build_new
from tests.iaxservice.stacks import CALLEE_EXTENSIONS, callee_iax_conf, caller_iax_conf
from tests.integration.conftest import RunningNode, free_udp_port, start_node

__all__ = ["B_ROUTES", "Nodes", "WireClient", "free_udp_port", "start_pair", "wait_for_log"]

# Generous limits: reached only when something is broken, never a performance check.
WAIT_LIMIT_S = 30.0

B_ROUTES = {
    "1": "a-md5", "2": "a-plain", "3": "a-rsa", "4": "a-enc", "5": "a-guest",
    "6": "a-wrong", "7": "a-nobody",
}


def _caller_extensions(extra: str) -> str:
    lines = ["[out]"]
    for digit, peer in B_ROUTES.items():
        lines += [f"exten => _{digit}XXX,1,Dial(IAX2/{peer}/${{EXTEN:1}})",
                  " same => n,Verbose(1,DIALSTATUS ${DIALSTATUS})",
                  " same => n,Hangup()"]
    lines.append(extra)
    lines.append("exten => h,1,Verbose(1,HANGUP ${CHANNEL} cause=${HANGUPCAUSE})")
    return "\n".join(lines) + "\n"


def keygen(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pbxedge", "keygen", "--dir", str(folder), name],
                   check=True, capture_output=True, timeout=60)


@dataclass
class Nodes:
    a: RunningNode
    b: RunningNode


def write_node(folder: Path, iax_conf: str, extensions: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "iax.conf").write_text(iax_conf)
    (folder / "extensions.conf").write_text(extensions)
    return folder / "iax.conf"


def start_pair(root: Path, *, a_general: str = "", b_general: str = "", a_extra: str = "",
               b_extra: str = "", b_extensions: str = "", a_extensions: str = "",
               a_port: int | None = None, b_port: int | None = None) -> Nodes:
    """A and B with a fresh ``pbxedge keygen`` key pair: B signs, A verifies.

    *a_extensions* is appended to A's extensions.conf (it names its own contexts; a
    context named again is merged). Pass *a_port*/*b_port* (from :func:`free_udp_port`)
    when a config must name the other node's port.
    """
    a_port = a_port or free_udp_port()
    b_port = b_port or free_udp_port()
    keygen(root / "b" / "keys", "iaxpeer")
    (root / "a" / "keys").mkdir(parents=True)
    (root / "a" / "keys" / "iaxpeer.pub").write_bytes((root / "b" / "keys" / "iaxpeer.pub")
                                                      .read_bytes())
    (root / "b" / "keys" / "iaxpeer.pub").unlink()
    a_conf = write_node(root / "a", callee_iax_conf(a_port, a_general, a_extra),
                        CALLEE_EXTENSIONS + a_extensions)
    b_users = "\n[guest]\ntype = user\ncontext = out\nrequirecalltoken = no\n"
    b_conf = write_node(root / "b", caller_iax_conf(b_port, a_port, b_general,
                                                    b_users + b_extra),
                        _caller_extensions(b_extensions))
    a = start_node(root / "a", a_conf, a_port, "-vvv")
    try:
        b = start_node(root / "b", b_conf, b_port, "-vvv")
    except BaseException:
        a.process.kill()
        a.process.wait()
        raise
    # The control socket opens before the UDP socket is bound; "Ready" comes after both.
    for node in (a, b):
        wait_for_log(node, "pbxedge Ready.")
    return Nodes(a, b)


def stop(node: RunningNode) -> None:
    if node.process.poll() is None:
        node.process.terminate()
        try:
            node.process.wait(timeout=WAIT_LIMIT_S)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


def wait_for_log(node: RunningNode, text: str) -> str:
    """The first stderr line containing *text* (fails the test if it never comes)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        for line in node.stderr().splitlines():
            if text in line:
                return line
        time.sleep(0.05)
    pytest.fail(f"no log line with {text!r}:\n{node.stderr()[-4000:]}")


_UNSEQUENCED = {IaxSubclass.ACK, IaxSubclass.INVAL, IaxSubclass.VNAK, IaxSubclass.CALLTOKEN}


class WireClient:
    """A blocking raw IAX2 caller: NEW (with the token exchange), ACKs, HANGUP."""

    def __init__(self, port: int, scall: int = 1234, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(WAIT_LIMIT_S)
        self.server = ("127.0.0.1", port)
        self.scall = scall
        self.dcall = 0
        self.oseq = self.iseq = 0
        self.frames: list[FullFrame] = []

    def close(self) -> None:
        self.sock.close()

    def send(self, subclass: IaxSubclass, ies: IEList | None, ts: int,
             frametype: int = FrameType.IAX) -> None:
        frame = FullFrame(self.scall, self.dcall, ts, self.oseq, self.iseq, frametype,
                          int(subclass), ies.encode() if ies else b"")
        self.oseq = (self.oseq + 1) & 0xFF
        self.sock.sendto(frame.encode(), self.server)

    def receive(self) -> FullFrame:
        while True:
            frame = parse_datagram(self.sock.recv(65535))
            if not isinstance(frame, FullFrame):
                continue
            self.frames.append(frame)
            sub = frame.iax_subclass if frame.frametype == FrameType.IAX else None
            if sub is not IaxSubclass.CALLTOKEN and frame.source_call > 1 and not self.dcall:
                self.dcall = frame.source_call
            if sub not in _UNSEQUENCED:
                self.iseq = (frame.oseqno + 1) & 0xFF
                ack = FullFrame(self.scall, frame.source_call, frame.timestamp, self.oseq,
                                self.iseq, FrameType.IAX, int(IaxSubclass.ACK))
                self.sock.sendto(ack.encode(), self.server)
            return frame

    def drain(self, wait: float) -> None:
        """Receive (and ACK) whatever arrives within *wait* seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                self.receive()
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(WAIT_LIMIT_S)

    def new(self, called: str, username: str | None = None, *, token: bool = True) -> None:
        ies = build_new(called, prefs=[], capability=4, format=4,
                        now_datetime=datetime.now(), username=username,
                        calling_number="2001", calling_name="Wire Client")
        if not token:
            self.send(IaxSubclass.NEW, ies, 1)
            return
        self.send(IaxSubclass.NEW, IEList(ies).add_empty(IE.CALLTOKEN), 1)
        reply = self.receive()
        if reply.iax_subclass is not IaxSubclass.CALLTOKEN:
            return  # answered directly: the peer does not require tokens from us
        self.oseq = self.iseq = 0
        token_value = reply.ies().get(IE.CALLTOKEN) or b""
        self.send(IaxSubclass.NEW, IEList(ies).add(IE.CALLTOKEN, token_value), 2)

    def until(self, *subclasses: IaxSubclass) -> FullFrame:
        """Frames until one of the IAX *subclasses* arrives; returns it."""
        while True:
            frame = self.receive()
            if frame.frametype == FrameType.IAX and frame.iax_subclass in subclasses:
                return frame

    def hangup(self, cause: int) -> None:
        self.send(IaxSubclass.HANGUP, IEList().add_u8(IE.CAUSECODE, cause), 5000)
