"""The trio UDP transport: the only code that touches the node's sockets.

It drives one sans-IO endpoint (``pbxedge.iax2`` never does I/O, reads a clock or sleeps) the
way aioquic's asyncio adapter drives a QUIC connection, with these tasks per :meth:`UdpTransport.run`:

- **one receive loop per socket.**  It waits until the socket is readable, then *drains* it with
  non-blocking ``recvfrom_into`` calls, at most ``max_batch`` at a time, feeding each datagram to
  ``receive_datagram``.  There is no trio checkpoint per datagram: a burst of voice frames costs
  one wake-up.  After a full batch the loop goes back to waiting, which yields to other tasks.
  With ``coalesce`` set, a busy socket is read once per ``coalesce`` seconds instead of at
  every datagram, like a network card's interrupt moderation: two wake-ups less than
  ``coalesce`` apart switch the loop to draining once per ``coalesce`` (counted from the
  start of the last drain, so a drain that took longer is followed at once), and a drain
  that finds nothing switches it back to waiting for the socket.  A datagram then waits at most
  ``coalesce`` (plus the kernel's timer slack) and only while datagrams keep coming; a lone
  one is read at once.  A wake-up costs tens of µs of CPU on a virtual machine, several times
  what a datagram costs once awake, so at a few thousand datagrams a second this saves a
  node more CPU than anything else measured (see the README's "Capacity").
- **one timer task.**  It sleeps in a cancel scope whose deadline is the endpoint's
  ``get_timer()``, then calls ``handle_timer``.  Whenever the endpoint may have a new deadline
  (after a receive batch, a timer, or :meth:`UdpTransport.kick`), a sooner one is set on the
  scope in place; there is no task restart and no event to wake.  A later one waits: the
  task wakes at the old deadline, finds nothing due and sleeps again (``handle_timer`` is
  only called once ``get_timer()`` has passed).
- **one backlog task per socket**, idle unless the kernel's send buffer filled up.

After every receive batch, timer or :meth:`UdpTransport.kick`, the transport *flushes*: it sends
what ``datagrams_to_send`` returns (non-blocking ``sendto``; on ``EAGAIN`` the rest waits in a
bounded per-socket backlog until the socket is writable), hands each ``next_event()`` to the
caller's memory channel, and re-arms the timer.  A flush never blocks, so it runs
synchronously wherever it is needed.

A flush with several datagrams of one size for one destination (a busy peer's voice frames)
sends each run of them in one ``sendmsg`` with Linux's UDP segmentation offload
(``UDP_SEGMENT``): the kernel cuts them apart, in order, for a small part of the cost of one
system call each.  A socket whose path refuses it (``EIO``: no checksum offload on the
device) goes back to one ``sendto`` per datagram.  The datagrams on the wire are the same; a
capture on ``lo`` or on a card that segments itself shows a run as one large datagram, as it
shows TCP's segmentation offload.

Failures never stop the loops: an endpoint that raises on a datagram, a send that fails
(``ECONNREFUSED``, ``EMSGSIZE``, an address that is not an IP literal) and an event channel that
is full or closed are each counted in :attr:`UdpTransport.stats` and logged, rate-limited,
through the ``pbxedge.transport`` logger.

:meth:`UdpTransport.rebind` changes the bind addresses while running (a reload): sockets whose
address stays keep serving untouched, new ones are bound before anything is closed.

Every ``now`` given to the endpoint is ``trio.current_time()``, so tests can run the whole stack
on trio's ``MockClock``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import math
import socket
import struct
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from pbxedge.log import RateLimiter

__all__ = [
    "Address",
    "BindError",
    "SansIOEndpoint",
    "TransportStats",
    "UdpTransport",
    "format_address",
]

logger = logging.getLogger("pbxedge.transport")

Address = tuple[str, int]

# Large enough for any UDP payload, so a datagram is never truncated.
_RECEIVE_BUFFER_SIZE = 65536
# When the endpoint's handle_timer raises and leaves its deadline in the past, wait this long
# before calling it again instead of spinning on the same deadline.
_TIMER_RETRY_AFTER_ERROR = 0.05
# Seconds between two log lines about the same kind of problem.
_LOG_INTERVAL = 10.0
# Destinations whose address check is remembered; past this the memory starts over.
_ROUTES_KEPT = 4096
# Kernel receive buffer asked for (the kernel caps it at net.core.rmem_max): at 10 000
# voice datagrams a second (200 trunked calls, each way) the 208 kB default overflows when
# the loop is held up for ~20 ms; 2 MiB rides out ~200 ms.
_RECEIVE_BUFFER_BYTES = 2 << 20
# UDP segmentation offload (linux/udp.h; Python 3.11's socket module does not name it).
_UDP_SEGMENT = 103
_SEGMENT_SIZE = struct.Struct("=H")
# A destination gets its runs segmented when a flush has this many datagrams for it: fewer
# are not worth grouping (and most flushes of a quiet node stay plain sendto).
_SEGMENT_MIN = 4
_SEGMENTS_MAX = 64  # the kernel's UDP_MAX_SEGMENTS
_SEGMENTED_BYTES_MAX = 65_000  # one sendmsg is one IP datagram's payload before the cut
# Errors that mean the path cannot segment at all. EINVAL is this send's (a segment longer
# than the path's MTU): its run goes one datagram at a time, and the next may segment.
_NO_SEGMENTATION = frozenset({errno.EIO, errno.ENOPROTOOPT, errno.EOPNOTSUPP})


class SansIOEndpoint(Protocol):
    """What the transport needs from the protocol core (``pbxedge.iax2.endpoint``)."""

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None: ...

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]: ...

    def get_timer(self) -> float | None:
        """The earliest deadline, on the trio clock, or None when nothing is pending."""
        ...

    def handle_timer(self, now: float) -> None: ...

    def next_event(self) -> object | None: ...


class EventSink(Protocol):
    """Where endpoint events go: a trio memory channel, or a consumer that handles each
    event at once (and may call :meth:`UdpTransport.kick` while doing so)."""

    def send_nowait(self, value: object) -> None: ...


class BindError(OSError):
    """A bind address could not be used; the message names it."""

    def __init__(self, address: Address, code: int | None, reason: str) -> None:
        super().__init__(code, f"cannot bind UDP {format_address(address)}: {reason}")
        self.address = address


@dataclass(slots=True)
class TransportStats:
    """Counters since the transport was created."""

    datagrams_received: int = 0
    """Datagrams read from the sockets (including those the endpoint rejected)."""
    datagrams_rejected: int = 0
    """Datagrams on which the endpoint raised; each was dropped."""
    datagrams_sent: int = 0
    """Datagrams handed to the kernel."""
    datagrams_segmented: int = 0
    """Of those, datagrams handed over several to a system call (UDP segmentation offload)."""
    send_errors: int = 0
    """Datagrams dropped because sending failed or the address was unusable."""
    backlog_dropped: int = 0
    """Datagrams dropped because the send backlog of a full socket was itself full."""
    events_delivered: int = 0
    """Events put on the caller's channel."""
    events_dropped: int = 0
    """Events lost because the channel was full or closed."""
    endpoint_errors: int = 0
    """Exceptions raised by the endpoint outside ``receive_datagram``."""


