"""A loaded dialplan: contexts from extensions.conf plus the run-time (regcontext) table.

A reload builds a new :class:`Dialplan`; calls keep the object they started with.  What
must outlive a reload lives in :class:`RuntimeState`, shared from one plan to the next:
extensions added at run time (IAX2 registrations in ``regcontext``) and global variables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntFlag

from dialplan.context import Context, EarlyMatchStop, Extension, Priority
from dialplan.patterns import MatchMode
from dialplan.switches import RealtimeSwitch, RealtimeSwitches, parse_realtime_switch
from pbxedge.config.diagnostics import Diagnostic

__all__ = ["Dialplan", "DialplanOptions", "DpStatus", "Found", "RuntimeState"]

# AST_PBX_MAX_STACK: how deep includes may nest before the search gives up.
MAX_INCLUDE_DEPTH = 128


class DpStatus(IntFlag):
    """DPSTATUS bits of an IAX2 DPREP (iax2.h IAX_DPSTATUS_*)."""

    EXISTS = 1 << 0
    CANEXIST = 1 << 1
    NONEXISTENT = 1 << 2
    IGNOREPAT = 1 << 14
    MATCHMORE = 1 << 15


@dataclass(frozen=True, slots=True)
class Found:
    """Where a lookup landed: the context that held the extension, and the priority."""

    context: str
    extension: Extension
    priority: Priority


@dataclass
class DialplanOptions:
    """``[general]`` of extensions.conf."""

    autofallthrough: bool = True
    clearglobalvars: bool = False
    extenpatternmatchnew: bool = False
    static: bool = False
    writeprotect: bool = False
    userscontext: str | None = None
    # pbxedge's own switch: System() runs shell commands only when the admin says so.
    allowsystem: bool = False
    pythonmodules: list[str] = field(default_factory=list)


class RuntimeState:
    """State that survives reloads: run-time extensions and global variables."""

    def __init__(self) -> None:
        self.contexts: dict[str, Context] = {}
        self.globals: dict[str, str] = {}
        self.version = 0
        # ``switch => Realtime/...`` lookups, when the node has a database for them.
        self.switches: RealtimeSwitches | None = None

    def add_extension(self, context: str, exten: str, priority: int, app: str, data: str,
                      registrar: str, label: str | None = None) -> None:
        target = self.contexts.get(context)
        if target is None:
            target = self.contexts[context] = Context(context, registrar=registrar)
        name, _, cid = exten.partition("/")
        ext = target.extension(name, cid or None, registrar=registrar)
        ext.priorities.pop(priority, None)  # run-time adds replace, like ast_add_extension(replace=1)
        ext.add(Priority(priority, app, data, label, None, registrar))
        self.version += 1

    def remove_extension(self, context: str, exten: str, priority: int | None, registrar: str | None) -> bool:
        target = self.contexts.get(context)
        if target is None:
            return False
        name, _, cid = exten.partition("/")
        ext = target.find_existing(name, cid or None)
        if ext is None:
            return False
        ext.remove(priority, registrar)
        target.drop_if_empty(ext)
        self.version += 1
        return True


class Dialplan:
    """Contexts and options of one load, looked up with Asterisk's ``pbx_find_extension``."""

    def __init__(self, contexts: dict[str, Context] | None = None, *,
                 options: DialplanOptions | None = None,
                 file_globals: dict[str, str] | None = None,
                 runtime: RuntimeState | None = None,
                 diagnostics: list[Diagnostic] | None = None,
                 clock: Callable[[], dt.datetime] = dt.datetime.now) -> None:
        self.static_contexts: dict[str, Context] = contexts or {}
        self.options = options or DialplanOptions()
        self.file_globals = dict(file_globals or {})
        self.runtime = runtime or RuntimeState()
        self.diagnostics = diagnostics or []
        self.clock = clock
        self._merged: dict[str, tuple[int, Context | None]] = {}

    # -- run-time table (registrations) ------------------------------------------------
    def add_extension(self, context: str, exten: str, priority: int, app: str, data: str = "",
                      registrar: str = "IAX2") -> None:
        """Add (or replace) one priority at run time; creates the context if missing."""
        self.runtime.add_extension(context, exten, priority, app, data, registrar)

    def remove_extension(self, context: str, exten: str, priority: int | None = None,
                         registrar: str | None = "IAX2") -> bool:
        """Remove a run-time priority (all of them when *priority* is None)."""
        return self.runtime.remove_extension(context, exten, priority, registrar)

    @property
    def globals(self) -> dict[str, str]:
        return self.runtime.globals

    def apply_globals(self) -> None:
        """Install ``[globals]`` at (re)load, honouring ``clearglobalvars``."""
        if self.options.clearglobalvars:
            self.runtime.globals.clear()
        self.runtime.globals.update(self.file_globals)

    # -- contexts ----------------------------------------------------------------------
    def context(self, name: str) -> Context | None:
        """The context as calls see it: static entries merged with run-time ones."""
        dynamic = self.runtime.contexts.get(name)
        static = self.static_contexts.get(name)
        if dynamic is None or not len(dynamic):
            return static
        if static is None:
            return dynamic
        cached = self._merged.get(name)
        if cached is not None and cached[0] == self.runtime.version:
            return cached[1]
        merged = static.merged_with(dynamic)
        self._merged[name] = (self.runtime.version, merged)
        return merged

    def context_names(self) -> list[str]:
        names = dict.fromkeys(self.static_contexts)
        names.update(dict.fromkeys(n for n, c in self.runtime.contexts.items() if len(c)))
        return list(names)

    # -- lookups -----------------------------------------------------------------------
    def find(self, context: str, exten: str, callerid: str | None = None, *,
             priority: int | None = 1, label: str | None = None,
             mode: MatchMode = MatchMode.MATCH) -> Found | None:
        """The first extension (in Asterisk's order, includes depth-first) that has the
        requested priority number or label."""
        return self._find(context, exten, callerid, priority, label, mode, [])

    def _find(self, context: str, exten: str, callerid: str | None, priority: int | None,
              label: str | None, mode: MatchMode, stack: list[str]) -> Found | None:
        if len(stack) >= MAX_INCLUDE_DEPTH or context in stack:
            return None
        current = self.context(context)
        if current is None:
            return None
        try:
            for ext in current.candidates(exten, mode, callerid):
                number = ext.labels.get(label) if label is not None else priority
                if number is not None and number in ext.priorities:
                    return Found(context, ext, ext.priorities[number])
        except EarlyMatchStop:
            return None
        # Asterisk asks a context's switches after its own extensions, before its includes.
        switches = self.runtime.switches
        if switches is not None and label is None:
            for switch in self._realtime_switches(current):
                row = switches.find(switch, exten, mode, priority)
                if row is None:
                    continue
                if mode is not MatchMode.MATCH:
                    return Found(context, row, Priority(priority or 1, "", ""))
                if priority in row.priorities:
                    return Found(context, row, row.priorities[priority])
        stack.append(context)
        now: dt.datetime | None = None
        for include in current.includes:
            if include.timing is not None:
                now = now or self.clock()
                if not include.timing.matches(now):
                    continue
            found = self._find(include.name, exten, callerid, priority, label, mode, stack)
            if found is not None:
                return found
        return None

    @staticmethod
    def _realtime_switches(context: Context) -> list[RealtimeSwitch]:
        found = (parse_realtime_switch(s.data, context.name) for s in context.switches)
        return [switch for switch in found if switch is not None]

    async def prepare(self, context: str, exten: str,
                      mode: MatchMode = MatchMode.MATCH) -> None:
        """Fetch what Realtime switches need to answer lookups of *exten* from *context*
        (and the contexts it includes); returns at once when no switch is in use."""
        switches = self.runtime.switches
        if switches is None:
            return
        pending, seen = [context], set[str]()
        while pending:
            name = pending.pop()
            current = self.context(name)
            if name in seen or current is None or len(seen) >= MAX_INCLUDE_DEPTH:
                continue
            seen.add(name)
            for switch in self._realtime_switches(current):
                await switches.prepare(switch, exten, mode)
            pending.extend(include.name for include in current.includes)

    def exists(self, context: str, exten: str, priority: int = 1, callerid: str | None = None) -> bool:
        return self.find(context, exten, callerid, priority=priority) is not None

    def can_match(self, context: str, exten: str, callerid: str | None = None) -> bool:
        return self.find(context, exten, callerid, mode=MatchMode.CANMATCH) is not None

    def match_more(self, context: str, exten: str, callerid: str | None = None) -> bool:
        return self.find(context, exten, callerid, mode=MatchMode.MATCHMORE) is not None

    def find_label(self, context: str, exten: str, label: str, callerid: str | None = None) -> int | None:
        found = self.find(context, exten, callerid, priority=None, label=label)
        return found.priority.number if found else None

    def ignores(self, context: str, exten: str) -> bool:
        current = self.context(context)
        return current is not None and current.ignores(exten)

    def dp_status(self, context: str, exten: str, callerid: str | None = None) -> DpStatus:
        """The DPSTATUS of a DPREP, computed like chan_iax2's ``dp_lookup``."""
        if self.exists(context, exten, 1, callerid):
            status = DpStatus.EXISTS
        elif self.can_match(context, exten, callerid):
            status = DpStatus.CANEXIST
        else:
            status = DpStatus.NONEXISTENT
        if self.ignores(context, exten):
            status |= DpStatus.IGNOREPAT
        if self.match_more(context, exten, callerid):
            status |= DpStatus.MATCHMORE
        return status
