"""Music-on-hold classes from ``musiconhold.conf`` (res_musiconhold, ``mode=files``).

A class lists every file of its ``directory`` once per base name (a tune stored as ``.wav``
and ``.ulaw`` counts once; the channel picks the cheapest format when it plays), in
``sort`` order: ``alpha`` (case-insensitive), ``random``, ``randstart`` (alpha from a random
place), or, without ``sort``, the directory's own order. A relative ``directory`` is taken
from the folder of ``musiconhold.conf`` when it exists there, else from the built-in sounds
(which hold a ``moh`` folder), where Asterisk would use its data directory.
Other modes (``custom``, ``playlist`` with ``entry =``) are read as far as they list files.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Severity
from pbxedge.config.loader import load_config

__all__ = ["MohClass", "MohClasses", "load_moh"]


@dataclass(frozen=True)
class MohClass:
    name: str
    directory: Path | None
    sort: str = ""
    entries: tuple[str, ...] = ()  # mode=playlist

    def files(self, rng: random.Random) -> list[str]:
        """Paths without extension, in playing order."""
        if self.entries:
            return list(self.entries)
        if self.directory is None:
            return []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        seen: dict[str, None] = {}
        for name in names:
            base, dot, ext = name.rpartition(".")
            if name.startswith(".") or not dot or len(ext) < 2 or not base:
                continue
            seen.setdefault(base, None)
        bases = list(seen)
        if self.sort in ("alpha", "randstart"):
            bases.sort(key=str.lower)
        if self.sort == "random":
            rng.shuffle(bases)
        elif self.sort == "randstart" and bases:
            start = rng.randrange(len(bases))
            bases = bases[start:] + bases[:start]
        return [str(self.directory / base) for base in bases]


@dataclass
class MohClasses:
    classes: dict[str, MohClass] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    def files(self, name: str) -> list[str] | None:
        """The files of class *name* (case-insensitive), or None when there is no such class."""
        moh = self.classes.get(name.lower())
        return None if moh is None else moh.files(self.rng)


def load_moh(path: Path, fallback: Path | None = None) -> tuple[MohClasses, list[Diagnostic]]:
    """Read ``musiconhold.conf``; a missing file means no classes. Relative directories
    that do not exist beside it are looked for under *fallback*."""
    if not path.is_file():
        return MohClasses(), []
    try:
        config = load_config(path)
    except ConfigError as exc:
        return MohClasses(), exc.diagnostics
    problems = list(config.diagnostics)
    classes: dict[str, MohClass] = {}
    for category in config.sections():
        if category.name.lower() == "general":
            continue
        mode = category.get("mode")
        directory = category.get("directory")
        entries = tuple(v.value for v in category.get_all("entry"))
        if mode is not None and mode.value.lower() not in ("files", "playlist", "custom"):
            problems.append(Diagnostic(Severity.WARNING,
                                       f"music on hold mode '{mode.value}' is not supported",
                                       mode.origin))
        folder = None
        if directory is not None and directory.value:
            folder = Path(directory.value)
            if not folder.is_absolute():
                beside = path.parent / folder
                folder = beside if beside.is_dir() or fallback is None else fallback / folder
        sort = category.get("sort")
        classes[category.name.lower()] = MohClass(
            category.name, folder, sort.value.lower() if sort else "", entries)
    return MohClasses(classes), problems
