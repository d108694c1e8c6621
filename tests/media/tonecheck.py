"""Reading a tone generator frame by frame, and its cadence as on/off runs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pbxedge.media.dsp import frame_energy
from pbxedge.media.tones import ToneGenerator


def frames(gen: ToneGenerator, count: int, samples: int = 160) -> list[npt.NDArray[np.int16]]:
    out = []
    for _ in range(count):
        frame = gen.read(samples)
        assert frame is not None
        out.append(frame)
    return out


def run_lengths_ms(gen: ToneGenerator, count: int, samples: int = 160) -> list[tuple[bool, int]]:
    """(sounding, milliseconds) runs over *count* frames of *samples* each."""
    step = samples // 8
    runs: list[tuple[bool, int]] = []
    for frame in frames(gen, count, samples):
        sounding = frame_energy(frame) > 0
        if runs and runs[-1][0] == sounding:
            runs[-1] = (sounding, runs[-1][1] + step)
        else:
            runs.append((sounding, step))
    return runs
