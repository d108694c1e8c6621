"""The control socket server: a Unix stream socket in the state directory.

It runs as a task in the node's nursery.  Each client gets its own task; a
client that sends garbage, too long a line, or disconnects mid-way only ends
its own connection.
"""

from __future__ import annotations

import errno
import os
import socket as stdlib_socket
import stat
from collections.abc import Callable
from pathlib import Path

import trio

from pbxedge import log
from pbxedge.control.protocol import MAX_REQUEST_BYTES, decode_request, encode_response
from pbxedge.control.registry import CommandContext, CommandRegistry

__all__ = ["ControlServer", "ControlSocketError"]

# Linux sun_path is 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107


class ControlSocketError(Exception):
    """The control socket cannot be created (in use by a live node, bad path, ...)."""


def _owner_is_alive(path: Path) -> bool:
    """Whether a process still listens on *path*.

    Only a refused connection proves the socket stale; anything else (a full
    backlog, a timeout) counts as alive, because deleting a live node's socket
    would orphan it.
    """
    probe = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        pass  # busy or slow to answer: somebody is there
    finally:
        probe.close()
    return True


def _clear_stale_socket(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlSocketError(f"{path} exists and is not a socket; not touching it")
    if _owner_is_alive(path):
        raise ControlSocketError(f"another pbxedge instance is running (it owns {path})")
    log.notice(f"removing stale control socket {path}")
    path.unlink(missing_ok=True)


def _bind_private(sock: stdlib_socket.socket, path: Path) -> None:
    # The umask makes the socket 0600 from the moment it exists (no chmod window).
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)


class ControlServer:
    """Serves *registry* on *socket_path*; a Service in the node's nursery."""

    name = "control"

    def __init__(
        self,
        socket_path: Path,
        registry: CommandRegistry,
        request_stop: Callable[[], None],
    ) -> None:
        self.socket_path = socket_path
        self._registry = registry
        self._request_stop = request_stop
        self._socket: trio.socket.SocketType | None = None

    def register_commands(self, registry: CommandRegistry) -> None:
        """The console's own commands are the core ones, registered by the node."""

    async def stop(self) -> None:
        """Nothing to finish: the console answers until its task is cancelled, last."""

    def bind(self) -> trio.socket.SocketType:
        """Create, bind and listen (once); raises ControlSocketError with a clear reason.

        Separate from :meth:`run` so a node can refuse to start before any task runs.
        """
        if self._socket is None:
            self._socket = self._open()
        return self._socket

    def _open(self) -> trio.socket.SocketType:
        if len(os.fsencode(self.socket_path)) > _MAX_SOCKET_PATH:
            raise ControlSocketError(
                f"control socket path {self.socket_path} is longer than "
                f"{_MAX_SOCKET_PATH} bytes; choose a shorter --state directory"
            )
        self.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _clear_stale_socket(self.socket_path)
        raw = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
        try:
            _bind_private(raw, self.socket_path)
            raw.listen(16)
        except OSError as exc:
            raw.close()
            if exc.errno == errno.EADDRINUSE:
                raise ControlSocketError(
                    f"another pbxedge instance is running (it owns {self.socket_path})"
                ) from exc
            raise ControlSocketError(f"cannot create {self.socket_path}: {exc}") from exc
        return trio.socket.from_stdlib_socket(raw)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listener = trio.SocketListener(self.bind())
        try:
            async with listener, trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    stream = await listener.accept()
                    nursery.start_soon(self._serve_client, stream)
        finally:
            self.socket_path.unlink(missing_ok=True)

    async def _serve_client(self, stream: trio.SocketStream) -> None:
        async with stream:
            try:
                await self._converse(stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                # The client went away mid-request or mid-reply: its loss only.
                return
            except Exception as exc:
                # The boundary of one client: whatever went wrong ends this
                # connection, never the node's nursery.
                log.error(f"control client dropped after an internal error: {exc!r}")

    async def _converse(self, stream: trio.SocketStream) -> None:
        """Answer requests in order until the client closes (or asks the node to stop)."""
        stop_after_reply = False

        def stop_after_this_reply() -> None:
            # The node stops only after the client got its answer (`core stop now`).
            nonlocal stop_after_reply
            stop_after_reply = True

        ctx = CommandContext(registry=self._registry, request_stop=stop_after_this_reply)
        reader = _LineReader(stream)
        while True:
            try:
                line = await reader.next_line()
            except _LineTooLong:
                await stream.send_all(encode_response("Command line too long\n"))
                return
            if line is None:
                return
            output = await self._registry.execute(ctx, decode_request(line))
            await stream.send_all(encode_response(output))
            if stop_after_reply:
                self._request_stop()
                return


class _LineTooLong(Exception):
    pass


class _LineReader:
    """Splits a byte stream into request lines, refusing over-long ones."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def next_line(self) -> bytes | None:
        """The next line without its newline; None once the client has closed."""
        while (newline := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_REQUEST_BYTES:
                raise _LineTooLong
            chunk = await self._stream.receive_some(MAX_REQUEST_BYTES)
            if not chunk:
                return None
            self._buffer += chunk
        line = bytes(self._buffer[:newline])
        del self._buffer[: newline + 1]
        return line
