"""G.711 µ-law and A-law, byte for byte as Asterisk 22 encodes and decodes them.

Asterisk fills 14-bit (µ-law) and 13-bit (A-law) encode tables by encoding every 16-bit value in
ascending order, so each entry keeps the code of the largest of the inputs that share it. The
net effect is ``ulaw(s) = sun_ulaw(s | 3)`` and ``alaw(s) = g711_alaw(s | 7)``. CPython's
``audioop`` truncates instead, so its µ-law differs from Asterisk's on 508 negative inputs; its
A-law agrees everywhere. The tables below are built once at import from those algorithms and
applied with numpy indexing (PCM) or ``bytes.translate`` (µ-law <-> A-law, as codec_a_mu does).
"""

from __future__ import annotations

from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]

_ALL = np.arange(-32768, 32768, dtype=np.int32)
# Index of a sample in the 65 536-entry encode tables: its 16 bits read as unsigned.
_INDEX = _ALL.astype(np.int16).view(np.uint16)


def _segment(magnitude: npt.NDArray[np.int32], bounds: list[int]) -> npt.NDArray[np.int32]:
    """Index of the first bound that ``magnitude`` does not exceed."""
    return np.searchsorted(np.array(bounds), magnitude, side="left").astype(np.int32)


def _sun_ulaw(x: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), 32635) + 0x84
    exponent = _segment((magnitude >> 7) & 0xFF, [1, 3, 7, 15, 31, 63, 127, 255])
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    codes: npt.NDArray[np.uint8] = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return codes


def _g711_alaw(x: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    mask = np.where(x >= 0, 0xD5, 0x55)
    magnitude = np.abs(x)
    segment = _segment(magnitude, [0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF])
    shift = np.where(segment > 0, segment + 3, 4)
    return ((((segment << 4) | ((magnitude >> shift) & 0x0F)) ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_decode_table() -> Pcm:
    inverted = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (inverted >> 4) & 7
    value = ((inverted & 0x0F) << (exponent + 3)) + (0x84 << exponent) - 0x84
    return np.where(inverted & 0x80, -value, value).astype(np.int16)


def _alaw_decode_table() -> Pcm:
    x = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (x >> 4) & 7
    value = ((x & 0x0F) << 4) + 8
    value = np.where(segment > 0, (value + 0x100) << np.maximum(segment - 1, 0), value)
    return np.where(x & 0x80, value, -value).astype(np.int16)


_T = TypeVar("_T", bound=np.generic)


def _frozen(table: npt.NDArray[_T]) -> npt.NDArray[_T]:
    table.flags.writeable = False
    return table


def _encode_table(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The 65 536-entry table indexed by a sample's 16 bits read as unsigned."""
    table = np.empty(65536, dtype=np.uint8)
    table[_INDEX] = codes
    return _frozen(table)


ULAW_ENCODE: Final = _encode_table(_sun_ulaw(_ALL | 3))
ALAW_ENCODE: Final = _encode_table(_g711_alaw(_ALL | 7))
ULAW_DECODE: Final = _frozen(_ulaw_decode_table())
ALAW_DECODE: Final = _frozen(_alaw_decode_table())

# 256-byte tables for bytes.translate, as codec_a_mu builds them.
ULAW_TO_ALAW: Final = bytes(ALAW_ENCODE[ULAW_DECODE.view(np.uint16)])
ALAW_TO_ULAW: Final = bytes(ULAW_ENCODE[ALAW_DECODE.view(np.uint16)])


def ulaw_encode(pcm: Pcm) -> bytes:
    return bytes(ULAW_ENCODE[pcm.view(np.uint16)])


def alaw_encode(pcm: Pcm) -> bytes:
    return bytes(ALAW_ENCODE[pcm.view(np.uint16)])


def ulaw_decode(data: bytes) -> Pcm:
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> Pcm:
    return ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_to_alaw(data: bytes) -> bytes:
    return data.translate(ULAW_TO_ALAW)


def alaw_to_ulaw(data: bytes) -> bytes:
    return data.translate(ALAW_TO_ULAW)
