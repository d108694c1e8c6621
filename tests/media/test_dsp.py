"""Silence detection as Record() uses it, the single-tone meter and the frequency finder."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from pbxedge.media.dsp import (
    DEFAULT_SILENCE_THRESHOLD,
    SilenceDetector,
    ToneDetector,
    dominant_frequency,
    frame_energy,
)


def sine(freq: float, amplitude: float, count: int, rate: int = 8000) -> npt.NDArray[np.int16]:
    t = np.arange(count) / rate
    return np.round(amplitude * np.sin(2 * math.pi * freq * t)).astype(np.int16)


def constant(value: int, count: int = 160) -> npt.NDArray[np.int16]:
    return np.full(count, value, dtype=np.int16)


def test_frame_energy_is_the_truncated_mean_of_absolute_values() -> None:
    assert frame_energy(np.array([-3, 3, 2], dtype=np.int16)) == 2  # 8 // 3
    assert frame_energy(np.array([-32768], dtype=np.int16)) == 32768
    assert frame_energy(np.array([], dtype=np.int16)) == 0


def test_threshold_is_strict() -> None:
    det = SilenceDetector()
    assert det.threshold == DEFAULT_SILENCE_THRESHOLD == 256
    assert det.feed(constant(255)) is True
    assert det.feed(constant(-256)) is False


def test_silence_accumulates_in_ms_and_sound_resets_it() -> None:
    det = SilenceDetector()
    for _ in range(50):
        assert det.feed(constant(0))
    assert det.total_silence_ms == 1000 and det.total_noise_ms == 0
    assert not det.feed(sine(1000, 8000, 160))
    assert det.total_silence_ms == 0 and det.total_noise_ms == 20
    det.feed(constant(10, 80))  # a 10 ms frame counts 10 ms
    assert det.total_silence_ms == 10 and det.total_noise_ms == 0
    assert det.feed(np.array([], dtype=np.int16)) is False
    assert det.total_silence_ms == 10
    det.reset()
    assert (det.total_silence_ms, det.total_noise_ms) == (0, 0)


def test_record_style_stop_after_two_seconds_of_silence() -> None:
    """Record(…,silence=2): stop once total silence exceeds 2000 ms."""
    det = SilenceDetector()
    stream = [sine(440, 6000, 160)] * 50 + [constant(3)] * 200
    stopped_at = next(
        i for i, frame in enumerate(stream) if det.feed(frame) and det.total_silence_ms > 2000
    )
    assert stopped_at == 50 + 100  # the 101st silent frame makes 2020 ms


def test_wideband_rate_counts_ms_at_16_khz() -> None:
    det = SilenceDetector(rate=16000)
    det.feed(constant(0, 320))
    assert det.total_silence_ms == 20
    with pytest.raises(ValueError):
        SilenceDetector(rate=999)


def test_tone_detector_measures_level_and_share() -> None:
    det = ToneDetector(1004)
    tone = sine(1004, 16384, 800)
    assert det.amplitude(tone) == pytest.approx(16384, rel=0.01)
    assert det.level_dbfs(tone) == pytest.approx(-6.02, abs=0.1)
    assert det.share(tone) == pytest.approx(1.0, abs=0.02)
    assert det.present(tone)
    other = sine(1400, 16384, 800)
    assert det.share(other) < 0.01 and not det.present(other)
    mixed = (tone.astype(np.int32) + other).astype(np.int16)
    assert det.share(mixed) == pytest.approx(0.5, abs=0.03)
    assert det.power(constant(0, 800)) == 0.0
    assert det.level_dbfs(constant(0, 800)) == -math.inf
    assert det.share(constant(0, 800)) == 0.0
    assert det.amplitude(np.array([], dtype=np.int16)) == 0.0


def test_tone_detector_rejects_impossible_frequencies() -> None:
    for freq in (0, 4000, -5):
        with pytest.raises(ValueError):
            ToneDetector(freq)


@pytest.mark.parametrize("freq", [350.0, 440.0, 1004.0, 1400.3, 3333.3])
def test_dominant_frequency_is_precise(freq: float) -> None:
    assert dominant_frequency(sine(freq, 10000, 8000)) == pytest.approx(freq, abs=0.05)
    assert dominant_frequency(sine(freq, 10000, 800)) == pytest.approx(freq, abs=1.0)


def test_dominant_frequency_of_silence_and_dc() -> None:
    assert dominant_frequency(constant(0)) == 0.0
    assert dominant_frequency(constant(500)) == 0.0
    assert dominant_frequency(np.array([1, 2], dtype=np.int16)) == 0.0
    with_offset = (sine(700, 5000, 4000).astype(np.int32) + 3000).astype(np.int16)
    assert dominant_frequency(with_offset) == pytest.approx(700, abs=0.1)
