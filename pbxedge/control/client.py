"""Blocking client for the control socket (``pbxedge -rx`` and ``pbxedge -r``).

Blocking on purpose: the remote console is a plain terminal program and has no
event loop of its own.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import TracebackType

from pbxedge.control.protocol import (
    MAX_HEADER_BYTES,
    ProtocolError,
    encode_request,
    parse_response_header,
)

__all__ = ["ControlClient", "NotRunningError"]


class NotRunningError(Exception):
    """No node answers on the control socket."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(f"Unable to connect to remote pbxedge (does {socket_path} exist?)")
        self.socket_path = socket_path


class ControlClient:
    def __init__(self, socket_path: Path, timeout: float | None = 30.0) -> None:
        self.socket_path = socket_path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(socket_path))
        except OSError as exc:
            self._sock.close()
            raise NotRunningError(socket_path) from exc
        self._pending = bytearray()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def execute(self, command: str) -> str:
        """Send one command line and return the node's complete output."""
        self._sock.sendall(encode_request(command))
        header = self._read_until_newline()
        length = parse_response_header(header)
        return self._read_exactly(length).decode("utf-8", errors="replace")

    def _read_until_newline(self) -> bytes:
        while b"\n" not in self._pending:
            if len(self._pending) > MAX_HEADER_BYTES:
                raise ProtocolError("response header too long")
            self._receive_more()
        header, _, rest = bytes(self._pending).partition(b"\n")
        self._pending = bytearray(rest)
        return header

    def _read_exactly(self, length: int) -> bytes:
        while len(self._pending) < length:
            self._receive_more()
        body = bytes(self._pending[:length])
        del self._pending[:length]
        return body

    def _receive_more(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ProtocolError("the node closed the connection mid-response")
        self._pending += chunk
