"""The control socket server: a Unix stream socket in the state directory.

It runs as a task in the node's nursery.  Each client gets its own task; a
client that sends garbage, too long a line, or disconnects mid-way only ends
its own connection.  The console never takes the node down with it: it serves at most
:attr:`ConsoleLimits.max_clients` clients at once (more are told the console is busy),
closes connections that wait longer than :attr:`ConsoleLimits.idle_timeout` for a
request or for the reading of a reply, and meets a failing ``accept()`` (out of file
descriptors, of memory) with a logged, growing pause instead of an exception.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket as stdlib_socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import trio

from pbxedge import log
from pbxedge.control.limits import ConsoleLimits
from pbxedge.control.protocol import (
    MAX_REQUEST_BYTES,
    decode_request,
    encode_refusal,
    encode_response,
)
from pbxedge.control.registry import CommandContext, CommandRegistry

__all__ = ["ControlServer", "ControlSocketError"]

# Linux sun_path is 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107
# Room for a burst of clients: beyond the cap they are accepted and told the console is
# busy, which a client can report, instead of failing to connect.
_LISTEN_BACKLOG = 128
# A failing accept() is retried after a pause that doubles from the first to the last.
_ACCEPT_RETRY_FIRST = 0.1
_ACCEPT_RETRY_LAST = 1.0
# At most one log line per interval about each kind of console trouble.
_LOG_INTERVAL = 10.0
# A refused client gets its reason only if it can take it at once.
_REFUSAL_SEND_LIMIT = 1.0


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
        limits: ConsoleLimits | None = None,
    ) -> None:
        self.socket_path = socket_path
        self._registry = registry
        self._request_stop = request_stop
        self._limits = limits or ConsoleLimits()
        self._socket: trio.socket.SocketType | None = None
        self._clients = 0
        self._log_limiter = log.RateLimiter(_LOG_INTERVAL, clock=trio.current_time)

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
            raw.listen(_LISTEN_BACKLOG)
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
                await self._accept_forever(listener, nursery)
        finally:
            self.socket_path.unlink(missing_ok=True)

    async def _accept_forever(self, listener: trio.SocketListener,
                              nursery: trio.Nursery) -> NoReturn:
        pause = _ACCEPT_RETRY_FIRST
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                # EMFILE, ENFILE, ENOBUFS, ENOMEM (trio itself retries ECONNABORTED and its
                # kin): the client waits in the backlog until descriptors or memory are back.
                name = errno.errorcode.get(exc.errno or 0, "error")
                self._log_limiter.warning(
                    f"accept {name}", f"cannot accept a console connection: {name} "
                    f"({exc.strerror or exc}); retrying in {pause:g} s")
                await trio.sleep(pause)
                pause = min(2 * pause, _ACCEPT_RETRY_LAST)
                continue
            pause = _ACCEPT_RETRY_FIRST
            if self._clients >= self._limits.max_clients:
                await self._refuse(stream)
            else:
                self._clients += 1
                nursery.start_soon(self._serve_client, stream)

    async def _refuse(self, stream: trio.SocketStream) -> None:
        reason = f"{self._clients} clients connected, the most --console-max-clients allows"
        self._log_limiter.warning("busy", f"refused a console client: {reason}")
        async with stream:
            with trio.move_on_after(_REFUSAL_SEND_LIMIT):
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await stream.send_all(
                        encode_refusal(f"pbxedge console busy: {reason}; try again later"))

    async def _serve_client(self, stream: trio.SocketStream) -> None:
        try:
            async with stream:
                await self._converse(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The client went away mid-request or mid-reply: its loss only.
            pass
        except Exception as exc:
            # The boundary of one client: whatever went wrong ends this
            # connection, never the node's nursery.
            log.error(f"control client dropped after an internal error: {exc!r}")
        finally:
            self._clients -= 1

    async def _converse(self, stream: trio.SocketStream) -> None:
        """Answer requests in order until the client closes, stays idle too long, or asks
        the node to stop."""
        stop_after_reply = False

        def stop_after_this_reply() -> None:
            # The node stops only after the client got its answer (`core stop now`).
            nonlocal stop_after_reply
            stop_after_reply = True

        ctx = CommandContext(registry=self._registry, request_stop=stop_after_this_reply)
        reader = _LineReader(stream)
        idle = self._limits.idle_timeout
        while True:
            line: bytes | None = None
            with trio.move_on_after(idle) as waiting:
                try:
                    line = await reader.next_line()
                except _LineTooLong:
                    await self._reply(stream, "Command line too long\n")
                    return
            if waiting.cancelled_caught:
                log.debug(f"console client sent no command for {idle:g} s; closed")
                return
            if line is None:
                return
            output = await self._registry.execute(ctx, decode_request(line))
            replied = await self._reply(stream, output)
            if stop_after_reply:
                self._request_stop()
                return
            if not replied:
                return

    async def _reply(self, stream: trio.SocketStream, output: str) -> bool:
        """Send *output*; False when the client left it unread for the idle timeout."""
        with trio.move_on_after(self._limits.idle_timeout):
            await stream.send_all(encode_response(output))
            return True
        log.debug(f"console client left its reply unread for {self._limits.idle_timeout:g} s; "
                  "closed")
        return False


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
