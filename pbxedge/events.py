"""The node's events: what happens to channels, calls, peers and registrations, as typed
values that any part of the node may publish and any other may hear.

Layers publish where things happen (:meth:`EventBus.publish`); subscribers (the manager
interface, metrics) are called synchronously, in publishing order, so what they read of a
channel is its state at that moment. With nobody subscribed, a publisher pays one attribute
test (:attr:`EventBus.active`) and builds nothing, so hot paths stay cheap.

Every event also spells out its Asterisk Manager Interface form, in Asterisk's key order:
``name`` (``Event:``), ``category`` (the AMI class that decides who may read it), the
channels whose block of keys leads the event (:meth:`NodeEvent.channels`, each with its key
prefix) and the keys that follow (:meth:`NodeEvent.fields`). A new kind of event, such as a
phone box's alarm, is a subclass with those three things, in this module or its own; the
manager interface sends it without any change of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from dialplan.channel import Channel
from pbxedge.causes import cause_text
from pbxedge.cdr.record import CdrRecord

__all__ = [
    "Category",
    "Cdr",
    "DialBegin",
    "DialEnd",
    "DtmfBegin",
    "DtmfEnd",
    "EventBus",
    "Fields",
    "FullyBooted",
    "Hangup",
    "HangupRequest",
    "Newchannel",
    "Newexten",
    "Newstate",
    "NodeEvent",
    "PeerStatus",
    "Registry",
    "Reload",
    "SoftHangupRequest",
    "Subscriber",
    "UserEvent",
    "VarSet",
]

logger = logging.getLogger("pbxedge.events")

Fields = list[tuple[str, str]]


class Category(StrEnum):
    """Asterisk's manager classes (``EVENT_FLAG_*``): a reader sees the events of the
    classes it is allowed to read."""

    SYSTEM = "system"
    CALL = "call"
    LOG = "log"
    VERBOSE = "verbose"
    COMMAND = "command"
    AGENT = "agent"
    USER = "user"
    CONFIG = "config"
    DTMF = "dtmf"
    REPORTING = "reporting"
    CDR = "cdr"
    DIALPLAN = "dialplan"
    ORIGINATE = "originate"
    AGI = "agi"
    CC = "cc"
    AOC = "aoc"
    TEST = "test"
    SECURITY = "security"
    MESSAGE = "message"


class NodeEvent:
    """Base of every event; subclasses are frozen dataclasses."""

    __slots__ = ()

    name: ClassVar[str]
    category: ClassVar[Category]

    def channels(self) -> tuple[tuple[str, Channel], ...]:
        """The channels whose blocks lead the event, with their key prefix (``Dest``…)."""
        return ()

    def fields(self) -> Fields:
        """The keys after the channel blocks, in order."""
        return []


Subscriber = Callable[[NodeEvent], None]


class EventBus:
    """Publish/subscribe of :class:`NodeEvent` within one node."""

    __slots__ = ("_subscribers", "active")

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()
        # Publishers test this before building an event nobody would hear.
        self.active = False

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call *subscriber* with every event from now on; returns the unsubscribe."""
        self._subscribers = (*self._subscribers, subscriber)
        self.active = True

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)
            self.active = bool(self._subscribers)

        return unsubscribe

    def publish(self, event: NodeEvent) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:  # a broken listener must not break the call that published
                logger.exception("event subscriber failed on %s", event.name)


# -- channels and calls ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OneChannel(NodeEvent):
    channel: Channel

    def channels(self) -> tuple[tuple[str, Channel], ...]:
        return (("", self.channel),)


@dataclass(frozen=True, slots=True)
class Newchannel(_OneChannel):
    """A channel exists, at *context*/*exten* priority 1; *linked* is the channel whose
    call it belongs to (the caller of a Dial), None when it starts a call of its own."""

    name = "Newchannel"
    category = Category.CALL
    context: str = "default"
    exten: str = "s"
    linked: Channel | None = None


