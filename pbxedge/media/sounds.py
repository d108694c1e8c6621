"""Finding a sound file by name, language and codec, as Asterisk's ``main/file.c`` does.

Each folder in ``dirs`` is a sounds tree (Asterisk's ``<astdatadir>/sounds``), searched in
order, so an admin's folder listed first overrides the packaged prompts. Within a tree the
languages are tried as ``fileexists_core`` tries them: the channel language (``en_GB``), then
without each ``_`` suffix (``en``), then no language folder, then ``en``. The first place
where any format of the file exists wins; of the formats there, the one Asterisk's translator
would pick for the channel's format is used (a µ-law caller gets ``.ulaw`` untranscoded).
An absolute name is used as is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pbxedge.media.fileformats import FileFormat
from pbxedge.media.formats import Format
from pbxedge.media.translate import best_choice

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class FoundSound:
    path: Path
    file_format: FileFormat

    @property
    def format(self) -> Format:
        return self.file_format.media


def languages_to_try(language: str) -> list[str]:
    """Language folders in Asterisk's order; ``""`` is the tree's root."""
    order: list[str] = []
    lang = language
    while lang:
        order.append(lang)
        lang = lang.rpartition("_")[0]
    for extra in ("", DEFAULT_LANGUAGE):
        if extra not in order:
            order.append(extra)
    return order


def sound_files(
    name: str, language: str, dirs: Sequence[str | os.PathLike[str]]
) -> dict[FileFormat, Path]:
    """Every format of ``name`` in the first place that has one (empty if none has)."""
    if os.path.isabs(name):
        return _formats_at(Path(name))
    for base in dirs:
        for lang in languages_to_try(language):
            found = _formats_at(Path(base, lang, name))
            if found:
                return found
    return {}


def _formats_at(stem: Path) -> dict[FileFormat, Path]:
    found: dict[FileFormat, Path] = {}
    for fmt in FileFormat:
        for ext in fmt.extensions:
            candidate = stem.with_name(f"{stem.name}.{ext}")
            if candidate.is_file():
                found[fmt] = candidate
                break
    return found


def find_sound(
    name: str,
    language: str,
    dirs: Sequence[str | os.PathLike[str]],
    preferred: Format | Sequence[Format],
) -> FoundSound | None:
    """The file to play for ``name`` to a channel whose format(s) are ``preferred``."""
    files = sound_files(name, language, dirs)
    if not files:
        return None
    caps = [preferred] if isinstance(preferred, Format) else list(preferred)
    available = list(dict.fromkeys(fmt.media for fmt in files))
    choice = best_choice(available, caps)
    if choice is None:
        return None
    for fmt, path in files.items():
        if fmt.media == choice[0]:
            return FoundSound(path, fmt)
    return None  # pragma: no cover - choice[0] is one of the available formats


def sound_exists(name: str, language: str, dirs: Sequence[str | os.PathLike[str]]) -> bool:
    return bool(sound_files(name, language, dirs))
