"""Measurements on signed-linear audio: silence, the level of one tone, the main frequency.

* :class:`SilenceDetector` is the part of Asterisk's ``main/dsp.c`` that ``Record()`` uses
  (``__ast_dsp_silence_noise``): a frame is silent when the mean of its absolute sample
  values, in integer arithmetic, is below the threshold (``dsp.conf silencethreshold``,
  256 by default); ``total_silence_ms`` counts consecutive silent milliseconds and any
  frame with sound sets it back to 0.
* :class:`ToneDetector` measures one frequency in a block, as a Goertzel filter does
  (a single DFT bin, here at the exact frequency rather than the nearest bin).
* :func:`dominant_frequency` finds the strongest frequency of a recording by FFT.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_SILENCE_THRESHOLD",
    "SilenceDetector",
    "ToneDetector",
    "dominant_frequency",
    "frame_energy",
]

DEFAULT_SILENCE_THRESHOLD = 256
_FULL_SCALE = 32768.0

Samples = npt.NDArray[np.int16]


def frame_energy(samples: Samples) -> int:
    """The mean absolute sample value, truncated as Asterisk's integer division does;
    0 for an empty frame."""
    if len(samples) == 0:
        return 0
    return int(np.abs(samples.astype(np.int64)).sum()) // len(samples)


class SilenceDetector:
    """Consecutive silence and sound in milliseconds over a stream of frames."""

    def __init__(self, threshold: int = DEFAULT_SILENCE_THRESHOLD, rate: int = 8000) -> None:
        if rate < 1000:
            raise ValueError(f"sample rate {rate} is below 1000 Hz")
        self.threshold = threshold
        self.rate = rate
        self.total_silence_ms = 0
        self.total_noise_ms = 0

    def feed(self, samples: Samples) -> bool:
        """Account for one frame; True when it is silent. An empty frame changes nothing
        and is not silent."""
        if len(samples) == 0:
            return False
        ms = len(samples) // (self.rate // 1000)
        if frame_energy(samples) < self.threshold:
            self.total_silence_ms += ms
            self.total_noise_ms = 0
            return True
        self.total_noise_ms += ms
        self.total_silence_ms = 0
        return False

    def reset(self) -> None:
        self.total_silence_ms = 0
        self.total_noise_ms = 0


@lru_cache(maxsize=64)
def _basis(freq: float, rate: int, length: int) -> npt.NDArray[np.complex128]:
    basis: npt.NDArray[np.complex128] = np.exp(-2j * math.pi * freq / rate * np.arange(length))
    return basis


class ToneDetector:
    """The strength of one frequency in a block of samples."""

    def __init__(self, freq: float, rate: int = 8000) -> None:
        if not 0 < freq < rate / 2:
            raise ValueError(f"{freq} Hz is not between 0 and half of {rate} Hz")
        self.freq = freq
        self.rate = rate

    def _bin(self, block: Samples) -> complex:
        return complex(np.dot(block.astype(np.float64), _basis(self.freq, self.rate, len(block))))

    def power(self, block: Samples) -> float:
        """|X(f)|², the Goertzel output."""
        return abs(self._bin(block)) ** 2

    def amplitude(self, block: Samples) -> float:
        """Estimated peak amplitude of a sinusoid at the frequency (2·|X|/N)."""
        if len(block) == 0:
            return 0.0
        return 2.0 * abs(self._bin(block)) / len(block)

    def level_dbfs(self, block: Samples) -> float:
        """That amplitude relative to a full-scale sine, in dB (−inf for none)."""
        amplitude = self.amplitude(block)
        return 20.0 * math.log10(amplitude / _FULL_SCALE) if amplitude > 0 else -math.inf

    def share(self, block: Samples) -> float:
        """The fraction of the block's energy that sits at the frequency (0 to about 1)."""
        energy = float(np.dot(block.astype(np.float64), block.astype(np.float64)))
        if energy == 0.0:
            return 0.0
        return min(1.0, 2.0 * self.power(block) / (len(block) * energy))

    def present(self, block: Samples, *, min_dbfs: float = -40.0, min_share: float = 0.5) -> bool:
        """The tone is there: loud enough, and most of what is heard."""
        return self.level_dbfs(block) >= min_dbfs and self.share(block) >= min_share


def dominant_frequency(samples: Samples, rate: int = 8000) -> float:
    """The strongest frequency in Hz, to a fraction of an FFT bin (Hann window, zero
    padding, Gaussian interpolation of the peak); 0.0 for silence or too few samples."""
    if len(samples) < 3:
        return 0.0
    signal = samples.astype(np.float64)
    signal -= signal.mean()
    if not signal.any():
        return 0.0
    size = 1 << (4 * len(signal) - 1).bit_length()
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), size))
    peak = int(np.argmax(spectrum[1:-1])) + 1
    left, centre, right = (math.log(max(v, 1e-300)) for v in spectrum[peak - 1 : peak + 2])
    curvature = left - 2.0 * centre + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return (peak + offset) * rate / size