@dataclass(frozen=True, slots=True)
class Newstate(_OneChannel):
    """The channel's state changed (ringing, answered)."""

    name = "Newstate"
    category = Category.CALL


@dataclass(frozen=True, slots=True)
class Newexten(_OneChannel):
    """The dialplan runs *app* at *context*/*exten*/*priority* on the channel."""

    name = "Newexten"
    category = Category.DIALPLAN
    context: str = ""
    exten: str = ""
    priority: int = 1
    app: str = ""
    data: str = ""

    def fields(self) -> Fields:
        return [("Extension", self.exten), ("Application", self.app), ("AppData", self.data)]


@dataclass(frozen=True, slots=True)
class VarSet(NodeEvent):
    """A channel variable was set (or cleared: empty value); no channel for a global."""

    name = "VarSet"
    category = Category.DIALPLAN
    channel: Channel | None
    variable: str
    value: str

    def channels(self) -> tuple[tuple[str, Channel], ...]:
        return (("", self.channel),) if self.channel is not None else ()

    def fields(self) -> Fields:
        return [("Variable", self.variable), ("Value", self.value)]


@dataclass(frozen=True, slots=True)
class DialBegin(NodeEvent):
    """*caller* dials *dest* (``DialString`` is the target after its technology)."""

    name = "DialBegin"
    category = Category.CALL
    caller: Channel
    dest: Channel
    dialstring: str

    def channels(self) -> tuple[tuple[str, Channel], ...]:
        return (("", self.caller), ("Dest", self.dest))

    def fields(self) -> Fields:
        return [("DialString", self.dialstring)]


@dataclass(frozen=True, slots=True)
class DialEnd(NodeEvent):
    """What the dial of *dest* came to: a ``DIALSTATUS`` value."""

    name = "DialEnd"
    category = Category.CALL
    caller: Channel
    dest: Channel
    status: str

    def channels(self) -> tuple[tuple[str, Channel], ...]:
        return (("", self.caller), ("Dest", self.dest))

    def fields(self) -> Fields:
        return [("DialStatus", self.status)]


@dataclass(frozen=True, slots=True)
class HangupRequest(_OneChannel):
    """Someone asked the channel to end (the far end, or the node)."""

    name = "HangupRequest"
    category = Category.CALL
    cause: int = 0

    def fields(self) -> Fields:
        return [("Cause", str(self.cause))]


@dataclass(frozen=True, slots=True)
class SoftHangupRequest(HangupRequest):
    """The node itself ends the channel (the dialplan, a console or manager command)."""

    name = "SoftHangupRequest"


@dataclass(frozen=True, slots=True)
class Hangup(_OneChannel):
    """The channel is gone."""

    name = "Hangup"
    category = Category.CALL
    cause: int = 0

    def fields(self) -> Fields:
        return [("Cause", str(self.cause)), ("Cause-txt", cause_text(self.cause))]


@dataclass(frozen=True, slots=True)
class DtmfBegin(_OneChannel):
    """A digit starts; *direction* is ``Received`` (from the leg) or ``Sent``."""

    name = "DTMFBegin"
    category = Category.DTMF
    digit: str = ""
    direction: str = "Received"

    def fields(self) -> Fields:
        return [("Digit", self.digit), ("Direction", self.direction)]


@dataclass(frozen=True, slots=True)
class DtmfEnd(_OneChannel):
    """A digit ends after *duration_ms* (0 when the leg does not say, as IAX2's END)."""

    name = "DTMFEnd"
    category = Category.DTMF
    digit: str = ""
    duration_ms: int = 0
    direction: str = "Received"

    def fields(self) -> Fields:
        return [("Digit", self.digit), ("DurationMs", str(self.duration_ms)),
                ("Direction", self.direction)]


