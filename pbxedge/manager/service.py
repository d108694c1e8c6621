"""The manager interface as a node service: the TCP listener, its sessions, and the node's
events turned into manager text once each and offered to every session."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import trio

from pbxedge import log
from pbxedge.control.registry import CommandRegistry
from pbxedge.events import EventBus, FullyBooted, NodeEvent, Reload
from pbxedge.manager.actions import CORE_ACTIONS
from pbxedge.manager.config import ManagerConfig
from pbxedge.manager.iax_actions import IAX_ACTIONS
from pbxedge.manager.originate import ORIGINATE_ACTIONS
from pbxedge.manager.permissions import bit
from pbxedge.manager.render import render
from pbxedge.manager.session import ManagerState, Session
from pbxedge.manager.state import ManagerContext

__all__ = ["SEND_BUFFER_BYTES", "ManagerService"]

# The kernel's send buffer of each connection (Linux doubles it): bounded, so that a
# client that stops reading fills it soon and is dropped by the write timeout instead of
# parking megabytes in the kernel; ample for any client that reads.
SEND_BUFFER_BYTES = 64 * 1024


class ManagerService:
    """Asterisk Manager Interface on TCP (manager.conf ``enabled=yes``)."""

    name = "manager"

    def __init__(self, config: ManagerConfig, bus: EventBus, context: ManagerContext) -> None:
        self.state = ManagerState(config, context, bus)
        for action in (*CORE_ACTIONS, *ORIGINATE_ACTIONS, *IAX_ACTIONS):
            self.state.actions[action.name.lower()] = action
        self.addresses: list[tuple[str, int]] = []  # where it listens, once running
        self._unsubscribe: Callable[[], None] | None = None

    def register_commands(self, registry: CommandRegistry) -> None:
        """No console commands of its own (yet)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        config = self.state.config
        try:
            listeners = await trio.open_tcp_listeners(config.port, host=config.bindaddr)
        except OSError as exc:
            # As Asterisk: the node runs on without its manager interface.
            log.error(f"Manager interface cannot listen on {config.bindaddr or '*'}:"
                      f"{config.port}: {exc.strerror or exc}")
            task_status.started()
            return
        self.addresses = [listener.socket.getsockname()[:2] for listener in listeners]
        self._unsubscribe = self.state.bus.subscribe(self._on_event)
        try:
            async with trio.open_nursery() as nursery:
                self.state.tasks = nursery
                await nursery.start(trio.serve_listeners, self._serve, listeners)
                log.verbose(1, "Manager interface listening on "
                            + ", ".join(f"{host}:{port}" for host, port in self.addresses))
                task_status.started()
        finally:
            self._unsubscribe()
            self.state.tasks = None

    async def stop(self) -> None:
        """Nothing to finish: sessions are simply closed with the node."""

    def reconfigure(self, config: ManagerConfig) -> list[str]:
        """A reloaded manager.conf: users, filters and [general] options apply to new
        logins and events; the listener itself changes at the next start."""
        old, self.state.config = self.state.config, config
        changes = [f"manager users: {len(config.users)}"]
        if (config.enabled, config.port, config.bindaddr) != (old.enabled, old.port,
                                                              old.bindaddr):
            changes.append("manager: enabled, port and bindaddr change at the next start")
        return changes

    async def _serve(self, stream: trio.SocketStream) -> None:
        state = self.state
        try:
            if state.unauthenticated() >= state.config.authlimit:
                await trio.aclose_forcefully(stream)
                return
            remote = stream.socket.getpeername()[0]
            stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            await Session(state, stream, remote).run()
        except OSError as exc:  # the client left before it was served
            log.debug(f"manager connection lost at once: {exc}")
            await trio.aclose_forcefully(stream)

    def _on_event(self, event: NodeEvent) -> None:
        state = self.state
        state.channels.before(event)
        if isinstance(event, FullyBooted):
            state.booted = True
        elif isinstance(event, Reload) and event.status == 0:
            state.reloaded = time.time()
        mask = bit(event.category)
        readers = [session for session in state.listening if session.wants(mask)]
        if readers:
            text = render(event, state.channels, timestamp=state.config.timestampevents,
                          channelvars=state.config.channelvars)
            data = text.encode()
            for session in readers:
                session.offer(event.name, text, data)
        state.channels.after(event)
