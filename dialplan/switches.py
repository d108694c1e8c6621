"""``switch => Realtime/[context@][family][/options]``: extensions kept in a database table.

The dialplan looks extensions up synchronously, while a database answers only after a
wait, so the work is split in two, as pbx_realtime's own one-second cache suggests:

- :meth:`RealtimeSwitches.prepare` (async) fetches, through the injected
  :class:`ExtensionTable`, the rows a lookup of one extension can need: the rows of that
  exact extension and the context's patterns (every priority), or for CANMATCH/MATCHMORE
  whether a longer extension exists. Results are kept :data:`CACHE_SECONDS`;
- :meth:`RealtimeSwitches.find` (sync) answers :meth:`dialplan.plan.Dialplan.find` from
  what is cached, with pbx_realtime's rules (realtime.md §5): an exact row for the
  priority wins; otherwise the pattern rows of that priority, longest pattern first
  (equal lengths in the table's order of ``exten``), the first that matches.

The engine prepares before every lookup it makes, so a row written by other software is
used at most a second later, without a reload. A lookup nothing prepared (a dialplan
function such as ``DIALPLAN_EXISTS``) finds only what happens to be cached.

The table hands rows over as the application should see them (the node decodes
Asterisk's ``^XX`` escapes). Option ``p`` turns pattern rows off, as in Asterisk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dialplan.context import Extension, Priority
from dialplan.patterns import ExtensionPattern, MatchMode, strip_dashes

__all__ = [
    "CACHE_SECONDS",
    "ExtensionTable",
    "RealtimeSwitch",
    "RealtimeSwitches",
    "SwitchRow",
    "parse_realtime_switch",
]

log = logging.getLogger("dialplan")

CACHE_SECONDS = 1.0
REGISTRAR = "pbx_realtime"
_MODULE = "realtime"
_DEFAULT_FAMILY = "extensions"


@dataclass(frozen=True, slots=True)
class SwitchRow:
    """One row of the table: ``exten`` is a literal or a ``_`` pattern."""

    exten: str
    priority: int
    app: str
    appdata: str  # decoded: what the application receives before ${} substitution


class ExtensionTable(Protocol):
    """The database behind the switch, injected by the node."""

    async def exten_rows(self, family: str, context: str, exten: str) -> Sequence[SwitchRow]:
        """Every row of *exten* in *context* (all priorities)."""
        ...

    async def pattern_rows(self, family: str, context: str) -> Sequence[SwitchRow]:
        """Every pattern row of *context*, ordered by ``exten``."""
        ...

    async def has_prefixed(self, family: str, context: str, prefix: str, longer: bool) -> bool:
        """Whether a literal extension starts with *prefix* (and is *longer* than it)."""
        ...


@dataclass(frozen=True, slots=True)
class RealtimeSwitch:
    context: str
    family: str
    patterns: bool


def parse_realtime_switch(data: str, own_context: str) -> RealtimeSwitch | None:
    """``Realtime/ctx@family/p`` as pbx_realtime reads it; None for another switch module."""
    module, _, rest = data.partition("/")
    if module.strip().lower() != _MODULE:
        return None
    rest, _, options = rest.partition("/")
    context, at, family = rest.partition("@")
    if not at:
        context, family = "", rest
    return RealtimeSwitch(context.strip() or own_context, family.strip() or _DEFAULT_FAMILY,
                          "p" not in options)


class RealtimeSwitches:
    """The cache between the table and the dialplan's synchronous lookups."""

    def __init__(self, table: ExtensionTable, clock: Callable[[], float]) -> None:
        self._table = table
        self._clock = clock
        self._rows: dict[tuple[str, str, str], tuple[float, list[SwitchRow]]] = {}
        self._patterns: dict[tuple[str, str], tuple[float, list[SwitchRow]]] = {}
        self._prefixed: dict[tuple[str, str, str, bool], tuple[float, bool]] = {}

    def _fresh(self, entry: tuple[float, object] | None) -> bool:
        return entry is not None and self._clock() - entry[0] < CACHE_SECONDS

    async def prepare(self, switch: RealtimeSwitch, exten: str, mode: MatchMode) -> None:
        """Fetch what a lookup of *exten* in *mode* needs, unless it is cached."""
        family, context = switch.family, switch.context
        try:
            if mode is MatchMode.MATCH:
                key = (family, context, exten)
                if not self._fresh(self._rows.get(key)):
                    rows = list(await self._table.exten_rows(family, context, exten))
                    self._rows[key] = (self._clock(), rows)
            else:
                longer = mode is MatchMode.MATCHMORE
                pkey = (family, context, exten, longer)
                if not self._fresh(self._prefixed.get(pkey)):
                    found = await self._table.has_prefixed(family, context, exten, longer)
                    self._prefixed[pkey] = (self._clock(), found)
            if switch.patterns and not self._fresh(self._patterns.get((family, context))):
                patterns = [r for r in await self._table.pattern_rows(family, context)
                            if r.exten.startswith("_")]
                # Longest first; sorted() is stable, so equal lengths keep the table's order.
                patterns = sorted(patterns, key=lambda r: -len(r.exten))
                self._patterns[(family, context)] = (self._clock(), patterns)
        except Exception as exc:  # the database is away: the switch matches nothing
            log.warning("Realtime switch %s@%s: lookup of '%s' failed: %s", context, family,
                        exten, exc)

    def find(self, switch: RealtimeSwitch, exten: str, mode: MatchMode,
             priority: int | None) -> Extension | None:
        """The extension the cached rows give for *exten* at *priority* (any when None)."""
        family, context = switch.family, switch.context
        data = strip_dashes(exten)
        if mode is MatchMode.MATCH:
            cached = self._rows.get((family, context, exten))
            literal = [r for r in cached[1] if r.priority == priority or priority is None] \
                if cached else []
            if literal:
                return _extension(exten, literal)
        else:
            found = self._prefixed.get((family, context, exten, mode is MatchMode.MATCHMORE))
            if found is not None and found[1]:
                return _extension(exten, [])
        if not switch.patterns:
            return None
        patterns = self._patterns.get((family, context))
        for row in patterns[1] if patterns else ():
            if priority is not None and mode is MatchMode.MATCH and row.priority != priority:
                continue
            if ExtensionPattern(row.exten).match(data, mode):
                rows = [r for r in patterns[1] if r.exten == row.exten] if patterns else []
                return _extension(row.exten, rows)
        return None


def _extension(name: str, rows: list[SwitchRow]) -> Extension:
    extension = Extension(name, None, None, REGISTRAR)
    for row in rows:
        if row.priority not in extension.priorities:
            extension.add(Priority(row.priority, row.app, row.appdata, registrar=REGISTRAR))
    return extension

