"""Blocking client for the control socket (``pbxedge -rx`` and ``pbxedge -r``).

Blocking on purpose: the remote console is a plain terminal program and has no
event loop of its own.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from pathlib import Path
from types import TracebackType

from pbxedge.control.protocol import (
    MAX_REFUSAL_BYTES,
    ConsoleBusy,
    ProtocolError,
    encode_request,
    parse_response_header,
)

__all__ = ["ConsoleBusy", "ControlClient", "NotRunningError"]

# A full listen backlog (EAGAIN) is a node too busy to accept for a moment, not an absent
# one: connecting is retried this long before the console counts as busy.
BUSY_RETRY_SECONDS = 2.0
_BUSY_RETRY_INTERVAL = 0.05


class NotRunningError(Exception):
    """No node answers on the control socket."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(f"Unable to connect to remote pbxedge (does {socket_path} exist?)")
        self.socket_path = socket_path


def _connect(socket_path: Path, timeout: float | None) -> socket.socket:
    """A connected socket.

    :raises NotRunningError: nobody listens on *socket_path*.
    :raises ConsoleBusy: the node's listen backlog stayed full.
    """
    give_up = time.monotonic() + BUSY_RETRY_SECONDS
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Non-blocking: a blocking connect() would wait on a full backlog for ever.
        sock.setblocking(False)
        try:
            sock.connect(str(socket_path))
        except BlockingIOError:
            sock.close()
            if time.monotonic() >= give_up:
                raise ConsoleBusy(f"pbxedge console busy: {socket_path} accepts no new "
                                  "connection now; try again later") from None
            time.sleep(_BUSY_RETRY_INTERVAL)
            continue
        except OSError as exc:
            sock.close()
            raise NotRunningError(socket_path) from exc
        sock.settimeout(timeout)
        return sock


class ControlClient:
    """One connection to the node; reopened when the node closed it for being idle.

    :raises NotRunningError: no node answers.
    :raises ConsoleBusy: the node takes no console client now.
    """

    def __init__(self, socket_path: Path, timeout: float | None = 30.0) -> None:
        self.socket_path = socket_path
        self._timeout = timeout
        self._sock = _connect(socket_path, timeout)
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
        request = encode_request(command)
        if self._closed_by_node():
            self._sock.close()
            self._sock = _connect(self.socket_path, self._timeout)
        # Refused at once, the node may have closed before the request arrived: its
        # refusal still waits to be read (or reading reports the loss).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._sock.sendall(request)
        header = self._read_until_newline()
        length = parse_response_header(header)
        return self._read_exactly(length).decode("utf-8", errors="replace")

    def _closed_by_node(self) -> bool:
        """Whether the node has closed the connection since the last reply (it does so
        with idle ones); only then may the command go over a new one without risk of
        running twice."""
        poller = select.poll()  # not select(): it fails on descriptors above 1023
        poller.register(self._sock, select.POLLIN)
        if not poller.poll(0):
            return False
        try:
            return not self._sock.recv(1, socket.MSG_PEEK)
        except ConnectionResetError:
            return True

    def _read_until_newline(self) -> bytes:
        while b"\n" not in self._pending:
            if len(self._pending) > MAX_REFUSAL_BYTES:
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