@dataclass(frozen=True, slots=True)
class UserEvent(NodeEvent):
    """``UserEvent()`` in the dialplan or the manager action: a name and free headers."""

    name = "UserEvent"
    category = Category.USER
    event: str
    headers: tuple[tuple[str, str], ...] = ()
    channel: Channel | None = None

    def channels(self) -> tuple[tuple[str, Channel], ...]:
        return (("", self.channel),) if self.channel is not None else ()

    def fields(self) -> Fields:
        return [("UserEvent", self.event), *self.headers]


def _cdr_time(when: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else ""


@dataclass(frozen=True, slots=True)
class Cdr(NodeEvent):
    """A call's detail record was written (``cdr_manager``'s keys and order)."""

    name = "Cdr"
    category = Category.CDR
    record: CdrRecord
    initiated_seconds: bool = False  # cdr.conf initiatedseconds: how billsec rounds

    def fields(self) -> Fields:
        r = self.record
        return [
            ("AccountCode", r.accountcode), ("Source", r.src), ("Destination", r.dst),
            ("DestinationContext", r.dcontext), ("CallerID", r.clid), ("Channel", r.channel),
            ("DestinationChannel", r.dstchannel), ("LastApplication", r.lastapp),
            ("LastData", r.lastdata), ("StartTime", _cdr_time(r.start)),
            ("AnswerTime", _cdr_time(r.answer)), ("EndTime", _cdr_time(r.end)),
            ("Duration", str(r.duration)),
            ("BillableSeconds", str(r.billsec(initiated_seconds=self.initiated_seconds))),
            ("Disposition", r.disposition.value), ("AMAFlags", r.amaflags.value),
            ("UniqueID", r.uniqueid), ("UserField", r.userfield),
        ]


# -- peers, registrations, the node ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerStatus(NodeEvent):
    """A peer registered, unregistered, or its qualify status changed.

    IAX2 sends no ``Port`` or ``Time``, and ``Address`` without a port (Asterisk's own
    quirk, kept because clients parse it).
    """

    name = "PeerStatus"
    category = Category.SYSTEM
    peer: str
    status: str  # Registered, Unregistered, Reachable, Lagged, Unreachable
    cause: str = ""
    address: str = ""
    channel_type: str = "IAX2"

    def fields(self) -> Fields:
        out = [("ChannelType", self.channel_type), ("Peer", f"{self.channel_type}/{self.peer}"),
               ("PeerStatus", self.status)]
        if self.cause:
            out.append(("Cause", self.cause))
        if self.address:
            out.append(("Address", self.address))
        return out


@dataclass(frozen=True, slots=True)
class Registry(NodeEvent):
    """One of our own registrations was accepted (``Registered``) or refused."""

    name = "Registry"
    category = Category.SYSTEM
    username: str
    domain: str  # host:port of the registrar
    status: str
    cause: str = ""
    channel_type: str = "IAX2"

    def fields(self) -> Fields:
        out = [("ChannelType", self.channel_type), ("Username", self.username),
               ("Domain", self.domain), ("Status", self.status)]
        if self.cause:
            out.append(("Cause", self.cause))
        return out


@dataclass(frozen=True, slots=True)
class FullyBooted(NodeEvent):
    """Every service runs: the node serves calls (seconds since start and last reload)."""

    name = "FullyBooted"
    category = Category.SYSTEM
    uptime: int = 0
    last_reload: int = 0

    def fields(self) -> Fields:
        return [("Uptime", str(self.uptime)), ("LastReload", str(self.last_reload)),
                ("Status", "Fully Booted")]


@dataclass(frozen=True, slots=True)
class Reload(NodeEvent):
    """A configuration was reloaded. Whatever carries out a reload (console, manager,
    signal) publishes it, once per reloaded part; *status* 0 is success."""

    name = "Reload"
    category = Category.SYSTEM
    module: str
    status: int = 0

    def fields(self) -> Fields:
        return [("Module", self.module), ("Status", str(self.status))]
