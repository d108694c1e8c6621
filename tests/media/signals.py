"""Test signals and a quality measure for lossy codecs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def tone(freq: float, rate: int, samples: int, amplitude: float = 10000) -> npt.NDArray[np.int16]:
    t = np.arange(samples) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def snr_db(signal: npt.NDArray[np.int16], freq: float, rate: int) -> float:
    """Power of the best-fitting sinusoid at ``freq`` over the power of what is left, on the
    middle half of ``signal`` (so codec and resampler delays do not count as noise)."""
    n = len(signal)
    y = signal[n // 4 : 3 * n // 4].astype(np.float64)
    t = np.arange(len(y)) / rate
    basis = np.stack(
        [np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t), np.ones_like(t)], 1
    )
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    fitted = basis @ coef
    noise = y - fitted
    return float(10 * np.log10(np.var(fitted) / max(np.var(noise), 1e-12)))