@dataclass(eq=False, slots=True)
class _BoundSocket:
    sock: socket.socket
    local: Address
    requested: Address  # as configured (port 0 stays 0), what rebind compares
    backlog: deque[tuple[bytes, Address]] = field(default_factory=deque)
    backlog_waiting: trio.Event = field(default_factory=trio.Event)
    segmenting: bool = False  # UDP_SEGMENT, until the path refuses it
    # One per loop of the socket: rebind cancels them to retire it.
    scopes: tuple[trio.CancelScope, trio.CancelScope] = field(
        default_factory=lambda: (trio.CancelScope(), trio.CancelScope()))


def _can_segment(sock: socket.socket) -> bool:
    """Whether the kernel knows UDP_SEGMENT (Linux 4.18): an older one would ignore the
    control message and send a run as one large datagram, so it is asked first."""
    if sys.platform != "linux":
        return False
    try:
        sock.setsockopt(socket.SOL_UDP, _UDP_SEGMENT, 0)  # 0: no segmenting unless asked
    except OSError:
        return False
    return True


class UdpTransport:
    """Binds UDP sockets and drives a :class:`SansIOEndpoint` over them.

    Use it from a nursery; ``start`` returns once every socket is bound::

        send_events, receive_events = trio.open_memory_channel[object](1000)
        transport = UdpTransport(endpoint, [("0.0.0.0", 4569), ("::", 4569)], send_events)
        local_addresses = await nursery.start(transport.run)

    Cancelling the nursery stops the loops and closes the sockets.  The event channel stays
    open; it belongs to the caller.

    Outgoing datagrams leave through the socket that last heard from their destination, else
    through the first socket of the destination's address family.
    """

    def __init__(
        self,
        endpoint: SansIOEndpoint,
        bind_addresses: Sequence[Address],
        events: EventSink,
        *,
        tos: int | None = None,
        max_batch: int = 256,
        max_backlog: int = 4096,
        receive_buffer: int | None = None,
        coalesce: float = 0.0,
    ) -> None:
        """
        :param bind_addresses: ``(ip, port)`` pairs; IPv6 sockets are bound ``IPV6_V6ONLY`` so
            ``0.0.0.0`` and ``::`` can share a port.  Port 0 picks a free port.
        :param events: where each ``next_event()`` goes (``send_nowait``; a full channel drops
            the event, counts it and logs).
        :param tos: IP TOS byte (``IPV6_TCLASS`` on IPv6 sockets), e.g. ``0xB8`` for EF.
        :param max_batch: datagrams read per wake-up before yielding to other tasks.
        :param max_backlog: datagrams kept per socket while its send buffer is full.
        :param receive_buffer: ``SO_RCVBUF`` in bytes (the kernel caps it at
            ``net.core.rmem_max``); the default of about 200 KiB holds only a few tens of
            milliseconds of a busy node's audio, so a pause of the event loop loses voice.
        :param coalesce: seconds between drains of a busy socket (see the module's
            docstring); 0 reads every datagram as soon as it arrives.
        """
        if not bind_addresses:
            raise ValueError("at least one bind address is needed")
        if tos is not None and not 0 <= tos <= 0xFF:
            raise ValueError(f"tos must be a byte, not {tos}")
        if max_batch < 1 or max_backlog < 1:
            raise ValueError("max_batch and max_backlog must be positive")
        if not 0 <= coalesce < 1:
            raise ValueError(f"coalesce must be in [0, 1) seconds, not {coalesce}")
        self._endpoint = endpoint
        self._bind_addresses = list(bind_addresses)
        self._events = events
        self._tos = tos
        self._max_batch = max_batch
        self._max_backlog = max_backlog
        self._receive_buffer = receive_buffer
        self._coalesce = coalesce
        self._bound: list[_BoundSocket] = []
        self._by_family: dict[int, _BoundSocket] = {}
        # Destinations already checked to be IP literals, and the socket that serves each.
        self._routes: dict[Address, _BoundSocket] = {}
        self._nursery: trio.Nursery | None = None
        self._timer_scope: trio.CancelScope | None = None
        self._armed = math.inf  # the deadline of _timer_scope
        self._timer_floor = -math.inf
        self._flushing = False
        self._flush_again = False
        self._draining_soon = 0  # receive loops that drain and flush within `coalesce`
        self._log_limiter = RateLimiter(_LOG_INTERVAL, clock=trio.current_time)
        self.stats = TransportStats()

    # ------------------------------------------------------------------ public API

    @property
    def local_addresses(self) -> list[Address]:
        """The addresses actually bound (ports resolved), while running."""
        return [bound.local for bound in self._bound]

    @property
    def endpoint(self) -> SansIOEndpoint:
        """What the loops drive; it may be replaced while running (by a wrapper that
        shows frames, and back), the next batch or timer uses the new one."""
        return self._endpoint

    @endpoint.setter
    def endpoint(self, endpoint: SansIOEndpoint) -> None:
        self._endpoint = endpoint

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The bound sockets, while running (for diagnostics; do not read from them)."""
        return tuple(bound.sock for bound in self._bound)

    async def run(
        self, *, task_status: trio.TaskStatus[list[Address]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind, report the bound addresses, then serve until cancelled.

        :raises BindError: when an address cannot be bound (nothing stays bound).
        """
        if self._bound:
            raise RuntimeError("this transport is already running")
        self._bound = self._bind_all(self._bind_addresses)
        self._index_families()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for bound in self._bound:
                    self._serve_socket(bound)
                nursery.start_soon(self._timer_loop)
                # The endpoint may have queued datagrams (registrations, POKEs) before we ran.
                self._flush()
                task_status.started(self.local_addresses)
        finally:
            self._nursery = None
            for bound in self._bound:
                _close(bound)
            self._bound = []
            self._by_family = {}
            self._routes = {}
            self._timer_scope = None

    def rebind(self, bind_addresses: Sequence[Address]) -> tuple[list[Address], list[Address]]:
        """Serve *bind_addresses* from now on; returns the local addresses (added, removed).

        A socket whose address is still wanted keeps serving, so the calls on it go on;
        the new ones are all bound before any old one is closed, and when one cannot be,
        nothing changes (:class:`BindError`). Before :meth:`run` only the list changes.
        """
        if not bind_addresses:
            raise ValueError("at least one bind address is needed")
        wanted = list(dict.fromkeys(bind_addresses))
        if self._nursery is None:
            self._bind_addresses = wanted
            return [], []
        kept = {bound.requested: bound for bound in self._bound if bound.requested in wanted}
        added = self._bind_all([address for address in wanted if address not in kept])
        removed = [bound for bound in self._bound if bound.requested not in wanted]
        for bound in removed:
            _close(bound)
        fresh = iter(added)
        self._bound = [kept[address] if address in kept else next(fresh) for address in wanted]
        self._bind_addresses = wanted
        self._index_families()
        gone = set(removed)
        self._routes = {addr: bound for addr, bound in self._routes.items() if bound not in gone}
        for bound in added:
            self._serve_socket(bound)
        if removed:
            self.kick()  # a closed socket's loop may have been left a kick_soon() to flush
        return [bound.local for bound in added], [bound.local for bound in removed]

    def set_tos(self, tos: int) -> None:
        """Mark what every socket sends from now on (``tos`` on reload; 0 is unmarked)."""
        self._tos = tos or None
        for bound in self._bound:
            self._apply_tos(bound, tos)

    def kick(self) -> None:
        """Send what the endpoint has queued and re-arm its timer.

        Call it (from the trio thread) after giving the endpoint a command, such as placing a
        call.  Before :meth:`run` has bound the sockets it does nothing: ``run`` flushes first.
        """
        if self._bound:
            self._flush()

    def kick_soon(self) -> None:
        """:meth:`kick`, or, while a receive loop is coalescing or has more to read, its
        next flush (within the coalescing interval): what a node's tasks use.

        On a busy node the calls answer, hang up and send voice from their own tasks; one
        flush after the next drain, for all of them, costs one ``datagrams_to_send`` and
        timer check instead of one each, and their datagrams to one peer leave as one
        segmented send. Datagrams out wait no longer than datagrams in already do.
        """
        if not self._draining_soon:
            self.kick()

    # ------------------------------------------------------------------ binding

    def _index_families(self) -> None:
        """Outgoing datagrams leave through the first socket of their family."""
        self._by_family = {}
        for bound in reversed(self._bound):
            self._by_family[bound.sock.family] = bound

    def _bind_all(self, addresses: Sequence[Address]) -> list[_BoundSocket]:
        bound: list[_BoundSocket] = []
        try:
            for address in addresses:
                bound.append(self._bind_one(address))
        except BaseException:
            for done in bound:
                done.sock.close()
            raise
        return bound

    def _bind_one(self, address: Address) -> _BoundSocket:
        host, port = address
        try:
            version = ipaddress.ip_address(host).version
        except ValueError:
            raise BindError(address, errno.EINVAL, "not an IP address") from None
        if not 0 <= port <= 0xFFFF:
            raise BindError(address, errno.EINVAL, "port out of range")
        family = socket.AF_INET6 if version == 6 else socket.AF_INET
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError as exc:
            raise BindError(address, exc.errno, exc.strerror or str(exc)) from exc
        try:
            if family == socket.AF_INET6:
                # One socket per family: without V6ONLY, "::" would also take IPv4 traffic and
                # collide with the "0.0.0.0" socket on the same port.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setblocking(False)
            # A larger receive buffer absorbs bursts (200 trunked calls' audio in one tick);
            # a size given to the transport replaces it.
            with contextlib.suppress(OSError):  # only an optimisation
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                self._receive_buffer or _RECEIVE_BUFFER_BYTES)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise BindError(address, exc.errno, exc.strerror or str(exc)) from exc
        local = sock.getsockname()
        bound = _BoundSocket(sock, (str(local[0]), int(local[1])), (host, port),
                             segmenting=_can_segment(sock))
        if self._tos is not None:
            self._apply_tos(bound, self._tos)
        return bound

    def _apply_tos(self, bound: _BoundSocket, tos: int) -> None:
        if bound.sock.family == socket.AF_INET6:
            level, option = socket.IPPROTO_IPV6, socket.IPV6_TCLASS
        else:
            level, option = socket.IPPROTO_IP, socket.IP_TOS
        try:
            bound.sock.setsockopt(level, option, tos)
        except OSError as exc:
            # Marking is an optimisation; the node still works unmarked.
            logger.warning("cannot set tos 0x%02x on %s: %s", tos, format_address(bound.local), exc)

    # ------------------------------------------------------------------ loops

    def _serve_socket(self, bound: _BoundSocket) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(self._receive_loop, bound)
        self._nursery.start_soon(self._backlog_loop, bound)

    async def _receive_loop(self, bound: _BoundSocket) -> None:
        with bound.scopes[0]:
            await self._receive(bound)

    async def _receive(self, bound: _BoundSocket) -> None:
        buffer = bytearray(_RECEIVE_BUFFER_SIZE)
        view = memoryview(buffer)
        sock = bound.sock
        stats = self.stats
        coalesce = self._coalesce
        busy = False  # draining every `coalesce` seconds rather than at each datagram
        full = False  # the last drain stopped at max_batch: more is waiting
        last_wake = -math.inf
        while True:
            if busy or full:
                # The interval runs from the last wake-up, so a drain that took longer is
                # followed at once: a saturated node never sleeps. Meanwhile kick_soon()
                # leaves its flush to this drain.
                wake_at = last_wake + coalesce if busy else -math.inf
                self._draining_soon += 1
                try:
                    if trio.current_time() < wake_at:
                        await trio.sleep_until(wake_at)
                    else:
                        await trio.lowlevel.checkpoint()
                finally:
                    self._draining_soon -= 1
            else:
                await trio.lowlevel.wait_readable(sock)
            # Read per batch: the endpoint may be swapped (see :attr:`endpoint`).
            receive = self._endpoint.receive_datagram
            # One clock reading per batch: the datagrams of a batch arrived together.
            now = trio.current_time()
            # With several sockets, what goes back to a peer leaves through the socket that
            # heard it (the one the peer addresses); with one there is nothing to choose.
            routes = self._routes if len(self._bound) > 1 else None
            count = 0
            for _ in range(self._max_batch):
                try:
                    size, source = sock.recvfrom_into(buffer)
                except BlockingIOError:
                    break
                except OSError as exc:
                    # A queued socket error (ICMP) is consumed by reporting it; read on.
                    self._warn("receive", "receive error on %s: %s", format_address(bound.local), exc)
                    continue
                count += 1
                if len(source) != 2:
                    # IPv6 sources are (host, port, flowinfo, scope_id); the endpoint keys on
                    # (host, port).
                    source = (source[0], source[1])
                if routes is not None and routes.get(source) is not bound:
                    self._learn_route(source, bound)
                try:
                    receive(bytes(view[:size]), source, now)
                except Exception:
                    self._rejected(size, source)
            stats.datagrams_received += count
            # Busy while drains find datagrams; a full batch means more is waiting, so the
            # next drain comes at the next checkpoint rather than after a sleep.
            full = count == self._max_batch
            busy = count > 0 and not full and (busy or now - last_wake < coalesce)
            last_wake = now
            self._flush()

    async def _backlog_loop(self, bound: _BoundSocket) -> None:
        with bound.scopes[1]:
            await self._send_backlogs(bound)

    async def _send_backlogs(self, bound: _BoundSocket) -> None:
        while True:
            await bound.backlog_waiting.wait()
            bound.backlog_waiting = trio.Event()
            while bound.backlog:
                await trio.lowlevel.wait_writable(bound.sock)
                self._send_backlog(bound)

    async def _timer_loop(self) -> None:
        while True:
            self._armed = self._wanted_deadline()
            with trio.CancelScope(deadline=self._armed) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            self._timer_scope = None
            now = trio.current_time()
            if self._wanted_deadline() > now:
                continue  # the deadline moved later since it was armed (see _flush)
            try:
                self._endpoint.handle_timer(now)
            except Exception:
                self.stats.endpoint_errors += 1
                self._timer_floor = now + _TIMER_RETRY_AFTER_ERROR
                self._warn("timer", "endpoint raised in handle_timer", exc_info=True)
            else:
                self._timer_floor = -math.inf
            self._flush()

    # ------------------------------------------------------------------ steps

    def _rejected(self, size: int, source: Address) -> None:
        self.stats.datagrams_rejected += 1
        self._warn(
            f"datagram from {source[0]}",
            "dropped a %d-byte datagram from %s: the endpoint raised",
            size,
            format_address(source),
            exc_info=True,
        )

    def _flush(self) -> None:
        if self._flushing:
            # kick() from an event consumer that runs inside _drain_events: the loop below
            # goes round once more instead of recursing once per event.
            self._flush_again = True
            return
        self._flushing = True
        try:
            self._flush_again = True
            while self._flush_again:
                self._flush_again = False
                # Events first (the endpoint's driver contract): a consumer that answers at
                # once (REGAUTH for a REGREQ…) makes its reply carry the ACK the endpoint
                # owes, instead of a lone ACK going out before it.
                self._drain_events()
                self._send_output()
        finally:
            self._flushing = False
        scope = self._timer_scope
        if scope is not None:
            # Only a sooner deadline re-arms the timer now. Moving a trio deadline costs
            # more than the flush itself, and on a busy node the earliest deadline moves a
            # little later with nearly every exchange (its oldest retransmission is
            # acknowledged); the timer wakes at the old one instead, sees that nothing is
            # due yet and re-arms, without calling handle_timer.
            wanted = self._wanted_deadline()
            if wanted < self._armed:
                scope.deadline = self._armed = wanted

    def _send_output(self) -> None:
        try:
            outgoing = self._endpoint.datagrams_to_send(trio.current_time())
        except Exception:
            self.stats.endpoint_errors += 1
            self._warn("output", "endpoint raised in datagrams_to_send", exc_info=True)
            outgoing = []
        if len(outgoing) >= _SEGMENT_MIN:
            outgoing = self._send_segmented(outgoing)
        routes = self._routes
        sent = 0
        for data, destination in outgoing:
            bound = routes.get(destination)
            if bound is None or bound.backlog:
                self._send(data, destination)  # a new destination, or a backlog to queue behind
                continue
            # The common case inline: a datagram costs one sendto and no Python call.
            try:
                bound.sock.sendto(data, destination)
            except BlockingIOError:
                self._queue(bound, data, destination)
            except (OSError, TypeError, OverflowError) as exc:
                self.stats.send_errors += 1
                self._warn(f"send to {destination[0]}", "send to %s failed: %s",
                           format_address(destination), exc)
            else:
                sent += 1
        self.stats.datagrams_sent += sent

    def _send_segmented(self, outgoing: list[tuple[bytes, Address]]) -> list[tuple[bytes, Address]]:
        """Send everything for each destination that has at least ``_SEGMENT_MIN`` datagrams,
        runs of one size segmented; return the rest, in order, for one ``sendto`` each."""
        by_destination: dict[Address, list[bytes]] = {}
        for data, destination in outgoing:
            datagrams = by_destination.get(destination)
            if datagrams is None:
                by_destination[destination] = [data]
            else:
                datagrams.append(data)
        if len(by_destination) == len(outgoing):
            return outgoing  # every datagram to its own destination
        rest: list[tuple[bytes, Address]] = []
        for destination, datagrams in by_destination.items():
            bound = None
            if len(datagrams) >= _SEGMENT_MIN:
                with contextlib.suppress(ValueError, TypeError, OSError):
                    bound = self._socket_for(destination)  # else _send reports the address
            if bound is None or not bound.segmenting:
                rest.extend((data, destination) for data in datagrams)
            else:
                self._send_runs(bound, destination, datagrams)
        return rest

    def _send_runs(self, bound: _BoundSocket, destination: Address, datagrams: list[bytes]) -> None:
        """*datagrams* in order: each run of one size in one ``sendmsg``, a lone one by itself."""
        start, count = 0, len(datagrams)
        while start < count:
            size = len(datagrams[start])
            limit = min(count, start + _SEGMENTS_MAX, start + _SEGMENTED_BYTES_MAX // max(size, 1))
            end = start + 1
            while end < limit and len(datagrams[end]) == size:
                end += 1
            run = datagrams[start:end]
            start = end
            if len(run) == 1 or bound.backlog or not bound.segmenting:
                for data in run:
                    self._send_through(bound, data, destination)
                continue
            try:
                bound.sock.sendmsg([b"".join(run)],
                                   [(socket.SOL_UDP, _UDP_SEGMENT, _SEGMENT_SIZE.pack(size))],
                                   0, destination)
            except BlockingIOError:
                for data in run:
                    self._queue(bound, data, destination)
            except OSError as exc:
                if exc.errno in _NO_SEGMENTATION:
                    bound.segmenting = False
                    logger.warning("%s cannot segment UDP (%s); one send per datagram",
                                   format_address(bound.local), exc)
                for data in run:
                    self._send_through(bound, data, destination)
            else:
                self.stats.datagrams_sent += len(run)
                self.stats.datagrams_segmented += len(run)

    def _send(self, data: bytes, destination: Address) -> None:
        try:
            bound = self._socket_for(destination)
        except (ValueError, TypeError, OSError) as exc:
            self.stats.send_errors += 1
            self._warn("address", "cannot send to %r: %s", destination, exc)
            return
        self._send_through(bound, data, destination)

    def _send_through(self, bound: _BoundSocket, data: bytes, destination: Address) -> None:
        if bound.backlog:
            # Keep order: older datagrams are still waiting for the socket.
            self._queue(bound, data, destination)
            return
        try:
            bound.sock.sendto(data, destination)
        except BlockingIOError:
            self._queue(bound, data, destination)
        except (OSError, TypeError, OverflowError) as exc:
            # OverflowError/TypeError: a port or payload the endpoint should never have produced.
            self.stats.send_errors += 1
            self._warn(f"send to {destination[0]}", "send to %s failed: %s",
                       format_address(destination), exc)
        else:
            self.stats.datagrams_sent += 1

    def _socket_for(self, destination: Address) -> _BoundSocket:
        bound = self._routes.get(destination)
        if bound is not None:
            return bound
        host, _port = destination
        # Only IP literals: a host name would make sendto() resolve it, blocking the loop.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        socket.inet_pton(family, host.partition("%")[0])
        bound = self._by_family.get(family)
        if bound is None:
            raise ValueError("no socket of that address family is bound")
        if len(self._routes) >= _ROUTES_KEPT:
            self._routes.clear()
        self._routes[destination] = bound
        return bound

    def _learn_route(self, source: Address, bound: _BoundSocket) -> None:
        if len(self._routes) >= _ROUTES_KEPT:
            self._routes.clear()
        self._routes[source] = bound

    def _queue(self, bound: _BoundSocket, data: bytes, destination: Address) -> None:
        if len(bound.backlog) >= self._max_backlog:
            self.stats.backlog_dropped += 1
            self._warn("backlog", "send backlog of %s is full; dropping datagrams",
                       format_address(bound.local))
            return
        bound.backlog.append((data, destination))
        bound.backlog_waiting.set()

    def _send_backlog(self, bound: _BoundSocket) -> None:
        while bound.backlog:
            data, destination = bound.backlog[0]
            try:
                bound.sock.sendto(data, destination)
            except BlockingIOError:
                return
            except OSError as exc:
                self.stats.send_errors += 1
                self._warn(f"send to {destination[0]}", "send to %s failed: %s",
                           format_address(destination), exc)
            else:
                self.stats.datagrams_sent += 1
            bound.backlog.popleft()

    def _drain_events(self) -> None:
        while True:
            try:
                event = self._endpoint.next_event()
            except Exception:
                self.stats.endpoint_errors += 1
                self._warn("events", "endpoint raised in next_event", exc_info=True)
                return
            if event is None:
                return
            try:
                self._events.send_nowait(event)
            except trio.WouldBlock:
                self.stats.events_dropped += 1
                self._warn("event-full", "event channel full; dropped %r", event)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.stats.events_dropped += 1
                self._warn("event-closed", "event channel closed; dropped %r", event)
            else:
                self.stats.events_delivered += 1

    def _wanted_deadline(self) -> float:
        try:
            deadline = self._endpoint.get_timer()
        except Exception:
            self.stats.endpoint_errors += 1
            self._warn("get-timer", "endpoint raised in get_timer", exc_info=True)
            return trio.current_time() + _TIMER_RETRY_AFTER_ERROR
        if deadline is None:
            return math.inf
        if math.isnan(deadline):
            self.stats.endpoint_errors += 1
            self._warn("get-timer", "endpoint returned a NaN deadline; ignored")
            return math.inf
        return max(deadline, self._timer_floor)

    def _warn(self, key: str, message: str, *args: object, exc_info: bool = False) -> None:
        """Log at most one warning per ``key`` per interval; keys that name a peer keep one
        noisy peer from hiding the others."""
        allowed, held_back = self._log_limiter.allow(key)
        if not allowed:
            return
        if held_back:
            message += f" ({held_back} similar messages suppressed)"
        logger.warning(message, *args, exc_info=exc_info)


def _close(bound: _BoundSocket) -> None:
    # Cancelled first, so its loops wake up cancelled rather than on a closed socket.
    for scope in bound.scopes:
        scope.cancel()
    trio.lowlevel.notify_closing(bound.sock)
    bound.sock.close()


def format_address(address: Address) -> str:
    """``127.0.0.1:4569`` or ``[::1]:4569``, the way Asterisk prints socket addresses."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
