"""The state of one call while the engine runs it: where it is in the plan, its variables,
the Gosub stack, and the services applications may use."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import trio

from dialplan.channel import Channel
from dialplan.dialer import Dialer
from dialplan.plan import Dialplan
from dialplan.registry import Registry
from dialplan.store import KeyValueStore
from dialplan.substitution import substitute
from pbxedge.events import EventBus, VarSet

__all__ = [
    "Call",
    "CallLocation",
    "EngineOptions",
    "GosubFrame",
    "Services",
    "Step",
    "ToneZone",
    "ToneZones",
    "format_callerid",
]

log = logging.getLogger("dialplan")


@dataclass
class EngineOptions:
    allow_system: bool = False
    # Priorities run in a row without an application that waits on the caller; past this
    # the call is taken for a dialplan loop and hung up.
    max_steps_without_wait: int = 10_000
    agi_timeout: float = 30.0  # seconds an AGI script may stay silent
    agi_dir: str = "agi-bin"  # where AGI(script) looks for relative script names
    response_timeout: float = 10.0  # autofallthrough=no: wait for the first digit
    digit_timeout: float = 5.0  # autofallthrough=no: wait for each further digit


class ToneZones(Protocol):
    """indications.conf as the dialplan needs it: a zone's named tones."""

    def zone(self, name: str | None) -> ToneZone | None: ...


class ToneZone(Protocol):
    def tone(self, name: str) -> str | None: ...


@dataclass
class Services:
    registry: Registry[Call]
    dialer: Dialer | None = None
    store: KeyValueStore | None = None
    options: EngineOptions = field(default_factory=EngineOptions)
    indications: ToneZones | None = None
    events: EventBus = field(default_factory=EventBus)  # where Newexten, VarSet… are told


@dataclass
class GosubFrame:
    context: str
    exten: str
    priority: int  # where Return continues
    saved: dict[str, str | None] = field(default_factory=dict)  # LOCAL()/ARGn to restore


@dataclass(frozen=True)
class Step:
    """One executed priority (kept for logs, tests and ``core show channel``)."""

    context: str
    exten: str
    priority: int
    app: str
    data: str


@dataclass(frozen=True)
class CallLocation:
    """Where a running call is: the Location and Application(Data) of ``core show channels``."""

    context: str
    exten: str
    priority: int
    app: str  # the application running or last run; "" before the first one
    data: str  # its substituted argument

    @property
    def location(self) -> str:
        """``exten@context:priority``, Asterisk's Location column."""
        return f"{self.exten}@{self.context}:{self.priority}"

    @property
    def application(self) -> str:
        """``App(data)``, or ``(None)`` before any application ran, as Asterisk prints it."""
        return f"{self.app}({self.data})" if self.app else "(None)"


def format_callerid(name: str | None, number: str | None) -> str:
    """``ast_callerid_merge``: ``"Name" <num>``, or whichever part exists."""
    if name and number:
        return f'"{name}" <{number}>'
    return name or number or ""


class Call:
    """A channel running through a dialplan."""

    def __init__(self, channel: Channel, plan: Dialplan, services: Services,
                 context: str, exten: str, priority: int = 1) -> None:
        self.channel = channel
        self.plan = plan
        self.services = services
        self.context = context
        self.exten = exten
        self.priority = priority
        self.jump: tuple[str, str, int] | None = None
        self.gosub_stack: list[GosubFrame] = []
        self.trace: list[Step] = []
        self.steps_without_wait = 0
        # The application running (or last run) and its substituted data.
        self.app = ""
        self.app_data = ""
        # TIMEOUT(response) / TIMEOUT(digit), and CHANNEL(tonezone) (None: the default zone).
        self.response_timeout = services.options.response_timeout
        self.digit_timeout = services.options.digit_timeout
        self.tonezone: str | None = None
        # Where a Redirect sends the call, and what it interrupts to get there.
        self.redirect: tuple[str, str, int] | None = None
        self._interruptible: trio.CancelScope | None = None
        self.ended = False  # left the dialplan (``h`` may still run)

    def location(self) -> CallLocation:
        """A snapshot of where the call is now (the console reads it from another task)."""
        return CallLocation(self.context, self.exten, self.priority, self.app, self.app_data)

    # -- navigation --------------------------------------------------------------------
    def goto(self, context: str | None, exten: str | None, priority: int) -> None:
        """Continue at the given place after the current application returns."""
        self.jump = (context or self.context, exten or self.exten, priority)

    def redirect_to(self, context: str, exten: str, priority: int) -> None:
        """Continue at the given place now, stopping the application that runs (the
        manager's Redirect, Asterisk's ``ast_async_goto``)."""
        self.redirect = (context, exten, priority)
        if self._interruptible is not None:
            self._interruptible.cancel()

    def interruptible(self) -> trio.CancelScope:
        """A scope :meth:`redirect_to` cancels: what runs inside it stops for the Redirect
        (cancelling it once it is left changes nothing)."""
        scope = self._interruptible = trio.CancelScope()
        return scope

    # -- variables ---------------------------------------------------------------------
    def lookup_variable(self, name: str) -> str | None:
        builtin = self._builtin(name)
        if builtin is not None:
            return builtin
        value = self.channel.variables.get(name)
        if value is not None:
            return value
        return self.plan.globals.get(name)

    def _builtin(self, name: str) -> str | None:
        match name:
            case "EXTEN":
                return self.exten
            case "CONTEXT":
                return self.context
            case "PRIORITY":
                return str(self.priority)
            case "CHANNEL":
                return self.channel.name
            case "UNIQUEID":
                return self.channel.uniqueid
            case "HANGUPCAUSE":
                return str(self.channel.hangup_cause)
            case "EPOCH":
                return str(int(time.time()))
        return None

    def read_function(self, name: str, args: str) -> str | None:
        function = self.services.registry.function(name)
        if function is None:
            log.error("Function %s not registered", name)
            return None
        return function.read(self, args)

    def set_variable(self, name: str, value: str) -> None:
        """``Set(name=value)``: a function write, or a channel variable (empty = unset)."""
        name = name.strip()
        if name.endswith(")") and "(" in name:
            function_name, _, rest = name.partition("(")
            function = self.services.registry.function(function_name)
            if function is None or function.write is None:
                log.error("Function %s not registered or not writable", function_name)
                return
            function.write(self, rest[: rest.rfind(")")], value)
            return
        # One or two leading underscores only mark inheritance to outgoing legs.
        name = name.removeprefix("__") if name.startswith("__") else name.removeprefix("_")
        if value:
            self.channel.variables[name] = value
        else:
            self.channel.variables.pop(name, None)
        events = self.services.events
        if events.active:
            events.publish(VarSet(self.channel, name, value))

    def substitute(self, text: str) -> str:
        return substitute(text, self)
