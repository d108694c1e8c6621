"""Codec negotiation for an incoming call, and the caller's check of the ACCEPT (iax2.md §7.5).

The algorithm is Asterisk's, shared by its unauthenticated (chan_iax2.c 10994-11111) and
authenticated (11454-11578) NEW paths. Only audio codecs take part: video bits in a peer's
capability never become the call's format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pbxedge.iax2.codecs import AUDIO_MASK, Codec, best_codec, mask_names
from pbxedge.iax2.enums import Cause

__all__ = [
    "CodecOffer",
    "NoCommonCodec",
    "PriorityFlags",
    "accept_format_ok",
    "choose_from_prefs",
    "negotiate_codec",
    "priority_flags",
]


@dataclass(frozen=True)
class PriorityFlags:
    """Asterisk's CODEC_USER_FIRST / NOPREFS / NOCAP call flags."""

    user_first: bool = False
    no_prefs: bool = False
    no_cap: bool = False


# Masks as plain ints: an operator on an IntFlag runs enum's Python code (1 % of a call setup).
_AUDIO = int(AUDIO_MASK)

_FLAGS_BY_VALUE = {
    "host": PriorityFlags(),
    "caller": PriorityFlags(user_first=True),
    "disabled": PriorityFlags(no_prefs=True),
    "reqonly": PriorityFlags(no_prefs=True, no_cap=True),
}


def priority_flags(*values: str) -> PriorityFlags:
    """Flags for a chain of ``codecpriority=`` values, e.g. ``("caller", "host")``.

    Asterisk copies the global flags into every user and the user-level parser only *sets*
    flags (13405, 13479-13487), so a user's ``host`` cannot undo a global ``caller``: the
    values are OR-ed together rather than the last one winning.
    """
    user_first = no_prefs = no_cap = False
    for value in values:
        flags = _FLAGS_BY_VALUE.get(value.strip().lower())
        if flags is None:
            raise ValueError(f"codecpriority must be host, caller, disabled or reqonly: {value!r}")
        user_first |= flags.user_first
        no_prefs |= flags.no_prefs
        no_cap |= flags.no_cap
    return PriorityFlags(user_first, no_prefs, no_cap)


@dataclass(frozen=True)
class CodecOffer:
    """What the caller's NEW offers (FORMAT2/CAPABILITY2 already preferred by the reader)."""

    format: int
    capability: int
    prefs: Sequence[Codec] = ()


@dataclass(frozen=True)
class NoCommonCodec:
    """The REJECT Asterisk sends when no codec fits; *reason* is for debug logs only."""

    reason: str

    # Properties, not ClassVars: compiled, a dataclass takes a ClassVar for a field.
    @property
    def text(self) -> str:
        return "Unable to negotiate codec"

    @property
    def cause(self) -> Cause:
        return Cause.BEARERCAPABILITY_NOTAVAIL


def choose_from_prefs(prefs: Iterable[Codec], mask: int) -> Codec | None:
    """First preferred audio codec present in *mask* (``iax2_codec_choose`` 1967-1987)."""
    mask &= _AUDIO
    for codec in prefs:
        if int(codec) & mask:
            return codec
    return None


def negotiate_codec(
    offer: CodecOffer,
    *,
    prefs: Sequence[Codec],
    capability: int,
    flags: PriorityFlags,
) -> Codec | NoCommonCodec:
    """The single codec to put in ACCEPT's FORMAT, or the REJECT 58 decision.

    *prefs* and *capability* are ours (the matched user's ``allow=`` order and mask).
    """
    cap = int(capability) & _AUDIO
    peer_cap = int(offer.capability) & _AUDIO
    chosen: Codec | None
    if flags.no_prefs:
        # FORMAT may in theory carry several bits; Asterisk would echo the mask, we pick
        # one with the fixed order so ACCEPT always names exactly one codec.
        chosen = best_codec(int(offer.format) & cap)
    else:
        preferred = offer.prefs if (offer.prefs and flags.user_first) else prefs
        chosen = choose_from_prefs(preferred, cap & peer_cap)
    if chosen is not None:
        return chosen

    common = 0 if flags.no_cap else peer_cap & cap
    if common:
        if flags.no_prefs:
            chosen = best_codec(common)
        elif offer.prefs:
            # "Do the opposite" of the first attempt: the other side's order this time.
            chosen = choose_from_prefs(prefs if flags.user_first else offer.prefs, common)
        else:
            chosen = best_codec(common)
    if chosen is not None:
        return chosen
    return NoCommonCodec(
        reason=(
            f"requested format {mask_names(offer.format)}, "
            f"capability {mask_names(peer_cap)}, ours {mask_names(cap)}"
        )
    )


def accept_format_ok(accept_format: int, capability: int) -> bool:
    """Caller side: an ACCEPT whose FORMAT shares no bit with our capability is answered
    with REJECT 58 (11239-11308: ``if (!(peerformat & capability))``)."""
    return bool(accept_format & capability)
