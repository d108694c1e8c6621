"""A raw manager client for tests: it sends exact bytes and keeps every byte received."""

from __future__ import annotations

import socket
from collections.abc import Callable

import trio

LIMIT = 20.0  # seconds to wait for what must come; reached only when something is broken

Pairs = list[tuple[str, str]]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pairs(raw: bytes) -> Pairs:
    """The ``Key: Value`` lines of one message (without its blank line)."""
    out = []
    for line in raw.decode().split("\r\n"):
        if line:
            key, _, value = line.partition(": ")
            out.append((key, value))
    return out


class AmiClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = b""

    @classmethod
    async def connect(cls, port: int, *, source: str | None = None,
                      receive_buffer: int | None = None) -> AmiClient:
        """Connect to 127.0.0.1:*port*, from *source* (another loopback address) and with
        a small kernel receive buffer if asked."""
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        if source is not None:
            await sock.bind((source, 0))
        await sock.connect(("127.0.0.1", port))
        return cls(trio.SocketStream(sock))

    async def close(self) -> None:
        await self.stream.aclose()

    async def send(self, *lines: tuple[str, str]) -> None:
        data = "".join(f"{key}: {value}\r\n" for key, value in lines) + "\r\n"
        await self.stream.send_all(data.encode())

    async def _fill(self) -> bool:
        data = await self.stream.receive_some(65536)
        self._buffer += data
        return bool(data)

    async def line(self) -> bytes:
        """The next line with its CRLF (the banner)."""
        with trio.fail_after(LIMIT):
            while b"\r\n" not in self._buffer:
                if not await self._fill():
                    raise EOFError("closed before a line")
        end = self._buffer.index(b"\r\n") + 2
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    async def message(self) -> bytes:
        """The next message, blank line included."""
        with trio.fail_after(LIMIT):
            while b"\r\n\r\n" not in self._buffer:
                if not await self._fill():
                    raise EOFError("closed before a whole message")
        end = self._buffer.index(b"\r\n\r\n") + 4
        raw, self._buffer = self._buffer[:end], self._buffer[end:]
        return raw

    async def until(self, wanted: Callable[[Pairs], bool]) -> Pairs:
        """Read messages until one satisfies *wanted*; returns it."""
        while True:
            found = pairs(await self.message())
            if wanted(found):
                return found

    async def closed(self) -> bool:
        """Whether the server closes the connection (reading what it still sends)."""
        with trio.fail_after(LIMIT):
            try:
                while await self._fill():
                    pass
            except trio.BrokenResourceError:  # reset: closed as well
                pass
        return True

    async def login(self, username: str = "admin", secret: str = "amipass",
                    events: str | None = None) -> Pairs:
        await self.line()
        lines = [("Action", "Login"), ("Username", username), ("Secret", secret)]
        if events is not None:
            lines.append(("Events", events))
        await self.send(*lines)
        return pairs(await self.message())


def event_is(name: str, **values: str) -> Callable[[Pairs], bool]:
    def wanted(found: Pairs) -> bool:
        keys = dict(found)
        return keys.get("Event") == name and all(keys.get(k) == v for k, v in values.items())

    return wanted
