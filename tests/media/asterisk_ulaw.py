"""A µ-law codec for the tone tests, written from the reference's description of Asterisk's
(``ulaw(s) = sun_encode(s | 3)``, not audioop's), so generated tones can be compared with
the bytes Asterisk was measured sending. Once the codec module exists this file should give
way to it; it is kept apart so that swap touches nothing else.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_CLIP = 32635
_BIAS = 0x84
_DECODE_BASE = (0, 132, 396, 924, 1980, 4092, 8316, 16764)


def _sun_encode(value: int) -> int:
    sign = 0x80 if value < 0 else 0
    magnitude = min(abs(value), _CLIP) + _BIAS
    exponent = max(((magnitude >> 7) & 0xFF).bit_length() - 1, 0)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def _signed(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


_ENCODE = np.array(
    [_sun_encode(_signed((s & 0xFFFF) | 3)) for s in range(0x10000)], dtype=np.uint8
)


def _decode(byte: int) -> int:
    inverted = ~byte & 0xFF
    exponent = (inverted >> 4) & 7
    value = ((inverted & 0x0F) << (exponent + 3)) + _DECODE_BASE[exponent]
    return -value if inverted & 0x80 else value


_DECODE = np.array([_decode(b) for b in range(256)], dtype=np.int16)


def asterisk_ulaw_encode(samples: npt.NDArray[np.int16]) -> bytes:
    return _ENCODE[samples.astype(np.uint16)].tobytes()


def asterisk_ulaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]
