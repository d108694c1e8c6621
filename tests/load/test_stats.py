"""Loss, order, lateness and RFC 3550 jitter of a received stream."""

from __future__ import annotations

import pytest

from pbxedge.load.stats import StreamStats, percentile


def _feed(stats: StreamStats, frames: list[tuple[int, float]]) -> StreamStats:
    for timestamp, arrival in frames:
        stats.add(timestamp, arrival)
    return stats


def test_a_perfect_stream() -> None:
    stats = _feed(StreamStats(), [(ts, 1000.0 + ts) for ts in range(0, 2000, 20)])
    assert (stats.received, stats.expected, stats.lost) == (100, 100, 0)
    assert stats.jitter_ms == 0 and stats.late == stats.reordered == stats.duplicates == 0


def test_loss_counts_gaps_in_the_timestamps() -> None:
    lost = {5, 6, 40, 99}  # the last frame too: it is never expected
    stats = _feed(StreamStats(), [(n * 20, 50.0 + n * 20) for n in range(100) if n not in lost])
    assert stats.expected == 99 and stats.lost == 3
    assert stats.loss_pct == pytest.approx(300 / 99)


def test_reordered_and_duplicated_frames() -> None:
    order = [0, 20, 60, 40, 80, 80, 100]
    stats = _feed(StreamStats(), [(ts, float(i * 20)) for i, ts in enumerate(order)])
    assert stats.reordered == 1 and stats.duplicates == 1
    assert stats.received == 6 and stats.lost == 0


def test_late_frames_are_judged_against_the_fastest_transit() -> None:
    frames = [(0, 10.0), (20, 30.0), (40, 120.0), (60, 70.0)]
    stats = _feed(StreamStats(late_ms=60), frames)
    assert stats.late == 1  # 40 arrived 70 ms behind its time


def test_rfc3550_jitter_converges_to_the_mean_deviation() -> None:
    # Transit alternates 0 / 10 ms: |D| = 10 for every pair, so J -> 10.
    frames = [(n * 20, n * 20 + (10.0 if n % 2 else 0.0)) for n in range(400)]
    assert _feed(StreamStats(), frames).jitter_ms == pytest.approx(10.0, abs=0.01)
    # One step of the estimator: J += (|D| - J) / 16.
    assert _feed(StreamStats(), [(0, 0.0), (20, 36.0)]).jitter_ms == pytest.approx(1.0)


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
