"""The metrics endpoint: ``GET /metrics`` over HTTP/1.1, served in the node's trio loop.

``prometheus_client``'s own servers run in threads, where a scrape would read the calls'
state while the trio loop changes it; here the scrape runs between two trio steps instead.
h11 does the HTTP. Each connection gets one answer and is closed; a client that sends
nothing usable within :data:`CLIENT_TIMEOUT` seconds is dropped, and at most
:data:`MAX_CLIENTS` are served at once (more are closed at once), so a scraper gone wrong
costs the node nothing.
"""

from __future__ import annotations

import h11
import trio
from prometheus_client import generate_latest

from pbxedge import log
from pbxedge.config.iax_models import BindAddr
from pbxedge.control.registry import CommandRegistry
from pbxedge.metrics.collector import NodeMetrics
from pbxedge.transport import format_address

__all__ = ["CLIENT_TIMEOUT", "MAX_CLIENTS", "MetricsService"]

CLIENT_TIMEOUT = 10.0
MAX_CLIENTS = 8
# The exposition format generate_latest writes (Prometheus text 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PATHS = (b"/metrics", b"/")


class MetricsService:
    """A node service; ``address`` None serves nothing until a reload gives one."""

    name = "metrics"

    def __init__(self, metrics: NodeMetrics, address: BindAddr | None) -> None:
        self.metrics = metrics
        self._address = _pair(address)
        self._changed = trio.Event()
        self._slots = trio.CapacityLimiter(MAX_CLIENTS)
        self.local_address: tuple[str, int] | None = None

    def register_commands(self, registry: CommandRegistry) -> None:
        """None: the endpoint is for Prometheus, not for the console."""

    def reconfigure(self, address: BindAddr | None) -> list[str]:
        """Serve on *address* from now on (a reload); the listener moves at once."""
        wanted = _pair(address)
        if wanted == self._address:
            return []
        self._address = wanted
        self._changed.set()
        return [f"metrics endpoint: {format_address(wanted) if wanted else 'off'}"]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self._changed = trio.Event()
            async with trio.open_nursery() as nursery:
                if self._address is not None:
                    nursery.start_soon(self._listen, self._address)
                await self._changed.wait()
                nursery.cancel_scope.cancel()

    async def stop(self) -> None:
        """Nothing to finish: a scrape cut off is retried by Prometheus."""

    async def _listen(self, address: tuple[str, int]) -> None:
        host, port = address
        try:
            listeners = await trio.open_tcp_listeners(port, host=host)
        except OSError as exc:
            log.error(f"cannot serve metrics on {format_address(address)}: "
                      f"{exc.strerror or exc}")
            return
        self.local_address = listeners[0].socket.getsockname()[:2]
        log.notice(f"Serving metrics on http://{format_address(address)}/metrics")
        try:
            await trio.serve_listeners(self._serve, listeners)
        finally:
            self.local_address = None

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            try:
                self._slots.acquire_nowait()
            except trio.WouldBlock:
                return  # too many at once: this one is closed unanswered
            try:
                with trio.move_on_after(CLIENT_TIMEOUT):
                    await self._answer(stream)
            except (trio.BrokenResourceError, h11.ProtocolError):
                pass  # the client went away or spoke no HTTP
            finally:
                self._slots.release()

    async def _answer(self, stream: trio.SocketStream) -> None:
        connection = h11.Connection(h11.SERVER)
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await stream.receive_some(4096))
                continue
            if not isinstance(event, h11.Request):
                return  # closed before a request
            break
        if event.method not in (b"GET", b"HEAD"):
            status, body = 405, b"only GET\n"
        elif event.target.split(b"?")[0] not in _PATHS:
            status, body = 404, b"metrics are at /metrics\n"
        else:
            status, body = 200, generate_latest(self.metrics.registry)
        content_type = CONTENT_TYPE if status == 200 else "text/plain; charset=utf-8"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
                   ("Connection", "close")]
        data = connection.send(h11.Response(status_code=status, headers=headers)) or b""
        if event.method != b"HEAD":
            data += connection.send(h11.Data(data=body)) or b""
        data += connection.send(h11.EndOfMessage()) or b""
        await stream.send_all(data)


def _pair(address: BindAddr | None) -> tuple[str, int] | None:
    return (address.host, address.port) if address is not None else None
