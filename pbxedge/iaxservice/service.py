"""One IAX2 endpoint behind the node's UDP socket(s), and the routing of its events.

The endpoint (sans-IO) says *what* happened; this module only decides *who* hears it:

- a NEW/REGREQ/REGREL that opened a call goes to the handler registered for its subclass
  (:meth:`IaxService.on_request`);
- every later event of a call goes to the handler that owns that call number
  (:meth:`IaxService.own`), which is how inbound calls, dials, registrations and pokes each
  see only their own frames.

Handlers run synchronously, inside the transport's flush, before it sends what the endpoint
queued; whatever must wait (a dialplan, a 1 s ``delayreject``) is started in
:attr:`IaxService.nursery`.  The transport sends the replies and re-arms the endpoint's
timer once the events are handled.

What a peer can make happen with each datagram (a refused request, a failed
authentication) is logged through :attr:`IaxService.log_limiter`: the first line of a
burst from one address, then one "repeated N times" line when the interval ends.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from collections.abc import Callable
from typing import Protocol, cast

import trio

from pbxedge.config.iax_models import IaxConfig
from pbxedge.control.registry import CommandRegistry
from pbxedge.events import EventBus
from pbxedge.iax2.callnumbers import CallNumberPool
from pbxedge.iax2.calltoken import CallTokenIssuer
from pbxedge.iax2.endpoint import LIMIT_TEXT, TOKEN_REQUIRED_TEXT, Endpoint
from pbxedge.iax2.enums import IE, Cause, IaxSubclass
from pbxedge.iax2.events import (
    CallDestroyed,
    CallTokenRejected,
    Event,
    LimitReached,
    NewCall,
)
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.trunk import TrunkSettings
from pbxedge.iaxservice.accounts import token_policy
from pbxedge.iaxservice.debug import FrameDebugger, TappedEndpoint
from pbxedge.log import RateLimiter
from pbxedge.randomness import BufferedSystemRandom
from pbxedge.transport import UdpTransport

__all__ = ["CallHandler", "IaxService", "RequestHandler"]

logger = logging.getLogger("pbxedge.iax2")

UNSERVED_TEXT = "Request not served here"
# While datagrams keep coming, the node reads its socket once a millisecond rather than at
# each one (UdpTransport's `coalesce`): 10-25 % less CPU per registration and call setup at a
# few thousand datagrams a second, for at most a millisecond more per hop under that load.
RECEIVE_COALESCE = 0.001


class CallHandler(Protocol):
    """Whoever owns a call number hears every event of that call."""

    def on_event(self, event: Event) -> None: ...


RequestHandler = Callable[[NewCall], None]


class _InlineEvents:
    """Hands each endpoint event to the service the moment the transport drains it, so
    handlers answer before the transport sends what the endpoint queued: a REGAUTH or
    AUTHREQ then carries the ACK of the request, as in Asterisk, instead of following a
    lone ACK (which nmap's iax2-brute cannot parse)."""

    __slots__ = ("send_nowait",)

    def __init__(self, service: IaxService) -> None:
        # The service's own method, not a wrapper calling it: one call less per event.
        self.send_nowait = cast(Callable[[object], None], service.dispatch)


class IaxService:
    """The node's IAX2 side: endpoint, transport and event routing."""

    name = "iax2"

    def __init__(self, config: IaxConfig, *, rng: random.Random | None = None,
                 events: EventBus | None = None) -> None:
        general = config.general
        self.config = config
        self.events = events or EventBus()  # the node's: peers and registrations tell it
        self.rng = rng or BufferedSystemRandom()
        self.pool = CallNumberPool(
            maxcallnumbers=general.maxcallnumbers,
            limits=[(limit.network, limit.limit) for limit in config.callnumberlimits],
            max_nonvalidated=general.maxcallnumbers_nonvalidated,
            rng=self.rng,
        )
        self.tokens = CallTokenIssuer(os.urandom(32), float(general.calltokenexpiration))
        self.token_policy = token_policy(config)
        self.endpoint = Endpoint(
            pool=self.pool,
            tokens=self.tokens,
            # Through the service, so a reload's policy is the one asked.
            token_policy=lambda *request: self.token_policy.required(*request),
            rng=self.rng,
            pingtime=float(general.pingtime),
            lagrqtime=float(general.lagrqtime),
            trunk=TrunkSettings(freq_ms=general.trunkfreq, mtu=general.trunkmtu,
                                maxsize=general.trunkmaxsize,
                                timestamps=general.trunktimestamps),
        )
        self.debug = FrameDebugger(on_change=self._retap)
        self._tapped = TappedEndpoint(self.endpoint, self.debug)
        self.transport = UdpTransport(
            self.endpoint,
            [(bind.host, bind.port) for bind in general.bindaddrs],
            _InlineEvents(self),
            tos=general.tos or None,
            coalesce=RECEIVE_COALESCE,
        )
        self.log_limiter = RateLimiter(clock=trio.current_time)
        # REJECTs and REGREJs sent, by their CAUSE text (for the metrics).
        self.rejects: Counter[str] = Counter()
        self._owners: dict[int, CallHandler] = {}
        self._requests: dict[IaxSubclass, RequestHandler] = {}
        self._nursery: trio.Nursery | None = None
        # Made by stop() to wait on; the next CallDestroyed sets and drops it.
        self._call_destroyed: trio.Event | None = None
        self.local_addresses: list[tuple[str, int]] = []

    # -- wiring ---------------------------------------------------------------------------

    @property
    def nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the IAX2 service is not running")
        return self._nursery

    def on_request(self, subclass: IaxSubclass, handler: RequestHandler) -> None:
        """Route calls opened by the peer with *subclass* (NEW, REGREQ, REGREL) to *handler*."""
        self._requests[subclass] = handler

    def withdraw(self, subclass: IaxSubclass) -> None:
        """Serve *subclass* no more: later requests get the final REJECT of an unserved one."""
        self._requests.pop(subclass, None)

    def own(self, callno: int, handler: CallHandler) -> None:
        self._owners[callno] = handler

    def disown(self, callno: int) -> None:
        self._owners.pop(callno, None)

    def owner(self, callno: int) -> CallHandler | None:
        return self._owners.get(callno)

    def _retap(self) -> None:
        """Frames pass the debug tap only while it may show them."""
        self.transport.endpoint = self._tapped if self.debug.active else self.endpoint

    def register_commands(self, registry: CommandRegistry) -> None:
        """None of its own: the call service registers the endpoint's console commands."""

    def reconfigure(self, config: IaxConfig) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """Apply a reloaded iax.conf to what comes next: sockets (returned as the local
        addresses added and removed), call-number limits, call-token policy, PING/LAGRQ
        intervals. Live calls keep their state. Raises BindError, changing nothing, when a
        new bind address cannot be bound."""
        general = config.general
        rebound = self.transport.rebind([(bind.host, bind.port) for bind in general.bindaddrs])
        if rebound != ([], []):
            self.local_addresses = self.transport.local_addresses
        self.transport.set_tos(general.tos)
        self.pool.set_limits(
            maxcallnumbers=general.maxcallnumbers,
            limits=[(limit.network, limit.limit) for limit in config.callnumberlimits],
            max_nonvalidated=general.maxcallnumbers_nonvalidated,
        )
        self.tokens.expiration = float(general.calltokenexpiration)
        # Learned "auto" call-token rules start over, as on an Asterisk reload.
        self.token_policy = token_policy(config)
        self.endpoint.set_call_timers(pingtime=float(general.pingtime),
                                      lagrqtime=float(general.lagrqtime))
        self.config = config
        return rebound

    def now(self) -> float:
        return trio.current_time()

    def kick(self) -> None:
        """Send what commands queued and re-arm the endpoint timer: at once, or on a busy
        node with the flush after the receive loop's coming drain, one for every call that
        kicked meanwhile (:meth:`UdpTransport.kick_soon`)."""
        self.transport.kick_soon()

    # -- running --------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.local_addresses = await nursery.start(self.transport.run)
            nursery.start_soon(self._summarise_repeats)
            task_status.started()
            await trio.sleep_forever()

    async def stop(self) -> None:
        """Wait for the ACKs of the final frames in flight (the HANGUPs the call service
        has just sent); the node bounds the wait, and whatever is left then is reported."""
        ending = set(self.endpoint.ending_calls())
        try:
            while ending.intersection(self.endpoint.ending_calls()):
                if self._call_destroyed is None:
                    self._call_destroyed = trio.Event()
                await self._call_destroyed.wait()
        finally:
            left = set(ending).intersection(self.endpoint.ending_calls())
            if left:
                logger.warning("%d of %d ending calls not acknowledged by their peer; "
                               "exiting without waiting longer", len(left), len(ending))

    async def _summarise_repeats(self) -> None:
        """Each "repeated N times" line when its interval ends, even after the flood has
        stopped; at shutdown, those still pending."""
        limiter = self.log_limiter
        try:
            while True:
                due = limiter.next_summary()
                await trio.sleep_until(trio.current_time() + limiter.interval
                                       if due is None else due)
                limiter.flush()
        finally:
            limiter.flush(everything=True)

    def _refuse_unserved(self, callno: int, subclass: IaxSubclass) -> None:
        """A final REJECT/REGREJ for a request nobody on this node serves.

        Dropping the call instead would leave the peer resending its request, and each
        resend would open (and hold for a minute) another call number.
        """
        reply = IaxSubclass.REJECT if subclass is IaxSubclass.NEW else IaxSubclass.REGREJ
        self.rejects[UNSERVED_TEXT] += 1
        ies = IEList().add_str(IE.CAUSE, UNSERVED_TEXT)
        ies.add_u8(IE.CAUSECODE, Cause.FACILITY_REJECTED)
        self.endpoint.send_iax(callno, reply, ies, self.now(), final=True)

    def dispatch(self, event: Event) -> None:
        """Hand one endpoint event to whoever should hear it; never raises."""
        try:
            if isinstance(event, NewCall):
                subclass = IaxSubclass(event.frame.subclass)
                handler = self._requests.get(subclass)
                if handler is None:
                    self._refuse_unserved(event.callno, subclass)
                    return
                handler(event)
                return
            if isinstance(event, CallTokenRejected):
                self.rejects[TOKEN_REQUIRED_TEXT] += 1
                if self.log_limiter.admit(f"Token-less {event.subclass.name}", event.addr[0]):
                    logger.warning(self.token_policy.explain(event.subclass, event.username,
                                                             event.addr))
                return
            if isinstance(event, LimitReached):
                self.rejects[LIMIT_TEXT] += 1
                if self.log_limiter.admit("Request over the maxcallnumber limit", event.addr[0]):
                    logger.warning("maxcallnumber limit for %s:%d has been reached (%s)",
                                   event.addr[0], event.addr[1], event.kind.value)
                return
            owner = self._owners.get(event.callno)
            if isinstance(event, CallDestroyed):
                self._owners.pop(event.callno, None)
                if self._call_destroyed is not None:
                    self._call_destroyed.set()
                    self._call_destroyed = None
            if owner is not None:
                owner.on_event(event)
        except Exception:
            logger.exception("error while handling %s", type(event).__name__)
