"""Codec bit masks, names, CODEC_PREFS letters and Asterisk's codec orders.

Wire constants only (reference iax2.md §1.10); no audio processing lives here.
Bit values follow Asterisk's ``format_compatibility.h``; where RFC 5456 names a bit
differently (G.726 packings, bit 13) Asterisk wins because Asterisk is who we talk to.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntFlag

__all__ = [
    "AUDIO_MASK",
    "BANDWIDTH_HIGH",
    "BANDWIDTH_LOW",
    "BANDWIDTH_MEDIUM",
    "BEST_ORDER",
    "Codec",
    "UnknownCodecError",
    "best_codec",
    "codec_by_name",
    "codec_name",
    "codec_prefs_decode",
    "codec_prefs_encode",
    "codecs_in",
    "frame_ms",
    "mask_names",
]


class Codec(IntFlag):
    G723 = 1 << 0
    GSM = 1 << 1
    ULAW = 1 << 2
    ALAW = 1 << 3
    G726AAL2 = 1 << 4
    ADPCM = 1 << 5
    SLIN = 1 << 6
    LPC10 = 1 << 7
    G729 = 1 << 8
    SPEEX = 1 << 9
    ILBC = 1 << 10
    G726 = 1 << 11
    G722 = 1 << 12
    SIREN7 = 1 << 13
    SIREN14 = 1 << 14
    SLIN16 = 1 << 15
    JPEG = 1 << 16
    PNG = 1 << 17
    H261 = 1 << 18
    H263 = 1 << 19
    H263P = 1 << 20
    H264 = 1 << 21
    MPEG4 = 1 << 22
    VP8 = 1 << 23
    T140RED = 1 << 26
    T140 = 1 << 27
    G719 = 1 << 32
    SPEEX16 = 1 << 33
    OPUS = 1 << 34


class UnknownCodecError(ValueError):
    """A codec name Asterisk would not recognise."""


# Asterisk's names, as `allow=` takes them and `iax2 show peer` prints them.
_NAMES: dict[Codec, str] = {
    Codec.G723: "g723",
    Codec.GSM: "gsm",
    Codec.ULAW: "ulaw",
    Codec.ALAW: "alaw",
    Codec.G726AAL2: "g726aal2",
    Codec.ADPCM: "adpcm",
    Codec.SLIN: "slin",
    Codec.LPC10: "lpc10",
    Codec.G729: "g729",
    Codec.SPEEX: "speex",
    Codec.ILBC: "ilbc",
    Codec.G726: "g726",
    Codec.G722: "g722",
    Codec.SIREN7: "siren7",
    Codec.SIREN14: "siren14",
    Codec.SLIN16: "slin16",
    Codec.JPEG: "jpeg",
    Codec.PNG: "png",
    Codec.H261: "h261",
    Codec.H263: "h263",
    Codec.H263P: "h263p",
    Codec.H264: "h264",
    Codec.MPEG4: "mpeg4",
    Codec.VP8: "vp8",
    Codec.T140RED: "red",
    Codec.T140: "t140",
    Codec.G719: "g719",
    Codec.SPEEX16: "speex16",
    Codec.OPUS: "opus",
}

# Spellings admins write in allow=/disallow= that Asterisk also accepts.
_ALIASES: dict[str, Codec] = {
    "g723.1": Codec.G723,
    "g729a": Codec.G729,
    "slinear": Codec.SLIN,
    "slin8": Codec.SLIN,
    "mulaw": Codec.ULAW,
    "g711u": Codec.ULAW,
    "g711a": Codec.ALAW,
    "ima-adpcm": Codec.ADPCM,
    "g722.1": Codec.SIREN7,
    "g722.1c": Codec.SIREN14,
}

# Order value sent in CODEC_PREFS ('A' + value), codec_pref.c: index+1 goes on the wire.
_ORDER: dict[Codec, int] = {
    Codec.G723: 1,
    Codec.GSM: 2,
    Codec.ULAW: 3,
    Codec.ALAW: 4,
    Codec.G726: 5,
    Codec.ADPCM: 6,
    Codec.SLIN: 7,
    Codec.LPC10: 8,
    Codec.G729: 9,
    Codec.SPEEX: 10,
    Codec.SPEEX16: 11,
    Codec.ILBC: 12,
    Codec.G726AAL2: 13,
    Codec.G722: 14,
    Codec.SLIN16: 15,
    Codec.JPEG: 16,
    Codec.PNG: 17,
    Codec.H261: 18,
    Codec.H263: 19,
    Codec.H263P: 20,
    Codec.H264: 21,
    Codec.MPEG4: 22,
    Codec.T140RED: 23,
    Codec.T140: 24,
    Codec.SIREN7: 25,
    Codec.SIREN14: 26,
    Codec.G719: 28,
    Codec.OPUS: 37,
    Codec.VP8: 38,
}
_BY_ORDER = {v: k for k, v in _ORDER.items()}

AUDIO_MASK = (
    Codec.G723 | Codec.GSM | Codec.ULAW | Codec.ALAW | Codec.G726AAL2 | Codec.ADPCM
    | Codec.SLIN | Codec.LPC10 | Codec.G729 | Codec.SPEEX | Codec.ILBC | Codec.G726
    | Codec.G722 | Codec.SIREN7 | Codec.SIREN14 | Codec.SLIN16 | Codec.G719
    | Codec.SPEEX16 | Codec.OPUS
)

# bandwidth= masks (chan_iax2.c 410-429): "high" is bits 0-15 only.
BANDWIDTH_HIGH = Codec(0xFFFF)
BANDWIDTH_MEDIUM = BANDWIDTH_HIGH & ~(
    Codec.SLIN | Codec.SLIN16 | Codec.SIREN7 | Codec.SIREN14 | Codec.ULAW | Codec.ALAW
    | Codec.G722
)
BANDWIDTH_LOW = BANDWIDTH_MEDIUM & ~(Codec.G726 | Codec.G726AAL2 | Codec.ADPCM)

# iax2_format_compatibility_best(): the fixed fallback order when no preferences apply.
BEST_ORDER: tuple[Codec, ...] = (
    Codec.ULAW, Codec.ALAW, Codec.G719, Codec.SIREN14, Codec.SIREN7, Codec.G722,
    Codec.SLIN16, Codec.SLIN, Codec.G726, Codec.G726AAL2, Codec.ADPCM, Codec.GSM,
    Codec.ILBC, Codec.SPEEX16, Codec.SPEEX, Codec.OPUS, Codec.LPC10, Codec.G729,
    Codec.G723,
)


def codec_by_name(name: str) -> Codec:
    """Return the codec Asterisk calls *name* (case-insensitive)."""
    key = name.strip().lower()
    for codec, codec_name_ in _NAMES.items():
        if codec_name_ == key:
            return codec
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownCodecError(name)


def codec_name(codec: Codec | int) -> str:
    """Asterisk's name for a single codec bit, or ``unknown(0x..)``."""
    try:
        return _NAMES[Codec(codec)]
    except (KeyError, ValueError):
        return f"unknown(0x{int(codec):x})"


