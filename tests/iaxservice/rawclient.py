"""A minimal IAX2 peer for wire-level tests: sends exactly the frames a test builds,
ACKs what it receives, optionally encrypts, and keeps every datagram for a pcap."""

from __future__ import annotations

import contextlib
import math

import trio

from pbxedge.iax2.crypto import AesTransform
from pbxedge.iax2.enums import FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList

Address = tuple[str, int]
_UNSEQUENCED = {IaxSubclass.ACK, IaxSubclass.INVAL, IaxSubclass.VNAK, IaxSubclass.CALLTOKEN}


class RawClient:
    def __init__(self, sock: trio.socket.SocketType, server: Address, scall: int) -> None:
        self.sock = sock
        self.server = server
        self.scall = scall
        self.dcall = 0
        self.oseq = 0
        self.iseq = 0
        self.cipher: AesTransform | None = None
        self.datagrams: list[tuple[Address, Address, bytes]] = []
        self.received: list[FullFrame] = []
        host, port = sock.getsockname()[:2]
        self.local: Address = (str(host), int(port))

    async def _sendto(self, data: bytes) -> None:
        self.datagrams.append((self.local, self.server, data))
        await self.sock.sendto(data, self.server)

    async def send(self, frametype: int, subclass: int, payload: bytes, ts: int) -> FullFrame:
        frame = FullFrame(self.scall, self.dcall, ts, self.oseq, self.iseq, frametype, subclass,
                          payload)
        self.oseq = (self.oseq + 1) & 0xFF
        data = frame.encode()
        await self._sendto(self.cipher.encrypt_full(data) if self.cipher else data)
        return frame

    async def send_iax(self, subclass: IaxSubclass, ies: IEList | None, ts: int) -> FullFrame:
        return await self.send(FrameType.IAX, int(subclass), ies.encode() if ies else b"", ts)

    def restart(self) -> None:
        """After a CALLTOKEN: the request goes again with sequence numbers at zero."""
        self.oseq = self.iseq = 0
        self.dcall = 0

    async def _ack(self, frame: FullFrame) -> None:
        ack = FullFrame(self.scall, frame.source_call, frame.timestamp, self.oseq, self.iseq,
                        FrameType.IAX, int(IaxSubclass.ACK))
        data = ack.encode()
        await self._sendto(self.cipher.encrypt_full(data) if self.cipher else data)

    async def receive(self, quiet: float = 0.5) -> list[FullFrame]:
        """Every frame until nothing arrives for *quiet* seconds; each is ACKed as needed."""
        frames: list[FullFrame] = []
        while True:
            data: bytes | None = None
            with trio.move_on_after(quiet if math.isfinite(quiet) else 3600):
                data, _ = await self.sock.recvfrom(65535)
            if data is None:
                return frames
            self.datagrams.append((self.server, self.local, data))
            if self.cipher is not None and len(data) >= 4 and data[0] & 0x80:
                with contextlib.suppress(MalformedFrame):  # a clear INVAL stays readable
                    data = self.cipher.decrypt_full(data)
            frame = parse_datagram(data)
            if not isinstance(frame, FullFrame):
                continue
            frames.append(frame)
            self.received.append(frame)
            sub = frame.iax_subclass if frame.frametype == FrameType.IAX else None
            if sub is IaxSubclass.CALLTOKEN:
                continue
            if frame.source_call > 1 and self.dcall == 0:
                self.dcall = frame.source_call
            if sub not in _UNSEQUENCED:
                self.iseq = (frame.oseqno + 1) & 0xFF
                await self._ack(frame)
