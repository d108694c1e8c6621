"""One dialplan context: its extensions in Asterisk's order, includes, ignore patterns.

Extensions are kept the way ``ast_add_extension2`` keeps them: sorted by ``ext_cmp`` and,
for the same extension, caller-ID variants before the plain one.  Literals are also
indexed by their dash-less text so the common lookup is one dict access.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from dialplan.patterns import EARLY_MATCH, ExtensionPattern, MatchMode, ext_cmp_key, strip_dashes
from dialplan.timing import TimeSpec
from pbxedge.config.diagnostics import Origin

__all__ = [
    "Context",
    "EarlyMatchStop",
    "Extension",
    "Include",
    "Priority",
    "PriorityInUseError",
    "Switch",
    "shrink_phone_number",
]

HINT_PRIORITY = -1
PREFIX_INDEX_LENGTH = 4
MAX_PREFIX_ENTRIES = 1 << 16


def shrink_phone_number(number: str) -> str:
    """``ast_shrink_phone_number``: drop ``( ) . -`` and spaces so ``(256) 428-6275`` matches."""
    return "".join(c for c in number if c not in "()-. ")


class PriorityInUseError(ValueError):
    """The extension already has that priority (Asterisk refuses to replace it on load)."""


@dataclass(frozen=True, slots=True)
class Priority:
    number: int
    app: str
    data: str
    label: str | None = None
    origin: Origin | None = None
    registrar: str = "pbx_config"


@dataclass(frozen=True, slots=True)
class Include:
    """``include => name[,time condition]``."""

    name: str
    timing: TimeSpec | None = None
    origin: Origin | None = None
    registrar: str = "pbx_config"

    @property
    def display(self) -> str:
        return self.name if self.timing is None else f"{self.name},{self.timing.text}"


@dataclass(frozen=True, slots=True)
class Switch:
    """``switch => ...``: ``Realtime/...`` ones are looked up (:mod:`dialplan.switches`);
    any other is only listed by ``dialplan show``."""

    kind: str
    data: str
    origin: Origin | None = None


class Extension:
    """All priorities of one extension name (plus an optional caller-ID match)."""

    __slots__ = ("cid_pattern", "cidmatch", "hint", "labels", "name", "origin", "pattern",
                 "priorities", "registrar", "sort_key")

    def __init__(self, name: str, cidmatch: str | None, origin: Origin | None, registrar: str) -> None:
        self.name = name
        self.cidmatch = cidmatch or None
        self.pattern = ExtensionPattern(name)
        self.cid_pattern = ExtensionPattern(self.cidmatch) if self.cidmatch else None
        self.priorities: dict[int, Priority] = {}
        self.labels: dict[str, int] = {}
        self.hint: Priority | None = None
        self.origin = origin
        self.registrar = registrar
        cid_part: tuple[object, ...] = (0, ext_cmp_key(self.cidmatch)) if self.cidmatch else (1,)
        self.sort_key = (ext_cmp_key(name), cid_part)

    @property
    def display_name(self) -> str:
        return f"{self.name}/{self.cidmatch}" if self.cidmatch else self.name

    def matches_callerid(self, callerid: str | None) -> bool:
        """Asterisk's ``matchcid``: a CID-less caller matches only CID-less extensions."""
        if self.cid_pattern is None:
            return True
        if not callerid:
            return False
        return self.cid_pattern.matches(callerid)

    def add(self, priority: Priority) -> None:
        if priority.number == HINT_PRIORITY:
            self.hint = priority
            return
        if priority.number in self.priorities:
            raise PriorityInUseError(priority.number)
        self.priorities[priority.number] = priority
        if priority.label:
            self.labels.setdefault(priority.label, priority.number)

    def remove(self, number: int | None, registrar: str | None) -> None:
        for key in list(self.priorities) if number is None else [number]:
            found = self.priorities.get(key)
            if found is not None and (registrar is None or found.registrar == registrar):
                del self.priorities[key]
                if found.label and self.labels.get(found.label) == key:
                    del self.labels[found.label]
        if number is None and self.hint is not None and registrar in (None, self.hint.registrar):
            self.hint = None

    def ordered_priorities(self) -> list[Priority]:
        return [self.priorities[n] for n in sorted(self.priorities)]

    @property
    def is_empty(self) -> bool:
        return not self.priorities and self.hint is None


class EarlyMatchStop(Exception):
    """An extension ending in '!' matched in MATCHMORE mode: the answer is final "no"."""