def codecs_in(mask: int) -> list[Codec]:
    """The known codec bits set in *mask*, lowest bit first."""
    return [c for c in _NAMES if mask & c]


def mask_names(mask: int) -> str:
    """``(gsm|ulaw|alaw)`` in bit order, as ``iax2 show peer`` prints Codecs."""
    names = [codec_name(c) for c in codecs_in(mask)]
    return "(" + "|".join(names) + ")" if names else "(nothing)"


def codec_prefs_encode(prefs: Iterable[Codec]) -> str:
    """CODEC_PREFS IE text: one letter per codec, ``'A' + order``, at most 31."""
    return "".join(chr(ord("A") + _ORDER[c]) for c in prefs if c in _ORDER)[:31]


def codec_prefs_decode(text: str) -> list[Codec]:
    """Inverse of :func:`codec_prefs_encode`; unknown letters are skipped."""
    out: list[Codec] = []
    for ch in text:
        codec = _BY_ORDER.get(ord(ch) - ord("A"))
        if codec is not None and codec not in out:
            out.append(codec)
    return out


# Payload bytes per millisecond of audio, for codecs whose frames IAX2 sizes by bytes.
_BYTES_PER_MS: dict[int, int] = {Codec.ULAW: 8, Codec.ALAW: 8, Codec.SLIN: 16, Codec.SLIN16: 32, Codec.G722: 8}


def frame_ms(codec: int, nbytes: int) -> int:
    """How much audio a voice payload carries (20 ms when the codec does not say)."""
    per_ms = _BYTES_PER_MS.get(codec)
    if per_ms is not None:
        return max(1, nbytes // per_ms)
    if codec == Codec.GSM and nbytes % 33 == 0 and nbytes:
        return 20 * (nbytes // 33)
    return 20


def best_codec(mask: int) -> Codec | None:
    """Asterisk's fixed-order choice from *mask* (audio only), or None."""
    mask = int(mask)
    for codec in BEST_ORDER:
        if mask & int(codec):
            return codec
    return None
