"""Tone lists and the tone generator of Asterisk's ``main/indications.c``, and Milliwatt.

A tone list is what ``Playtones()``, ``indications.conf`` and ``WaitExten(d(...))`` play:
elements separated by ``,`` (or by ``|`` when the string holds one), each
``[!]f1[+f2][/ms]``, ``[!]f1*f2[/ms]`` (f1 amplitude-modulated by f2) or MIDI notes
``M60[+M64][/ms]``. An element without ``/ms`` plays forever. The list repeats from its
first element without ``!``; when every element has ``!`` it plays once and stops.

The generator reproduces Asterisk's integer oscillator sample for sample, so a tone
encoded with Asterisk's µ-law table is byte-identical to what Asterisk sends:

* per frequency ``fac = trunc(2·cos(2πf/8000)·32768)``, starting values
  ``v2 = trunc(sin(−4πf/8000)·vol)`` and ``v3 = trunc(sin(−2πf/8000)·vol)``, where
  ``f/8000`` is computed in single precision as Asterisk's ``float`` constants make it;
* each sample ``v1 = v2; v2 = v3; v3 = (fac·v2 >> 15) − v1``, output ``v3(f1) + v3(f2)``
  wrapped to 16 bits;
* an element ends when its sample count reaches ``ms·8``, checked after each whole frame,
  so cadences are quantised to the frame size (``450/350`` lasts 360 ms in 20 ms frames);
* the oscillators restart only when the element changes, so a one-element list such as
  Milliwatt's ``1004/1000`` repeats without a phase jump.

Output is signed linear at 8000 Hz (numpy ``int16``), as Asterisk's generator always
writes; converting to the channel's codec is the caller's business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_VOLUME",
    "MILLIWATT_CADENCE_TONE",
    "MILLIWATT_OLD_PATTERN",
    "MILLIWATT_TONE",
    "MILLIWATT_VOLUME",
    "SAMPLE_RATE",
    "MilliwattPattern",
    "ToneGenerator",
    "ToneList",
    "ToneListError",
    "TonePart",
    "midi_note_hz",
    "milliwatt",
    "parse_tone_list",
    "parse_tone_part",
]

SAMPLE_RATE = 8000
# ast_playtones_start's volume when the caller passes none (about -8 dBm0).
DEFAULT_VOLUME = 7219
# app_milliwatt: 1004 Hz at the level of a digital milliwatt.
MILLIWATT_VOLUME = 23255
MILLIWATT_TONE = "1004/1000"
MILLIWATT_CADENCE_TONE = "1004/9000,0/1000"  # option m: 9 s tone, 1 s silence
# Option o: the classic 1000 Hz µ-law cycle, sent as bytes without any encoding.
MILLIWATT_OLD_PATTERN = bytes((0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E))

_WHITESPACE = " \t\n\v\f\r"  # C isspace()
_SCAN_WIDTH = 30  # every conversion is %30u
_U32 = 0xFFFFFFFF
_ULONG_MAX = (1 << 64) - 1
_MIDI_NOTES = 128
_MAX_VOLUME = 32767


class ToneListError(ValueError):
    """A tone list with no element that parses (Asterisk: "No valid tone parts")."""


@dataclass(frozen=True, slots=True)
class TonePart:
    """One element of a tone list, frequencies already in Hz (MIDI notes resolved)."""

    freq1: int
    freq2: int = 0  # 0: a single frequency
    duration_ms: int = 0  # 0: forever
    modulate: bool = False  # f1*f2: f1 amplitude-modulated by f2
    once: bool = False  # written with '!': not part of the repeating section


@dataclass(frozen=True, slots=True)
class ToneList:
    """A parsed tone list. ``repeat_from`` is the element the list restarts at after its
    last one, ``None`` when every element has ``!`` and the list plays only once.
    ``rejected`` holds the elements that did not parse and were left out, as Asterisk
    logs and skips them."""

    parts: tuple[TonePart, ...]
    repeat_from: int | None
    rejected: tuple[str, ...] = ()


def _scan(text: str, template: str) -> list[int]:
    """``sscanf(text, template)`` for templates made of ``u`` (``%30u``) and literal
    characters: the values converted before the first mismatch, as C counts them."""
    values: list[int] = []
    pos = 0
    for token in template:
        if token != "u":
            if pos < len(text) and text[pos] == token:
                pos += 1
                continue
            return values
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        start = pos
        negative = False
        if pos < len(text) and text[pos] in "+-":
            negative = text[pos] == "-"
            pos += 1
        digits_at = pos
        while pos < len(text) and pos - start < _SCAN_WIDTH and text[pos].isascii() and text[pos].isdigit():
            pos += 1
        if pos == digits_at:
            return values
        # strtoul: saturate on overflow, negate modulo 2**64; the store keeps 32 bits.
        value = min(int(text[digits_at:pos]), _ULONG_MAX)
        if negative:
            value = -value & _ULONG_MAX
        values.append(value & _U32)
    return values


# ast_tone_zone_part_parse's formats, tried in its order: (template, modulate, midi).
_PART_FORMATS: tuple[tuple[str, bool, bool], ...] = (
    ("u+u/u", False, False),
    ("u+u", False, False),
    ("u*u/u", True, False),
    ("u*u", True, False),
    ("u/u", False, False),
    ("u", False, False),
    ("Mu+Mu/u", False, True),
    ("Mu+Mu", False, True),
    ("Mu*Mu/u", True, True),
    ("Mu*Mu", True, True),
    ("Mu/u", False, True),
    ("Mu", False, True),
)


def midi_note_hz(note: int) -> int:
    """Asterisk's MIDI table: the equal-tempered frequency (A4 = note 69 = 440 Hz),
    truncated to whole Hz; notes outside 0-127 give 0 (silence)."""
    if not 0 <= note < _MIDI_NOTES:
        return 0
    return int(440.0 * 2.0 ** ((note - 69) / 12.0))


def _as_c_int(value: int) -> int:
    """An unsigned 32-bit value stored into a C ``int``."""
    value &= _U32
    return value - (1 << 32) if value & 0x80000000 else value


def parse_tone_part(text: str) -> TonePart | None:
    """One element without its ``!``; ``None`` when no format matches."""
    for template, modulate, midi in _PART_FORMATS:
        values = _scan(text, template)
        wanted = template.count("u")
        if len(values) != wanted:
            continue
        has_pair = "+" in template or "*" in template
        freq1 = values[0]
        # A lone MIDI note leaves freq2 at -1, out of the table's range: silence.
        freq2 = values[1] if has_pair else (_U32 if midi else 0)
        duration = values[-1] if template.endswith("/u") else 0
        if midi:
            freq1, freq2 = midi_note_hz(freq1), midi_note_hz(freq2)
        return TonePart(freq1, freq2, _as_c_int(duration), modulate)
    return None


def parse_tone_list(spec: str) -> ToneList:
    """Parse a tone list as ``ast_playtones_start`` does. Elements that do not parse are
    skipped (and listed in ``rejected``); none at all raises :class:`ToneListError`."""
    separator = "|" if "|" in spec else ","
    parts: list[TonePart] = []
    rejected: list[str] = []
    repeat_from: int | None = None
    for raw in spec.split(separator):
        if not raw:  # strsep's loop ends at the first empty element
            break
        element = raw.strip(_WHITESPACE)
        once = element.startswith("!")
        if once:
            element = element[1:]
        elif repeat_from is None:
            repeat_from = len(parts)
        part = parse_tone_part(element)
        if part is None:
            rejected.append(element)
            continue
        parts.append(
            TonePart(part.freq1, part.freq2, part.duration_ms, part.modulate, once=once)
        )
    if not parts:
        raise ToneListError(f"no valid tone parts in {spec!r}")
    if repeat_from is not None and repeat_from >= len(parts):
        # A repeat point on a rejected trailing element: Asterisk would index past the
        # end of its list; the nearest sane reading is to repeat the last element.
        repeat_from = len(parts) - 1
    return ToneList(tuple(parts), repeat_from, tuple(rejected))


@dataclass(frozen=True, slots=True)
class _Oscillator:
    fac: int
    v2: int
    v3: int

    @classmethod
    def for_frequency(cls, freq: int, volume: int) -> _Oscillator:
        # Asterisk divides by a float constant: the ratio is single precision.
        ratio = float(np.float32(freq) / np.float32(SAMPLE_RATE))
        return cls(
            int(2.0 * math.cos(2.0 * math.pi * ratio) * 32768.0),
            int(math.sin(-4.0 * math.pi * ratio) * volume),
            int(math.sin(-2.0 * math.pi * ratio) * volume),
        )

    @property
    def silent(self) -> bool:
        """0 Hz: both starting values are 0, so every sample is 0."""
        return self.v2 == 0 and self.v3 == 0


@dataclass(frozen=True, slots=True)
class _Item:
    osc1: _Oscillator
    osc2: _Oscillator
    modulate: bool
    # Sample count that ends the element (duration·8 as the C int it is); None: forever.
    limit: int | None


class ToneGenerator:
    """Asterisk's ``playtones`` generator for one tone list.

    ``read(samples)`` returns the next frame, ``None`` once a play-once list is over
    (the frame that completes it is still returned, as Asterisk writes it before
    stopping).
    """

    def __init__(self, tones: str | ToneList, volume: int = DEFAULT_VOLUME) -> None:
        if volume > _MAX_VOLUME:
            raise ValueError(f"tone volume {volume} is above {_MAX_VOLUME}")
        if volume < 1:
            volume = DEFAULT_VOLUME
        self.tones = parse_tone_list(tones) if isinstance(tones, str) else tones
        self.volume = volume
        self._items = [
            _Item(
                _Oscillator.for_frequency(part.freq1, volume),
                _Oscillator.for_frequency(part.freq2, volume),
                part.modulate,
                _as_c_int(part.duration_ms * 8) if part.duration_ms else None,
            )
            for part in self.tones.parts
        ]
        self._npos = 0
        self._loaded = -1  # the element whose oscillator state is current
        self._pos = 0
        self._state = (0, 0, 0, 0, 0, 0)  # v1, v2, v3 of each oscillator
        self.finished = False

    def read(self, samples: int = 160) -> npt.NDArray[np.int16] | None:
        if samples < 1:
            raise ValueError(f"a frame needs at least one sample, not {samples}")
        if self.finished:
            return None
        item = self._items[self._npos]
        if self._loaded != self._npos:
            self._state = (0, item.osc1.v2, item.osc1.v3, 0, item.osc2.v2, item.osc2.v3)
            self._loaded = self._npos
        frame = self._synthesize(item, samples)
        self._pos += samples
        if item.limit is not None and self._pos >= item.limit:
            self._pos = 0
            self._npos += 1
            if self._npos >= len(self._items):
                if self.tones.repeat_from is None:
                    self.finished = True
                else:
                    self._npos = self.tones.repeat_from
        return frame

    def _synthesize(self, item: _Item, samples: int) -> npt.NDArray[np.int16]:
        a1, a2, a3, b1, b2, b3 = self._state
        fac1, fac2 = item.osc1.fac, item.osc2.fac
        out = [0] * samples
        if item.modulate:
            for x in range(samples):
                a1, a2 = a2, a3
                a3 = ((fac1 * a2) >> 15) - a1
                b1, b2 = b2, b3
                b3 = ((fac2 * b2) >> 15) - b1
                depth = abs(b3 - 32768) * 9 // 10 + 1
                out[x] = (a3 * depth) >> 15
        elif item.osc1.silent and item.osc2.silent:
            return np.zeros(samples, dtype=np.int16)
        elif item.osc2.silent:
            for x in range(samples):
                a1, a2 = a2, a3
                a3 = ((fac1 * a2) >> 15) - a1
                out[x] = a3
        else:
            for x in range(samples):
                a1, a2 = a2, a3
                a3 = ((fac1 * a2) >> 15) - a1
                b1, b2 = b2, b3
                b3 = ((fac2 * b2) >> 15) - b1
                out[x] = a3 + b3
        self._state = (a1, a2, a3, b1, b2, b3)
        # The C store into a short keeps the low 16 bits.
        return np.array(out, dtype=np.int64).astype(np.int16)


class MilliwattPattern:
    """``Milliwatt(o)``: the 8-byte µ-law cycle, continued across frames. These are
    already µ-law bytes and go out as they are."""

    def __init__(self) -> None:
        self._index = 0

    def read(self, samples: int = 160) -> bytes:
        if samples < 1:
            raise ValueError(f"a frame needs at least one sample, not {samples}")
        period = len(MILLIWATT_OLD_PATTERN)
        start = self._index
        self._index = (start + samples) % period
        repeats = (start + samples) // period + 1
        return (MILLIWATT_OLD_PATTERN * repeats)[start : start + samples]


def milliwatt(options: str = "") -> ToneGenerator | MilliwattPattern:
    """The audio source of ``Milliwatt(options)``: ``o`` (it wins over ``m``) the old µ-law
    pattern, ``m`` 9 s of tone and 1 s of silence, otherwise a continuous 1004 Hz tone."""
    if "o" in options:
        return MilliwattPattern()
    spec = MILLIWATT_CADENCE_TONE if "m" in options else MILLIWATT_TONE
    return ToneGenerator(spec, MILLIWATT_VOLUME)