@dataclass
class Context:
    name: str
    registrar: str = "pbx_config"
    origin: Origin | None = None
    includes: list[Include] = field(default_factory=list)
    ignorepats: list[str] = field(default_factory=list)
    switches: list[Switch] = field(default_factory=list)
    _by_key: dict[tuple[object, ...], Extension] = field(default_factory=dict, init=False, repr=False)
    _literals: dict[str, list[Extension]] = field(default_factory=dict, init=False, repr=False)
    _literal_keys: list[str] = field(default_factory=list, init=False, repr=False)
    _patterns: list[Extension] = field(default_factory=list, init=False, repr=False)
    # For the first few dialled characters, which patterns could match at all (in walk
    # order).  Built on demand, so a lookup only tests the few plausible patterns.
    _by_prefix: dict[str, list[Extension]] = field(default_factory=dict, init=False, repr=False)

    # -- building ---------------------------------------------------------------------
    def extension(self, name: str, cidmatch: str | None = None, *, origin: Origin | None = None,
                  registrar: str = "pbx_config") -> Extension:
        """The extension with this name and CID match, created (and indexed) if missing."""
        candidate = Extension(name, cidmatch, origin, registrar)
        existing = self._by_key.get(candidate.sort_key)
        if existing is not None:
            return existing
        self._by_key[candidate.sort_key] = candidate
        if candidate.pattern.is_pattern:
            bisect.insort(self._patterns, candidate, key=lambda e: e.sort_key)
            self._by_prefix.clear()
        else:
            literal = strip_dashes(name)
            variants = self._literals.get(literal)
            if variants is None:
                variants = self._literals[literal] = []
                bisect.insort(self._literal_keys, literal)
            bisect.insort(variants, candidate, key=lambda e: e.sort_key)
        return candidate

    def find_existing(self, name: str, cidmatch: str | None = None) -> Extension | None:
        return self._by_key.get(Extension(name, cidmatch, None, "").sort_key)

    def drop_if_empty(self, extension: Extension) -> None:
        if not extension.is_empty:
            return
        del self._by_key[extension.sort_key]
        if extension.pattern.is_pattern:
            self._patterns.remove(extension)
            self._by_prefix.clear()
            return
        literal = strip_dashes(extension.name)
        variants = self._literals[literal]
        variants.remove(extension)
        if not variants:
            del self._literals[literal]
            self._literal_keys.remove(literal)

    def merged_with(self, other: Context) -> Context:
        """A new context holding this context's entries followed by *other*'s."""
        merged = Context(self.name, self.registrar, self.origin)
        for source in (self, other):
            for ext in source.extensions():
                target = merged.extension(ext.name, ext.cidmatch, origin=ext.origin, registrar=ext.registrar)
                for priority in [*ext.ordered_priorities(), *([ext.hint] if ext.hint else [])]:
                    if priority.number not in target.priorities:
                        target.add(priority)
            merged.includes.extend(source.includes)
            merged.ignorepats.extend(source.ignorepats)
            merged.switches.extend(source.switches)
        return merged

    # -- reading ----------------------------------------------------------------------
    def extensions(self) -> list[Extension]:
        """Every extension in Asterisk's walk order."""
        literals = [ext for key in self._literal_keys for ext in self._literals[key]]
        return literals + self._patterns

    def __len__(self) -> int:
        return len(self._by_key)

    def candidates(self, exten: str, mode: MatchMode, callerid: str | None) -> Iterator[Extension]:
        """Extensions matching *exten* and the caller ID, in walk order.

        Raises :class:`EarlyMatchStop` when, in MATCHMORE mode, an extension ending in '!'
        matches: Asterisk stops searching this context there.
        """
        data = strip_dashes(exten)
        if mode is MatchMode.MATCH:
            for ext in self._literals.get(data, ()):
                if ext.matches_callerid(callerid):
                    yield ext
            for ext in self._plausible_patterns(data):
                if ext.pattern.matches(data) and ext.matches_callerid(callerid):
                    yield ext
            return
        start = bisect.bisect_left(self._literal_keys, data)
        for literal in self._literal_keys[start:]:
            if not literal.startswith(data):
                break
            for ext in self._literals[literal]:
                if ext.pattern.match(data, mode) and ext.matches_callerid(callerid):
                    yield ext
        for ext in self._plausible_patterns(data):
            result = ext.pattern.match(data, mode)
            if not result or not ext.matches_callerid(callerid):
                continue
            if result == EARLY_MATCH and mode is MatchMode.MATCHMORE:
                raise EarlyMatchStop
            yield ext

    def _plausible_patterns(self, data: str) -> list[Extension]:
        key = data[:PREFIX_INDEX_LENGTH]
        found = self._by_prefix.get(key)
        if found is None:
            if len(self._by_prefix) >= MAX_PREFIX_ENTRIES:
                self._by_prefix.clear()
            # Narrow the parent prefix's list: each level costs only what is left.
            parent = self._plausible_patterns(key[:-1]) if key else self._patterns
            found = self._by_prefix[key] = [e for e in parent if e.pattern.accepts_prefix(key)]
        return found

    def ignores(self, exten: str) -> bool:
        """``ast_ignore_pattern``: only this context's own ``ignorepat`` entries count."""
        return any(ExtensionPattern(pat).matches(exten) for pat in self.ignorepats)
