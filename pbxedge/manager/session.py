"""One manager connection, and the state all connections share.

A session reads messages and runs their actions one after the other, as Asterisk's session
thread does; what it sends (responses and events) goes through a queue that a writer task
empties. Events that come while an action runs follow its reply, as in Asterisk (the Reload
event after ``Module Reloaded``). Nothing the node does ever waits for a client: an event is offered to every
session (:meth:`Session.offer`) and only appended to the queues of those allowed to read
it. A client that stops reading is dropped, never waited for: when one write stays blocked
longer than the user's ``writetimeout`` (Asterisk's rule), or when its queue holds more
than :data:`MAX_QUEUED_BYTES` (what a burst may leave waiting within that time).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from pbxedge import log
from pbxedge.events import EventBus
from pbxedge.manager.channels import LiveChannels
from pbxedge.manager.config import ManagerConfig, ManagerUser
from pbxedge.manager.filters import allowed
from pbxedge.manager.permissions import ALL
from pbxedge.manager.state import ManagerContext
from pbxedge.manager.wire import BANNER, Message, MessageReader, OversizedMessage, response

__all__ = ["MAX_QUEUED_BYTES", "Action", "Handler", "ManagerState", "Session"]

logger = logging.getLogger("pbxedge.manager")

# What may wait for one client: a dialplan loop can publish a burst of events in one go
# (the queues hold the same bytes objects, so this bounds time behind, not memory).
MAX_QUEUED_BYTES = 4 << 20
_SEND_PIECE = 1 << 16  # each piece of a write must leave within the write timeout
_RECEIVE_SIZE = 4096
_DEFAULT_WRITETIMEOUT_MS = 100  # before login, as for a user without writetimeout
# Before login only these may run (process_message).
_BEFORE_LOGIN = ("login", "logoff", "challenge")

Handler = Callable[["Session", Message], Awaitable[bool]]


@dataclass(frozen=True)
class Action:
    """A manager action: its handler returns False when the session must end."""

    name: str
    handler: Handler
    synopsis: str
    privilege: int = 0  # write classes, any one of which allows it; 0: everyone


@dataclass
class ManagerState:
    """What every session shares."""

    config: ManagerConfig
    context: ManagerContext
    bus: EventBus
    actions: dict[str, Action] = field(default_factory=dict)  # by lowercase name
    channels: LiveChannels = field(default_factory=LiveChannels)
    sessions: set[Session] = field(default_factory=set)
    listening: set[Session] = field(default_factory=set)  # logged in, with events on
    started: float = field(default_factory=time.time)
    reloaded: float = field(default_factory=time.time)
    booted: bool = False
    tasks: trio.Nursery | None = None  # where originated calls run

    def unauthenticated(self) -> int:
        return sum(1 for session in self.sessions if session.user is None)


class Session:
    def __init__(self, state: ManagerState, stream: trio.SocketStream, remote: str) -> None:
        self.state = state
        self.stream = stream
        self.remote = remote
        self.user: ManagerUser | None = None
        self.read = 0
        self.write = 0
        self.send_events = ALL  # the Events of Login / the Events action
        self.challenge = ""
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._writing = False
        self._nursery: trio.Nursery | None = None
        # Events that came while an action ran: sent after its reply, as Asterisk does.
        self._held: list[bytes] | None = None
        self._held_bytes = 0
        self._scope = trio.CancelScope()
        self._auth_scope = trio.CancelScope(
            deadline=trio.current_time() + state.config.authtimeout)

    # -- what the node and the actions call ----------------------------------------------

    @property
    def name(self) -> str:
        return self.user.name if self.user is not None else ""

    def wants(self, mask: int) -> bool:
        """Whether events of class *mask* are for this session (``process_events``)."""
        return (self.user is not None and self.read & mask == mask
                and self.send_events & mask == mask)

    def offer(self, event: str, text: str, data: bytes) -> None:
        """An event this session may read: sent unless its user's filters keep it out."""
        assert self.user is not None
        if not allowed(self.user.filters, event, text):
            return
        if self._held is None:
            self.send(data)
        elif self._queued + self._held_bytes + len(data) > MAX_QUEUED_BYTES:
            self.drop(f"more than {MAX_QUEUED_BYTES} bytes waiting")
        else:
            self._held.append(data)
            self._held_bytes += len(data)

    def send(self, data: bytes) -> None:
        """Queue *data*; never waits."""
        if self._scope.cancel_called:
            return
        if self._queued + len(data) > MAX_QUEUED_BYTES:
            self.drop(f"more than {MAX_QUEUED_BYTES} bytes waiting")
            return
        self._queue.append(data)
        self._queued += len(data)
        if not self._writing and self._nursery is not None:
            # A writer runs only while there is something to write: an idle session is
            # one task, not two.
            self._writing = True
            self._nursery.start_soon(self._write_loop)

    def drop(self, reason: str) -> None:
        log.notice(f"Manager '{self.name}' from {self.remote} dropped: {reason}")
        self._scope.cancel()

    def logged_in(self, user: ManagerUser, events: int) -> None:
        self.user = user
        self.read, self.write = user.read, user.write
        self._auth_scope.deadline = math.inf
        self.set_events(events)

    def set_events(self, mask: int) -> None:
        """The classes of events the client asked for (only idle ones cost nothing)."""
        self.send_events = mask
        if self.read & mask:
            self.state.listening.add(self)
        else:
            self.state.listening.discard(self)

    # -- the connection ------------------------------------------------------------------

    async def run(self) -> None:
        self.state.sessions.add(self)
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self.send(BANNER)
                    with self._auth_scope:
                        await self._read_loop()
                    # Logoff, a refused login or the client's EOF: the nursery waits for the
                    # writer to send what is queued, then the connection closes.
        finally:
            self._nursery = None
            self.state.sessions.discard(self)
            self.state.listening.discard(self)
            await trio.aclose_forcefully(self.stream)
            if self.user is not None and self.displayconnects():
                log.verbose(2, f"Manager '{self.user.name}' logged off from {self.remote}")

    def displayconnects(self) -> bool:
        """Whether this user's logins and logoffs are logged."""
        assert self.user is not None
        chosen = self.user.displayconnects
        return self.state.config.displayconnects if chosen is None else chosen

    async def _read_loop(self) -> None:
        reader = MessageReader()
        while True:
            try:
                data = await self.stream.receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            try:
                messages = reader.feed(data)
            except OversizedMessage as exc:
                log.warning(f"Manager client {self.remote} sent {exc}; closing")
                return
            for message in messages:
                if not await self._process(message):
                    return

    async def _process(self, message: Message) -> bool:
        action = message.action
        if not action:
            self.send(response(message, "Error", "Missing action in request"))
            return True
        spec = self.state.actions.get(action.lower())
        if self.user is None and action.lower() not in _BEFORE_LOGIN:
            self.send(response(message, "Error", "Permission denied"))
            return True
        if spec is None:
            self.send(response(message, "Error", f"Invalid/unknown command: {action}. Use "
                                                 "Action: ListCommands to show available "
                                                 "commands."))
            return True
        if spec.privilege and not self.write & spec.privilege:
            self.send(response(message, "Error", "Permission denied"))
            return True
        self._held = []
        try:
            return await spec.handler(self, message)
        except Exception:  # a broken action must not take the session or the node down
            logger.exception("Manager action %s from %s failed", spec.name, self.remote)
            self.send(response(message, "Error", f"{spec.name} failed"))
            return True
        finally:
            held, self._held, self._held_bytes = self._held, None, 0
            for data in held:
                self.send(data)

    async def _write_loop(self) -> None:
        try:
            while self._queue:
                data = b"".join(self._queue)
                self._queue.clear()
                self._queued = 0
                if not await self._write(data):
                    return
        finally:
            self._writing = False

    async def _write(self, data: bytes) -> bool:
        user = self.user
        timeout = (user.writetimeout_ms if user else _DEFAULT_WRITETIMEOUT_MS) / 1000
        for start in range(0, len(data), _SEND_PIECE):
            with trio.move_on_after(timeout) as waited:
                try:
                    await self.stream.send_all(data[start:start + _SEND_PIECE])
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._scope.cancel()
                    return False
            if waited.cancelled_caught:
                self.drop(f"it stopped reading (a write waited {timeout * 1000:.0f} ms)")
                return False
        return True
