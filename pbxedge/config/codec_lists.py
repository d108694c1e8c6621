"""``allow=``/``disallow=`` applied in order to a codec mask and a preference list.

Asterisk edits both together (``iax2_parse_allow_disallow``): the preference list is the
order in which codecs were allowed, and it becomes the CODEC_PREFS IE (reference §1.10,
§15.8). Items are comma (or ``|``) separated; ``all`` means every audio codec; a leading
``!`` inverts an item, as in Asterisk's format parser.
"""

from __future__ import annotations

import functools
import re

from pbxedge.config.values import ValueFormError
from pbxedge.iax2.codecs import AUDIO_MASK, BEST_ORDER, Codec, UnknownCodecError, codec_by_name

__all__ = ["CODEC_FORMS", "CodecSelection", "apply_codec_list"]

CODEC_FORMS = "codec names such as ulaw, alaw, gsm, g722, g726, slin, ilbc, opus, or all (comma separated)"


class CodecSelection:
    """A capability mask plus the preference order, edited line by line."""

    __slots__ = ("mask", "notes", "prefs")

    def __init__(self, mask: Codec, prefs: list[Codec]) -> None:
        self.mask = mask
        self.prefs = list(prefs)
        # Remarks for the admin about parts of a value that have no effect.
        self.notes: list[str] = []


def apply_codec_list(selection: CodecSelection, value: str, *, allowing: bool) -> None:
    """Apply one ``allow=``/``disallow=`` value; raises ValueFormError on unknown codecs.

    Nothing is changed when the value has an unknown name, so one typo cannot leave a
    half-applied list behind.
    """
    edits, notes = _parse_codec_list(value, allowing)
    selection.notes.extend(notes)
    for allow, codec in edits:
        _apply(selection, allow, codec)


# Templates repeat the same few values on every entry; each is read once.
@functools.lru_cache(maxsize=256)
def _parse_codec_list(value: str, allowing: bool) -> tuple[tuple[tuple[bool, Codec | None], ...], tuple[str, ...]]:
    """The (allow, codec) edits of one value (codec None = all), and remarks for the admin."""
    edits: list[tuple[bool, Codec | None]] = []
    notes: list[str] = []
    for item in re.split(r"[,|]", value):
        name = item.strip()
        if not name:
            continue
        allow = allowing
        if name.startswith("!"):
            allow, name = not allowing, name[1:].strip()
        name, _, framing = name.partition(":")
        if framing:
            notes.append(f"packetization ':{framing}' for '{name}' is not implemented by pbxedge yet")
        if name.lower() == "all":
            edits.append((allow, None))
            continue
        try:
            edits.append((allow, codec_by_name(name)))
        except UnknownCodecError:
            raise ValueFormError(value, CODEC_FORMS) from None
    if not edits:
        raise ValueFormError(value, CODEC_FORMS)
    return tuple(edits), tuple(notes)


def _apply(selection: CodecSelection, allow: bool, codec: Codec | None) -> None:
    if codec is None:
        # pbxedge carries audio only, so "all" means every audio codec, in Asterisk's
        # fallback preference order.
        if allow:
            selection.mask |= AUDIO_MASK
            selection.prefs.extend(c for c in BEST_ORDER if c not in selection.prefs)
        else:
            selection.mask = Codec(0)
            selection.prefs.clear()
    elif allow:
        selection.mask |= codec
        if codec not in selection.prefs:
            selection.prefs.append(codec)
    else:
        selection.mask &= ~codec
        if codec in selection.prefs:
            selection.prefs.remove(codec)
